#include "stats/paired_tests.h"

#include <gtest/gtest.h>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::stats {
namespace {

TEST(McNemar, SmallCountsMatchTheBinomialTailByHand) {
  // n = 10, k = 2: P(X <= 2) = (1 + 10 + 45) / 1024, doubled.
  EXPECT_NEAR(mcnemar_exact_p(2, 8), 112.0 / 1024.0, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(8, 2), 112.0 / 1024.0, 1e-12);
  // n = 5, k = 0: 2 / 32.
  EXPECT_NEAR(mcnemar_exact_p(0, 5), 0.0625, 1e-12);
  // n = 12, k = 1: 2 (1 + 12) / 4096.
  EXPECT_NEAR(mcnemar_exact_p(1, 11), 26.0 / 4096.0, 1e-12);
  // n = 6, k = 3: 2 (1 + 6 + 15 + 20) / 64 > 1, capped.
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(3, 3), 1.0);
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 0), 1.0);
}

TEST(McNemar, LargeCountsMatchExactRationalArithmetic) {
  // python3: 2 * Fraction(sum(comb(n, i) for i in range(k + 1)), 2**n) with math.comb.
  EXPECT_NEAR(mcnemar_exact_p(400, 460), 0.04416954819458901, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(120, 90), 0.04511408786484073, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(1000, 1100), 0.030720707864242296, 1e-12);
}

TEST(McNemar, RefusesNegativeCounts) {
  EXPECT_NE(testing::error_of([] { mcnemar_exact_p(-1, 3); }).find("negative"), std::string::npos);
}

TEST(McNemar, PairsOnlyItemsBothSystemsSaw) {
  const std::map<int64_t, bool> base = {{0, true}, {1, true}, {2, false}, {3, false}, {4, true}, {9, true}};
  const std::map<int64_t, bool> tuned = {{0, true}, {1, false}, {2, true}, {3, false}, {4, false}, {7, false}};
  const PairedOutcomes outcomes = pair_outcomes(base, tuned);
  EXPECT_EQ(outcomes.both_correct, 1);  // 0
  EXPECT_EQ(outcomes.base_only, 2);     // 1, 4
  EXPECT_EQ(outcomes.tuned_only, 1);    // 2
  EXPECT_EQ(outcomes.both_wrong, 1);    // 3
  EXPECT_EQ(outcomes.pairs(), 5);
}

TEST(Holm, AdjustsInTheGivenOrderAndStaysMonotone) {
  // Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06.
  const std::vector<double> adjusted = holm_adjust({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_NEAR(adjusted[0], 0.03, 1e-15);
  EXPECT_NEAR(adjusted[1], 0.06, 1e-15);
  EXPECT_NEAR(adjusted[2], 0.06, 1e-15);
  EXPECT_NEAR(adjusted[3], 0.02, 1e-15);
  // 0.5 x 2 = 1.0, then 0.6 x 1 raised to 1.0; capped at 1.
  EXPECT_EQ(holm_adjust({0.6, 0.5}), (std::vector<double>{1.0, 1.0}));
  EXPECT_TRUE(holm_adjust({}).empty());
  EXPECT_NE(testing::error_of([] { holm_adjust({0.2, 1.5}); }).find("outside [0, 1]"), std::string::npos);
}

}  // namespace
}  // namespace qtalign::stats
