#include "model/generate.h"

#include <gtest/gtest.h>

#include "io/error.h"
#include "io/json_file.h"
#include "model/checkpoint.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

// Greedy decoding with the KV cache must pick what the reference picks when it recomputes the
// whole sequence at every step (tests/reference/hf_reference.py generate).
class GreedyGeneration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new testing::TempDir();
    io::write_json_file(*directory_ / "jobs.json",
                        io::Json::array({
                            {"make-checkpoint", "--out", (*directory_ / "model").string(), "--model-type", "qwen2",
                             "--vocab-size", "67", "--heads", "4", "--kv-heads", "2", "--layers", "3", "--seed", "5"},
                            {"generate", "--model", (*directory_ / "model").string(), "--prompt-ids", "3,14,15,9,26",
                             "--max-new-tokens", "12", "--output", (*directory_ / "generated.json").string()},
                        }));
    reference_run_ = new testing::CommandResult(testing::run_command(
        testing::python() + " " +
        testing::shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) + " jobs " +
        testing::shell_quote((*directory_ / "jobs.json").string())));
  }
  static void TearDownTestSuite() {
    delete reference_run_;
    delete directory_;
  }

  void SetUp() override {
    ASSERT_EQ(reference_run_->exit_code, 0) << reference_run_->output;
    model_ = load_model(*directory_ / "model");
    expected_ = io::read_json_file(*directory_ / "generated.json").get<std::vector<int64_t>>();
    ASSERT_EQ(expected_.size(), 12u);
  }

  static testing::TempDir* directory_;
  static testing::CommandResult* reference_run_;
  const std::vector<int64_t> prompt_ = {3, 14, 15, 9, 26};
  Model model_;
  std::vector<int64_t> expected_;
};

testing::TempDir* GreedyGeneration::directory_ = nullptr;
testing::CommandResult* GreedyGeneration::reference_run_ = nullptr;

TEST_F(GreedyGeneration, MatchesTheUncachedReferenceTokenByToken) {
  std::vector<int64_t> streamed;
  const auto generated = generate_greedy(model_, prompt_, {12, {}}, [&](int64_t id) { streamed.push_back(id); });
  EXPECT_EQ(generated, expected_);
  EXPECT_EQ(streamed, expected_);
}

TEST_F(GreedyGeneration, StopsBeforeAStopToken) {
  // The first generated token that did not occur before it: stopping there leaves the ids before it.
  size_t stop_at = 1;
  while (stop_at < expected_.size() &&
         std::find(expected_.begin(), expected_.begin() + stop_at, expected_[stop_at]) != expected_.begin() + stop_at)
    ++stop_at;
  ASSERT_LT(stop_at, expected_.size());
  const auto generated = generate_greedy(model_, prompt_, {12, {999, expected_[stop_at]}});
  EXPECT_EQ(generated, std::vector<int64_t>(expected_.begin(), expected_.begin() + stop_at));
}

TEST_F(GreedyGeneration, StopsAtMaxNewTokensAndAtTheContextLength) {
  EXPECT_EQ(generate_greedy(model_, prompt_, {4, {}}), std::vector<int64_t>(expected_.begin(), expected_.begin() + 4));
  model_.config.max_position_embeddings = 8;  // room for 3 new tokens after the 5-token prompt
  EXPECT_EQ(generate_greedy(model_, prompt_, {12, {}}), std::vector<int64_t>(expected_.begin(), expected_.begin() + 3));
  EXPECT_THROW(generate_greedy(model_, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {2, {}}), Error);
  EXPECT_THROW(generate_greedy(model_, {}, {2, {}}), Error);
}

}  // namespace
}  // namespace qtalign::model
