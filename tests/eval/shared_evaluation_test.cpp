#include "eval/shared_evaluation.h"

#include <gtest/gtest.h>

#include "distributed/distributed_test_support.h"
#include "eval/eval_test_support.h"
#include "io/json_file.h"

namespace qtalign::eval {
namespace {

// A piece's evaluation with only the counts join_pieces adds up.
LanguageEvaluation counted_piece(std::vector<size_t> indices, int64_t prefix_tokens, int64_t computed_tokens,
                                 int64_t fallbacks, int64_t truncated, double seconds) {
  LanguageEvaluation piece;
  piece.task = "paws";
  piece.language = "ja";
  piece.mode = "prefix-sum";
  piece.labels = {"same", "different"};
  for (const size_t index : indices) {
    ItemResult item;
    item.index = index;
    piece.items.push_back(item);
  }
  piece.prefix_tokens = prefix_tokens;
  piece.computed_tokens = computed_tokens;
  piece.prefix_fallbacks = fallbacks;
  piece.truncated_prompts = truncated;
  piece.seconds = seconds;
  return piece;
}

TEST(JoinPieces, ConcatenatesItemsAndCountsTheSharedPrefixOnce) {
  // Pieces of 2, 1 and 1 items; the last ran no item through the prefix cache (prefix_tokens 0).
  const LanguageEvaluation joined = join_pieces({counted_piece({0, 1}, 100, 160, 1, 0, 1.5),
                                                 counted_piece({2}, 100, 130, 0, 1, 0.5),
                                                 counted_piece({3}, 0, 40, 1, 0, 0.25)});
  ASSERT_EQ(joined.items.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(joined.items[i].index, i);
  EXPECT_EQ(joined.prefix_tokens, 100);
  EXPECT_EQ(joined.computed_tokens, 60 + 30 + 40 + 100);
  EXPECT_EQ(joined.prefix_fallbacks, 2);
  EXPECT_EQ(joined.truncated_prompts, 1);
  EXPECT_DOUBLE_EQ(joined.seconds, 2.25);
  EXPECT_EQ(joined.task, "paws");
  EXPECT_EQ(joined.labels, (std::vector<std::string>{"same", "different"}));
}

// evaluate_pairs on one pair (snli/de, its first 7 items) in pieces of 3 items, with the tiny model.
class SharedEvaluation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new Shared{data::load_protocol(testing::shared_data_dir()),
                         tokenizer::Tokenizer::from_file(testing::qwen_tokenizer_file()), testing::tiny_qwen_model()};
    std::vector<data::TaskItem> items = data::read_test_set(shared_->protocol, "snli", "de");
    items.resize(7);
    shared_->jobs = {PairJob{&shared_->protocol.task("snli"), "de", items, "test-file-hash"}};
    distributed::ProcessGroup alone;
    shared_->uninterrupted = *run(alone, PairSchedule{3, 0, 0}, nullptr).front();
  }
  static void TearDownTestSuite() { delete shared_; }

  // evaluate_pairs over `group` with `schedule` and `state`; counts the pairs it reports finished.
  static std::vector<std::optional<LanguageEvaluation>> run(distributed::ProcessGroup& group,
                                                            const PairSchedule& schedule, const RunState* state,
                                                            int* finished_pairs = nullptr) {
    EvaluationOptions options;
    options.batch_size = 2;
    return evaluate_pairs(group, shared_->model, shared_->tokenizer, shared_->jobs, options, schedule, state,
                          [&](const PairJob&, const LanguageEvaluation&) {
                            if (finished_pairs) ++*finished_pairs;
                          });
  }

  // One evaluation of the pair without interruption.
  static const LanguageEvaluation& uninterrupted() { return shared_->uninterrupted; }

  // An evaluation as two runs must agree on it: everything but the time taken (scores bit for bit).
  static io::Json comparable(const LanguageEvaluation& evaluation) {
    io::Json json = language_evaluation_to_json(evaluation);
    json.erase("seconds");
    return json;
  }

