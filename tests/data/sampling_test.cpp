#include "data/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace qtalign::data {
namespace {

TEST(Sampling, UniformBelowIsTheGeneratorOutputModuloTheBound) {
  // 2^64 mod 8 = 0 and 2^64 mod 3 = 1: no output (but 0 for bound 3) is rejected, so each draw is
  // the raw standard-defined mt19937_64 output reduced modulo the bound.
  std::mt19937_64 generator(42), reference(42);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t raw = reference();
    ASSERT_EQ(uniform_below(generator, 8), raw % 8);
  }
  for (int i = 0; i < 1000; ++i) {
    const uint64_t raw = reference();
    ASSERT_NE(raw, 0u);
    ASSERT_EQ(uniform_below(generator, 3), raw % 3);
  }
  EXPECT_EQ(uniform_below(generator, 1), 0u);
}

TEST(Sampling, MersenneTwisterIsTheStandardOne) {
  // The C++ standard fixes the 10000th output of a default-constructed mt19937_64.
  std::mt19937_64 generator;
  generator.discard(9999);
  EXPECT_EQ(generator(), 9981545732273789042ULL);
}

TEST(Sampling, UniformBelowIsUniform) {
  std::mt19937_64 generator(7);
  std::vector<int> counts(10, 0);
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) ++counts[uniform_below(generator, 10)];
  double chi_square = 0;
  for (int count : counts) chi_square += (count - draws / 10.0) * (count - draws / 10.0) / (draws / 10.0);
  EXPECT_LT(chi_square, 27.9);  // the 0.999 quantile with 9 degrees of freedom
}

TEST(Sampling, ShuffleIsASeededPermutation) {
  std::vector<size_t> a(100), b(100), c(100);
  std::iota(a.begin(), a.end(), size_t{0});
  b = a;
  c = a;
  std::mt19937_64 first(5), second(5), third(6);
  shuffle_indices(a, first);
  shuffle_indices(b, second);
  shuffle_indices(c, third);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<size_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(a, sorted);
}

TEST(Sampling, SampleWithoutReplacementGivesDistinctPositions) {
  std::mt19937_64 generator(1);
  const auto sample = sample_without_replacement(1000, 300, generator);
  ASSERT_EQ(sample.size(), 300u);
  const std::set<size_t> distinct(sample.begin(), sample.end());
  EXPECT_EQ(distinct.size(), 300u);
  EXPECT_LT(*distinct.rbegin(), 1000u);
  const auto everything = sample_without_replacement(50, 50, generator);
  EXPECT_EQ(std::set<size_t>(everything.begin(), everything.end()).size(), 50u);
  EXPECT_TRUE(sample_without_replacement(10, 0, generator).empty());
  EXPECT_THROW(sample_without_replacement(10, 11, generator), std::invalid_argument);
  // Every position is about equally likely to be drawn.
  std::vector<int> hits(10, 0);
  for (int round = 0; round < 20000; ++round)
    for (size_t position : sample_without_replacement(10, 3, generator)) ++hits[position];
  for (int count : hits) EXPECT_NEAR(count, 6000, 300);
}

TEST(Sampling, SplitEvenlyGivesTheRemainderToTheFirstParts) {
  EXPECT_EQ(split_evenly(10000, 2), (std::vector<size_t>{5000, 5000}));
  EXPECT_EQ(split_evenly(10000, 3), (std::vector<size_t>{3334, 3333, 3333}));
  EXPECT_EQ(split_evenly(11, 4), (std::vector<size_t>{3, 3, 3, 2}));
  EXPECT_EQ(split_evenly(2, 3), (std::vector<size_t>{1, 1, 0}));
  EXPECT_THROW(split_evenly(5, 0), std::invalid_argument);
}

TEST(Sampling, SeededGeneratorsDependOnSeedAndStreamName) {
  auto a = seeded_generator(0, "zh"), b = seeded_generator(0, "zh"), c = seeded_generator(0, "de"),
       d = seeded_generator(1, "zh");
  const uint64_t first = a();
  EXPECT_EQ(first, b());
  EXPECT_NE(first, c());
  EXPECT_NE(first, d());
}

}  // namespace
}  // namespace qtalign::data
