// End to end: `qtalign launch -n 2 --` on a tiny checkpoint with the real Qwen tokenizer. Two processes
// over loopback share eval's (task, language) pairs, or the items of a single pair, and the prompt
// batches of lens and pca, and write the files one process writes.
#include <gtest/gtest.h>

#include <string>

#include "eval/eval_test_support.h"
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

using testing::shell_quote;

// A suite's tiny checkpoint, and commands run on it in one process or launched in two.
class LaunchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    testing::write_tiny_checkpoint(testing::tiny_qwen_model(), *temp_ / "model");
  }
  static void TearDownTestSuite() { delete temp_; }

  static std::string path(const std::string& relative) { return shell_quote((*temp_ / relative).string()); }
  static std::filesystem::path file(const std::string& relative) { return *temp_ / relative; }

  // `qtalign <command>` on the tiny checkpoint, one thread per process, after `launcher` ("" or
  // "launch -n 2 --").
  static testing::CommandResult qtalign(const std::string& launcher, const std::string& command,
                                        const std::string& arguments) {
    return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " " + launcher + " " + command +
                                " --model " + path("model") + " --dtype fp32 --threads 1 --data-dir " +
                                shell_quote(testing::shared_data_dir().string()) + " " + arguments + " 2>&1");
  }

  // A JSON output without what differs between any two runs, nor the command line (--out differs).
  static io::Json comparable(const std::string& relative) {
    io::Json results = eval::without_volatile_fields(io::read_json_file(file(relative)));
    results["provenance"].erase("command_line");
    return results;
  }

 private:
  static testing::TempDir* temp_;
};
testing::TempDir* LaunchTest::temp_ = nullptr;

class LaunchEval : public LaunchTest {
 protected:
  static testing::CommandResult eval(const std::string& launcher, const std::string& arguments) {
    return qtalign(launcher, "eval", "--batch-size 4 " + arguments);
  }
};

class LaunchAnalysis : public LaunchTest {};