 private:
  struct Shared {
    data::Protocol protocol;
    tokenizer::Tokenizer tokenizer;
    model::Model model;
    std::vector<PairJob> jobs;
    LanguageEvaluation uninterrupted;
  };
  static Shared* shared_;
};
SharedEvaluation::Shared* SharedEvaluation::shared_ = nullptr;

TEST_F(SharedEvaluation, APairStoppedAfterAPieceResumesWithOnlyItsRemainingItems) {
  ASSERT_EQ(uninterrupted().items.size(), 7u);
  testing::TempDir temp;
  const RunState state(temp / "results.json", {{"seed", 0}});
  distributed::ProcessGroup alone;
  int finished_pairs = 0;
  // Stopped once 2 items are reached: the first piece (items 0-2) is done and kept.
  const auto stopped = run(alone, PairSchedule{3, 0, 2}, &state, &finished_pairs);
  EXPECT_FALSE(stopped.front());
  EXPECT_EQ(finished_pairs, 0);
  EXPECT_EQ(state.stored_pairs(), 0u);
  ASSERT_EQ(state.stored_pieces(), 1u);
  // A mark no evaluation writes (a negative prompt length) on a kept item: it survives only if the
  // resumed run reuses the item instead of evaluating it again.
  const std::filesystem::path piece = state.directory() / "snli.de.items-0-3.json";
  io::Json stored = io::read_json_file(piece);
  stored["evaluation"]["items"][0]["prompt_tokens"] = -1;
  io::write_json_file(piece, stored);

  ::testing::internal::CaptureStderr();
  const auto resumed = run(alone, PairSchedule{3, 0, 0}, &state, &finished_pairs);
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(resumed.front());
  EXPECT_EQ(finished_pairs, 1);
  EXPECT_NE(log.find("snli/de: resumed 3 of 7 items from " + state.directory().string() + "; evaluating 4 more"),
            std::string::npos)
      << log;
  // The progress line counts the items evaluated now: the 4 after the kept piece.
  EXPECT_NE(log.find("snli/de (4 of 7 items): 4/4 items"), std::string::npos) << log;
  EXPECT_EQ(resumed.front()->items[0].prompt_tokens, -1);
  LanguageEvaluation unmarked = *resumed.front();
  unmarked.items[0].prompt_tokens = uninterrupted().items[0].prompt_tokens;
  EXPECT_EQ(comparable(unmarked), comparable(uninterrupted()));
  // The finished pair replaced its piece.
  EXPECT_EQ(state.stored_pieces(), 0u);
  EXPECT_EQ(state.stored_pairs(), 1u);
}

TEST_F(SharedEvaluation, PiecesKeptByTwoRanksAreResumedByOne) {
  testing::TempDir temp;
  const RunState state(temp / "results.json", {{"seed", 0}});
  // Two ranks stop once 4 items are reached: pieces 0-2 and 3-5, one each, both kept by rank 0.
  const std::vector<bool> returned = testing::on_every_rank<bool>(2, [&](distributed::ProcessGroup& group) {
    const auto outcome = run(group, PairSchedule{3, 0, 4}, group.is_main() ? &state : nullptr);
    return !outcome.empty() && outcome.front().has_value();
  });
  EXPECT_EQ(returned, (std::vector<bool>{false, false}));
  EXPECT_EQ(state.stored_pieces(), 2u);

  distributed::ProcessGroup alone;
  ::testing::internal::CaptureStderr();
  const auto resumed = run(alone, PairSchedule{3, 0, 0}, &state);
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(resumed.front());
  EXPECT_NE(log.find("snli/de: resumed 6 of 7 items"), std::string::npos) << log;
  EXPECT_EQ(comparable(*resumed.front()), comparable(uninterrupted()));
}

TEST_F(SharedEvaluation, TwoRanksGiveTheEvaluationOfOne) {
  using Outcome = std::optional<LanguageEvaluation>;
  const std::vector<Outcome> by_rank = testing::on_every_rank<Outcome>(2, [&](distributed::ProcessGroup& group) {
    const auto outcome = run(group, PairSchedule{3, 0, 0}, nullptr);
    return outcome.empty() ? std::nullopt : outcome.front();
  });
  ASSERT_TRUE(by_rank[0]);
  EXPECT_FALSE(by_rank[1]);  // only rank 0 returns evaluations
  EXPECT_EQ(comparable(*by_rank[0]), comparable(uninterrupted()));
}

}  // namespace
}  // namespace qtalign::eval
