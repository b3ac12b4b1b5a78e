#include "eval/scoring.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::eval {
namespace {

TEST(ScoringMode, ParsesAndNamesBothModes) {
  EXPECT_EQ(parse_scoring_mode("prefix-sum"), ScoringMode::prefix_sum);
  EXPECT_EQ(parse_scoring_mode("sequence"), ScoringMode::sequence);
  EXPECT_EQ(scoring_mode_name(ScoringMode::prefix_sum), "prefix-sum");
  EXPECT_EQ(scoring_mode_name(ScoringMode::sequence), "sequence");
  EXPECT_THROW(parse_scoring_mode("greedy"), Error);
}

TEST(PrefixSumScores, SumsEachLabelsCandidatesPerRow) {
  // Two constructed next-token distributions over a vocabulary of 6.
  const at::Tensor probabilities = at::tensor({0.10, 0.20, 0.05, 0.30, 0.25, 0.10,  //
                                               0.00, 0.50, 0.10, 0.10, 0.00, 0.30},
                                              at::kFloat)
                                       .view({2, 6});
  const at::Tensor sums = prefix_sum_scores(probabilities, {{1, 2}, {3, 5}, {0}});
  ASSERT_EQ(sums.sizes(), (at::IntArrayRef{2, 3}));
  EXPECT_EQ(sums.scalar_type(), at::kDouble);
  EXPECT_NEAR(sums[0][0].item<double>(), 0.25, 1e-7);
  EXPECT_NEAR(sums[0][1].item<double>(), 0.40, 1e-7);
  EXPECT_NEAR(sums[0][2].item<double>(), 0.10, 1e-7);
  EXPECT_NEAR(sums[1][0].item<double>(), 0.60, 1e-7);
  EXPECT_NEAR(sums[1][1].item<double>(), 0.40, 1e-7);
  EXPECT_NEAR(sums[1][2].item<double>(), 0.00, 1e-7);
}

TEST(PrefixSumScores, RejectsIdsOutsideTheVocabulary) {
  const at::Tensor probabilities = at::full({1, 4}, 0.25, at::kFloat);
  EXPECT_THROW(prefix_sum_scores(probabilities, {{0}, {4}}), Error);
  EXPECT_THROW(prefix_sum_scores(probabilities, {{-1}}), Error);
}

TEST(ChooseLabel, TakesTheLargestScoreWithoutDrawing) {
  std::mt19937_64 generator(5);
  const std::mt19937_64 untouched = generator;
  EXPECT_EQ(choose_label({0.2, 0.7, 0.1}, generator), 1u);
  EXPECT_EQ(choose_label({-3.0, -1.5, -2.0}, generator), 1u);
  EXPECT_EQ(choose_label({0.5}, generator), 0u);
  EXPECT_EQ(generator, untouched);
}

TEST(ChooseLabel, BreaksExactTiesAtRandomAmongTheTiedOnly) {
  int first = 0, third = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    std::mt19937_64 generator = tie_break_generator(seed, "snli", "en", 3);
    const size_t choice = choose_label({0.4, 0.2, 0.4}, generator);
    ASSERT_TRUE(choice == 0 || choice == 2) << choice;
    (choice == 0 ? first : third)++;
  }
  // Both tied labels are chosen about half the time (400 draws: 200 +- 3 standard deviations of 10).
  EXPECT_GT(first, 170);
  EXPECT_GT(third, 170);
}

TEST(ChooseLabel, TieBreakingIsReproduciblePerItem) {
  const std::vector<double> tied{0.5, 0.5};
  std::vector<size_t> choices_a, choices_b;
  for (size_t item = 0; item < 64; ++item) {
    std::mt19937_64 a = tie_break_generator(11, "paws", "de", item);
    std::mt19937_64 b = tie_break_generator(11, "paws", "de", item);
    choices_a.push_back(choose_label(tied, a));
    choices_b.push_back(choose_label(tied, b));
  }
  EXPECT_EQ(choices_a, choices_b);
  // Items (and seeds) get different draws, so not every item resolves the same way.
  EXPECT_NE(std::count(choices_a.begin(), choices_a.end(), 0u), 0);
  EXPECT_NE(std::count(choices_a.begin(), choices_a.end(), 1u), 0);
}

TEST(ChooseLabel, RejectsNoScoresAndNaN) {
  std::mt19937_64 generator(1);
  EXPECT_THROW(choose_label({}, generator), Error);
  EXPECT_THROW(choose_label({0.1, std::nan("")}, generator), Error);
}

}  // namespace
}  // namespace qtalign::eval