TEST_F(LaunchEval, TwoProcessesWriteTheResultsOfOne) {
  const std::string run = "--task all --langs en,zh --limit 6 --seen zh ";
  const testing::CommandResult one = eval("", run + "--out " + path("one/results.json") + " --predictions " +
                                                  path("one/predictions.jsonl"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::CommandResult two = eval("launch -n 2 --", run + "--out " + path("two/results.json") +
                                                                " --predictions " + path("two/predictions.jsonl"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1]"), std::string::npos) << two.output;  // rank 1 evaluated pairs
  EXPECT_EQ(comparable("two/results.json"), comparable("one/results.json"));
  EXPECT_EQ(io::read_file(file("two/predictions.jsonl")), io::read_file(file("one/predictions.jsonl")));
  EXPECT_FALSE(std::filesystem::exists(file("two/results.json.state")));
}

// One pair and two processes: each evaluates a contiguous half of the items, rejoined in order.
TEST_F(LaunchEval, TwoProcessesShareTheItemsOfASinglePair) {
  const std::string run = "--task snli --langs de --limit 7 ";
  ASSERT_EQ(eval("", run + "--out " + path("single/one.json")).exit_code, 0);
  const testing::CommandResult two = eval("launch -n 2 --", run + "--out " + path("single/two.json"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1] snli/de (3 of 7 items): 3/3 items"), std::string::npos) << two.output;
  EXPECT_EQ(comparable("single/two.json"), comparable("single/one.json"));
}

// A shared run stopped after some pairs keeps them (rank 0's state), and the rerun evaluates only the rest.
TEST_F(LaunchEval, AStoppedSharedRunResumes) {
  const std::string run = "--task all --langs en,zh --limit 4 --out " + path("resume/results.json") + " ";
  ASSERT_EQ(eval("", "--task all --langs en,zh --limit 4 --out " + path("resume/one.json")).exit_code, 0);
  const testing::CommandResult first = eval("launch -n 2 --", run + "--max-pairs 3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("stopped after 3 pairs"), std::string::npos) << first.output;
  EXPECT_FALSE(std::filesystem::exists(file("resume/results.json")));
  const testing::CommandResult second = eval("launch -n 2 --", run);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  size_t resumed = 0;
  for (size_t at = second.output.find("resumed from"); at != std::string::npos;
       at = second.output.find("resumed from", at + 1))
    ++resumed;
  EXPECT_EQ(resumed, 3u) << second.output;
  EXPECT_EQ(comparable("resume/results.json"), comparable("resume/one.json"));
}

// A shared run stopped inside a pair keeps its finished pieces (rank 0's state), the rerun evaluates
// only the others, and the files are those of one process evaluating the same pieces.
TEST_F(LaunchEval, AStoppedSharedRunKeepsThePiecesOfAPair) {
  const std::string run = "--task snli --langs de --limit 7 --save-every 2 ";
  ASSERT_EQ(eval("", run + "--out " + path("pieces/one.json") + " --predictions " + path("pieces/one.jsonl")).exit_code,
            0);
  const std::string outputs = "--out " + path("pieces/two.json") + " --predictions " + path("pieces/two.jsonl");
  // Pieces 0-1 and 2-3 reach 3 items, one per rank.
  const testing::CommandResult first = eval("launch -n 2 --", run + outputs + " --max-items 3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(std::filesystem::exists(file("pieces/two.json.state/snli.de.items-0-2.json"))) << first.output;
  EXPECT_TRUE(std::filesystem::exists(file("pieces/two.json.state/snli.de.items-2-4.json"))) << first.output;
  const testing::CommandResult second = eval("launch -n 2 --", run + outputs);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("snli/de: resumed 4 of 7 items"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("[rank 1] snli/de (1 of 7 items): 1/1 items"), std::string::npos) << second.output;
  EXPECT_EQ(comparable("pieces/two.json"), comparable("pieces/one.json"));
  EXPECT_EQ(io::read_file(file("pieces/two.jsonl")), io::read_file(file("pieces/one.jsonl")));
}

// Two languages of several batches each: the batches are shared, and rank 0 sums the distributions
// in batch order and bootstraps as one process does.
TEST_F(LaunchAnalysis, TwoProcessesWriteTheLensOfOne) {
  const std::string run = "--task emotion --langs zh,ja --limit 5 --batch-size 2 --resamples 200 --top-k 3 ";
  const testing::CommandResult one = qtalign("", "lens", run + "--out " + path("lens/one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::CommandResult two = qtalign("launch -n 2 --", "lens", run + "--out " + path("lens/two"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1] lens emotion"), std::string::npos) << two.output;  // rank 1 read batches
  for (const std::string language : {"zh", "ja"}) {
    const io::Json lens = comparable("lens/two/" + language + ".json");
    EXPECT_EQ(lens.at("items").get<int64_t>() + lens.at("dropped_overlap").get<int64_t>(), 5) << language;
    EXPECT_EQ(lens, comparable("lens/one/" + language + ".json")) << language;
    EXPECT_EQ(io::read_file(file("lens/two/" + language + ".csv")),
              io::read_file(file("lens/one/" + language + ".csv")));
  }
  EXPECT_EQ(io::read_json_file(file("lens/two/summary.json")), io::read_json_file(file("lens/one/summary.json")));
  EXPECT_EQ(io::read_file(file("lens/two/summary.md")), io::read_file(file("lens/one/summary.md")));
  EXPECT_TRUE(std::filesystem::exists(file("lens/two/overview_latent.svg")));
}

// Three languages of two batches each: rank 0 gathers every pooled vector and analyses them as one
// process does.
TEST_F(LaunchAnalysis, TwoProcessesWriteTheRepresentationsOfOne) {
  const std::string run = "--task emotion --langs en,de,zh --limit 4 --batch-size 3 --resamples 200 ";
  const testing::CommandResult one = qtalign("", "pca", run + "--out " + path("pca/one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::CommandResult two = qtalign("launch -n 2 --", "pca", run + "--out " + path("pca/two"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("[rank 1] representations emotion"), std::string::npos) << two.output;
  const io::Json representations = comparable("pca/two/representations.json");
  EXPECT_EQ(representations.at("item_indices").size(), 4u);
  EXPECT_EQ(representations, comparable("pca/one/representations.json"));
  for (const char* name : {"cosine.csv", "pair_correlation.csv", "representations.md"})
    EXPECT_EQ(io::read_file(file(std::string("pca/two/") + name)), io::read_file(file(std::string("pca/one/") + name)))
        << name;
  EXPECT_TRUE(std::filesystem::exists(file("pca/two/layer_00.svg")));
}

}  // namespace
}  // namespace qtalign
