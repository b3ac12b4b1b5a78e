#include "eval/run_state.h"

#include <gtest/gtest.h>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::eval {
namespace {

LanguageEvaluation example(const std::string& language) {
  LanguageEvaluation evaluation;
  evaluation.task = "snli";
  evaluation.language = language;
  evaluation.mode = "sequence";
  evaluation.labels = {"entailment", "neutral", "contradiction"};
  evaluation.prefix_tokens = 321;
  evaluation.prefix_fallbacks = 2;
  evaluation.computed_tokens = 4567;
  evaluation.seconds = 1.25;
  for (size_t i = 0; i < 3; ++i) {
    ItemResult item;
    item.index = 10 + i;
    item.answer = "蕴含";
    item.label = "entailment";
    item.prediction = i == 1 ? "neutral" : "entailment";
    // Values that need all 17 significant digits to round-trip.
    item.scores = {-1.0 / 3.0 - static_cast<double>(i), -2.718281828459045, -0.1 * static_cast<double>(i + 1)};
    item.cached = i != 2;
    item.prompt_tokens = 400 + static_cast<int64_t>(i);
    evaluation.items.push_back(item);
  }
  return evaluation;
}

void expect_same(const LanguageEvaluation& a, const LanguageEvaluation& b) {
  EXPECT_EQ(language_evaluation_to_json(a), language_evaluation_to_json(b));
  ASSERT_EQ(a.items.size(), b.items.size());
  for (size_t i = 0; i < a.items.size(); ++i) EXPECT_EQ(a.items[i].scores, b.items[i].scores);  // bit-exact
}

TEST(RunState, StoresAndLoadsFinishedPairsExactly) {
  testing::TempDir temp;
  const io::Json settings = {{"mode", "sequence"}, {"seed", 3}};
  const RunState state(temp / "results.json", settings);
  EXPECT_EQ(state.directory(), temp / "results.json.state");
  EXPECT_FALSE(state.load("snli", "zh", "hash-a"));
  state.store(example("zh"), "hash-a");

  const RunState reopened(temp / "results.json", settings);
  const auto loaded = reopened.load("snli", "zh", "hash-a");
  ASSERT_TRUE(loaded);
  expect_same(*loaded, example("zh"));
  EXPECT_FALSE(reopened.load("snli", "de", "hash-a"));
  // A changed test file invalidates its stored pair.
  EXPECT_FALSE(reopened.load("snli", "zh", "hash-b"));
}

TEST(RunState, RefusesARunWithOtherSettingsOnceAPairIsFinished) {
  testing::TempDir temp;
  {
    const RunState state(temp / "r.json", {{"mode", "sequence"}, {"seed", 3}});
    state.store(example("zh"), "h");
  }
  const std::string message =
      testing::error_of([&] { const RunState state(temp / "r.json", {{"mode", "prefix-sum"}, {"seed", 3}}); });
  EXPECT_NE(message.find("r.json.state: holds 1 finished pair(s) of an interrupted run with other settings "
                         "(/mode: stored \"sequence\", now \"prefix-sum\")"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--restart"), std::string::npos) << message;
}

TEST(RunState, AFailedStartWithoutFinishedPairsDoesNotBlockOtherSettings) {
  testing::TempDir temp;
  { const RunState state(temp / "r.json", {{"mode", "sequence"}, {"seed", 3}}); }
  const RunState changed(temp / "r.json", {{"mode", "prefix-sum"}, {"seed", 3}});
  EXPECT_EQ(changed.stored_pairs(), 0u);
  changed.store(example("zh"), "h");
  // The new settings are the ones recorded now.
  EXPECT_NO_THROW(RunState(temp / "r.json", {{"mode", "prefix-sum"}, {"seed", 3}}));
  EXPECT_THROW(RunState(temp / "r.json", {{"mode", "sequence"}, {"seed", 3}}), Error);
}

TEST(RunState, StoresPiecesOfAPairUntilThePairIsStored) {
  testing::TempDir temp;
  const io::Json settings = {{"seed", 1}};
  const RunState state(temp / "r.json", settings);
  LanguageEvaluation first = example("zh"), second = example("zh");
  first.items.resize(2);
  second.items.erase(second.items.begin(), second.items.begin() + 2);
  state.store_piece({3, second}, "h");
  state.store_piece({0, first}, "h");
  state.store_piece({0, example("de")}, "h");
  EXPECT_EQ(state.stored_pairs(), 0u);
  EXPECT_EQ(state.stored_pieces(), 3u);
  EXPECT_TRUE(std::filesystem::exists(state.directory() / "snli.zh.items-3-4.json"));

  const RunState reopened(temp / "r.json", settings);
  const std::vector<PairPiece> pieces = reopened.load_pieces("snli", "zh", "h");
  ASSERT_EQ(pieces.size(), 2u);  // in item order, the other language's piece left out
  EXPECT_EQ(pieces[0].begin, 0u);
  EXPECT_EQ(pieces[0].end(), 2u);
  expect_same(pieces[0].evaluation, first);
  EXPECT_EQ(pieces[1].begin, 3u);
  expect_same(pieces[1].evaluation, second);
  // A changed test file invalidates its pieces.
  EXPECT_TRUE(reopened.load_pieces("snli", "zh", "other").empty());

  // The finished pair replaces its pieces; the other pair's piece stays.
  reopened.store(example("zh"), "h");
  EXPECT_TRUE(reopened.load_pieces("snli", "zh", "h").empty());
  EXPECT_EQ(reopened.stored_pairs(), 1u);
  EXPECT_EQ(reopened.stored_pieces(), 1u);
  EXPECT_EQ(reopened.load_pieces("snli", "de", "h").size(), 1u);
}

TEST(RunState, RefusesARunWithOtherSettingsOnceAPieceIsFinished) {
  testing::TempDir temp;
  {
    const RunState state(temp / "r.json", {{"seed", 3}});
    state.store_piece({0, example("zh")}, "h");
  }
  const std::string message = testing::error_of([&] { const RunState state(temp / "r.json", {{"seed", 4}}); });
  EXPECT_NE(message.find("holds 1 finished piece(s) of unfinished pairs of an interrupted run with other settings "
                         "(/seed: stored 3, now 4)"),
            std::string::npos)
      << message;
}

TEST(RunState, RemoveDeletesTheStateDirectory) {
  testing::TempDir temp;
  const RunState state(temp / "r.json", {{"seed", 1}});
  state.store(example("en"), "h");
  ASSERT_TRUE(std::filesystem::exists(state.directory()));
  state.remove();
  EXPECT_FALSE(std::filesystem::exists(state.directory()));
}

TEST(RunState, RejectsAMalformedPairFile) {
  testing::TempDir temp;
  const RunState state(temp / "r.json", {{"seed", 1}});
  io::Json stored = {{"test_file_sha1", "h"}, {"evaluation", language_evaluation_to_json(example("en"))}};
  stored["evaluation"]["items"][0]["scores"] = {0.5};  // one score for three labels
  io::write_json_file(state.directory() / "snli.en.json", stored);
  EXPECT_THROW(state.load("snli", "en", "h"), Error);
}

}  // namespace
}  // namespace qtalign::eval
