// End to end: `qtalign launch -n 2 -- eval` on a tiny checkpoint with the real Qwen tokenizer. Two
// processes over loopback share the (task, language) pairs, or the items of a single pair, and write
// the results file one process writes.
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

class LaunchEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    testing::write_tiny_checkpoint(testing::tiny_qwen_model(), *temp_ / "model");
  }
  static void TearDownTestSuite() { delete temp_; }

  static std::string path(const std::string& relative) { return shell_quote((*temp_ / relative).string()); }
  static std::filesystem::path file(const std::string& relative) { return *temp_ / relative; }

  // `qtalign eval` on the tiny checkpoint, one thread per process, after `launcher` ("" or "launch -n 2 --").
  static testing::CommandResult eval(const std::string& launcher, const std::string& arguments) {
    return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " " + launcher + " eval --model " +
                                path("model") + " --dtype fp32 --threads 1 --batch-size 4 --data-dir " +
                                shell_quote(testing::shared_data_dir().string()) + " " + arguments + " 2>&1");
  }

  // A results file without what differs between any two runs, nor the command line (--out differs).
  static io::Json comparable(const std::string& relative) {
    io::Json results = eval::without_volatile_fields(io::read_json_file(file(relative)));
    results["provenance"].erase("command_line");
    return results;
  }

 private:
  static testing::TempDir* temp_;
};
testing::TempDir* LaunchEval::temp_ = nullptr;

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
  EXPECT_NE(two.output.find("part 2/2"), std::string::npos) << two.output;
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

}  // namespace
}  // namespace qtalign
