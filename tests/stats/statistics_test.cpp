#include "stats/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "io/error.h"

namespace qtalign::stats {
namespace {

TEST(NormalQuantile, MatchesPublishedValues) {
  // Standard normal tables: z_{0.975} = 1.959963984540054, z_{0.995} = 2.5758293035489004,
  // z_{0.95} = 1.6448536269514722.
  EXPECT_NEAR(normal_quantile_two_sided(0.95), 1.959963984540054, 1e-12);
  EXPECT_NEAR(normal_quantile_two_sided(0.99), 2.5758293035489004, 1e-12);
  EXPECT_NEAR(normal_quantile_two_sided(0.90), 1.6448536269514722, 1e-12);
  EXPECT_THROW(normal_quantile_two_sided(1.0), Error);
  EXPECT_THROW(normal_quantile_two_sided(0.0), Error);
}

TEST(WilsonInterval, EndpointsAreWhereTheScoreTestIsExactlyZ) {
  // The Wilson interval is {p : |p_hat - p| / sqrt(p (1 - p) / n) <= z}; its endpoints make the
  // score statistic equal z, which checks the closed form against its definition.
  const double z = 1.959963984540054;
  for (const auto& [k, n] : std::vector<std::pair<int64_t, int64_t>>{{8, 10}, {1, 10}, {250, 500}, {599, 600}, {37, 120}}) {
    const Estimate interval = wilson_interval(k, n);
    const double p_hat = static_cast<double>(k) / n;
    EXPECT_DOUBLE_EQ(interval.value, p_hat);
    for (double p : {interval.lower, interval.upper})
      EXPECT_NEAR(std::abs(p_hat - p) / std::sqrt(p * (1.0 - p) / n), z, 1e-9) << k << "/" << n;
    EXPECT_LT(interval.lower, p_hat);
    EXPECT_GT(interval.upper, p_hat);
  }
}

TEST(WilsonInterval, MatchesHandComputedValues) {
  // 8 of 10, z = 1.96 (z^2 = 3.8416): centre = (0.8 + 0.19208) / 1.38416 = 0.716738,
  // half = (1.96 / 1.38416) * sqrt(0.016 + 0.009604) = 1.416022 * 0.160012 = 0.226581,
  // so [0.490157, 0.943319]; with z = 1.959964 the values move by < 2e-5.
  const Estimate eight = wilson_interval(8, 10);
  EXPECT_NEAR(eight.lower, 0.490157, 5e-5);
  EXPECT_NEAR(eight.upper, 0.943319, 5e-5);
  // 0 of 10: lower 0 exactly, upper z^2/n / (1 + z^2/n) = 0.38416 / 1.38416 = 0.277540 (the
  // often-quoted 0.2775).
  const Estimate none = wilson_interval(0, 10);
  EXPECT_DOUBLE_EQ(none.lower, 0.0);
  EXPECT_NEAR(none.upper, 0.277540, 5e-5);
  // Symmetric: k of n mirrors n - k of n.
  const Estimate all = wilson_interval(10, 10);
  EXPECT_NEAR(all.lower, 1.0 - none.upper, 1e-12);
  EXPECT_DOUBLE_EQ(all.upper, 1.0);
}

TEST(WilsonInterval, RejectsImpossibleCounts) {
  EXPECT_THROW(wilson_interval(1, 0), Error);
  EXPECT_THROW(wilson_interval(11, 10), Error);
  EXPECT_THROW(wilson_interval(-1, 10), Error);
}

TEST(Bootstrap, ConstantSampleGivesAZeroWidthInterval) {
  const Estimate estimate = bootstrap_mean_interval(std::vector<double>(50, 0.75), 500, 1);
  EXPECT_DOUBLE_EQ(estimate.value, 0.75);
  EXPECT_DOUBLE_EQ(estimate.lower, 0.75);
  EXPECT_DOUBLE_EQ(estimate.upper, 0.75);
}

TEST(Bootstrap, TwoPointSampleReachesBothExtremes) {
  // Resampling {0, 1} gives means 0, 0.5, 1 with probability 1/4, 1/2, 1/4: the 2.5% and 97.5%
  // percentiles of 1000 resample means are 0 and 1 unless fewer than 26 of them are 0 (or 1),
  // which has probability below 1e-20.
  const Estimate estimate = bootstrap_mean_interval({0.0, 1.0}, 1000, 7);
  EXPECT_DOUBLE_EQ(estimate.value, 0.5);
  EXPECT_DOUBLE_EQ(estimate.lower, 0.0);
  EXPECT_DOUBLE_EQ(estimate.upper, 1.0);
}

TEST(Bootstrap, LargeNormalSampleApproachesTheNormalInterval) {
  // For n = 2000 draws the bootstrap distribution of the mean is close to normal with standard
  // error s / sqrt(n), so the percentile interval is mean +- 1.96 s / sqrt(n). With 20000
  // resamples each percentile's Monte Carlo error is about 1% of the half-width.
  std::mt19937_64 generator(42);
  std::normal_distribution<double> normal(3.0, 2.0);
  std::vector<double> sample(2000);
  for (double& value : sample) value = normal(generator);
  double mean = 0.0;
  for (double value : sample) mean += value;
  mean /= sample.size();
  double squares = 0.0;
  for (double value : sample) squares += (value - mean) * (value - mean);
  const double sd = std::sqrt(squares / (sample.size() - 1));
  const double half_width = 1.959964 * sd / std::sqrt(static_cast<double>(sample.size()));

  const Estimate estimate = bootstrap_mean_interval(sample, 20000, 3);
  EXPECT_NEAR(estimate.value, mean, 1e-12);
  EXPECT_NEAR(estimate.lower, mean - half_width, 0.05 * half_width);
  EXPECT_NEAR(estimate.upper, mean + half_width, 0.05 * half_width);
}

TEST(Bootstrap, ColumnsShareTheirResamples) {
  // Column 2 is an affine image (2x + 3) of column 1; with the same resampled rows every
  // percentile maps through the same affine function.
  std::vector<double> first;
  std::vector<double> rows;
  for (int i = 0; i < 40; ++i) {
    const double value = std::sin(i * 1.7) + 0.1 * i;
    first.push_back(value);
    rows.push_back(value);
    rows.push_back(2.0 * value + 3.0);
  }
  const at::Tensor samples = at::tensor(rows, at::kDouble).view({40, 2});
  const std::vector<Estimate> estimates = bootstrap_mean_intervals(samples, 2000, 11);
  ASSERT_EQ(estimates.size(), 2u);
  EXPECT_NEAR(estimates[1].value, 2.0 * estimates[0].value + 3.0, 1e-12);
  EXPECT_NEAR(estimates[1].lower, 2.0 * estimates[0].lower + 3.0, 1e-12);
  EXPECT_NEAR(estimates[1].upper, 2.0 * estimates[0].upper + 3.0, 1e-12);
  // The vector overload resamples identically to the tensor one.
  const Estimate single = bootstrap_mean_interval(first, 2000, 11);
  EXPECT_DOUBLE_EQ(single.lower, estimates[0].lower);
  EXPECT_DOUBLE_EQ(single.upper, estimates[0].upper);
  // A float32 input of the same values gives the same interval up to float rounding.
  const std::vector<Estimate> from_float = bootstrap_mean_intervals(samples.to(at::kFloat), 2000, 11);
  EXPECT_NEAR(from_float[0].lower, estimates[0].lower, 1e-5);
}

TEST(Bootstrap, IsDeterministicPerSeed) {
  std::vector<double> sample;
  for (int i = 0; i < 100; ++i) sample.push_back((i * 37) % 101 / 100.0);
  const Estimate a = bootstrap_mean_interval(sample, 1000, 5);
  const Estimate b = bootstrap_mean_interval(sample, 1000, 5);
  const Estimate c = bootstrap_mean_interval(sample, 1000, 6);
  EXPECT_DOUBLE_EQ(a.lower, b.lower);
  EXPECT_DOUBLE_EQ(a.upper, b.upper);
  EXPECT_TRUE(a.lower != c.lower || a.upper != c.upper);
  EXPECT_LT(a.lower, a.value);
  EXPECT_GT(a.upper, a.value);
}

TEST(Bootstrap, RejectsBadInput) {
  EXPECT_THROW(bootstrap_mean_interval({}, 100, 0), Error);
  EXPECT_THROW(bootstrap_mean_interval({1.0, 2.0}, 0, 0), Error);
  EXPECT_THROW(bootstrap_mean_interval({1.0, std::nan("")}, 100, 0), Error);
  EXPECT_THROW(bootstrap_mean_interval({1.0, 2.0}, 100, 0, 1.5), Error);
  EXPECT_THROW(bootstrap_mean_intervals(at::zeros({2, 2, 2}), 100, 0), Error);
}

TEST(Pearson, ExactLinearRelationsGivePlusOrMinusOne) {
  const at::Tensor x = at::tensor({1.0, 2.0, 4.0, 7.0, 11.0}, at::kDouble);
  EXPECT_NEAR(pearson_correlation(x, 3.0 * x + 2.0), 1.0, 1e-15);
  EXPECT_NEAR(pearson_correlation(x, -0.5 * x + 1.0), -1.0, 1e-15);
}

TEST(Pearson, MatchesAHandComputedValue) {
  // x = 1 2 3 4, y = 1 3 2 4: deviations (-1.5 -0.5 0.5 1.5) and (-1.5 0.5 -0.5 1.5);
  // sum of products 2.25 - 0.25 - 0.25 + 2.25 = 4, sums of squares 5 and 5: r = 4 / 5 = 0.8.
  EXPECT_NEAR(pearson_correlation(at::tensor({1.0, 2.0, 3.0, 4.0}), at::tensor({1.0, 3.0, 2.0, 4.0})),
              0.8, 1e-7);
}

TEST(Pearson, RejectsUndefinedCases) {
  EXPECT_THROW(pearson_correlation(at::ones({5}), at::arange(5)), Error);
  EXPECT_THROW(pearson_correlation(at::arange(5), at::arange(4)), Error);
  EXPECT_THROW(pearson_correlation(at::arange(1), at::arange(1)), Error);
  EXPECT_THROW(pearson_correlation(at::ones({2, 2}), at::ones({2, 2})), Error);
}

TEST(Cosine, MatchesHandComputedValues) {
  // Rows: (1,0)·(0,1) = 0; (1,1)·(1,1) / 2 = 1; (3,4)·(4,3) / 25 = 24 / 25 = 0.96.
  const at::Tensor a = at::tensor({1.0, 0.0, 1.0, 1.0, 3.0, 4.0}).view({3, 2});
  const at::Tensor b = at::tensor({0.0, 1.0, 1.0, 1.0, 4.0, 3.0}).view({3, 2});
  const at::Tensor rows = row_cosine_similarities(a, b);
  ASSERT_EQ(rows.size(0), 3);
  EXPECT_NEAR(rows[0].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(rows[1].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(rows[2].item<double>(), 0.96, 1e-7);
  EXPECT_NEAR(mean_cosine_similarity(a, b), (0.0 + 1.0 + 0.96) / 3.0, 1e-7);
  // Scale does not matter; opposite directions give -1.
  EXPECT_NEAR(mean_cosine_similarity(a, -7.0 * a), -1.0, 1e-12);
}

TEST(Cosine, RejectsMismatchesAndZeroRows) {
  EXPECT_THROW(mean_cosine_similarity(at::ones({3, 2}), at::ones({3, 3})), Error);
  EXPECT_THROW(mean_cosine_similarity(at::ones({3}), at::ones({3})), Error);
  EXPECT_THROW(mean_cosine_similarity(at::zeros({2, 2}), at::ones({2, 2})), Error);
}

}  // namespace
}  // namespace qtalign::stats
