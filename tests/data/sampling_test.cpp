#include "data/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "data/protocol.h"
#include "io/error.h"
#include "support/test_support.h"

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

std::vector<TaskItem> labelled_items(const std::vector<std::string>& labels) {
  std::vector<TaskItem> items;
  for (size_t i = 0; i < labels.size(); ++i) items.push_back({i, {}, labels[i], labels[i]});
  return items;
}

std::map<std::string, size_t> label_counts(const std::vector<TaskItem>& items, const std::vector<size_t>& picked) {
  std::map<std::string, size_t> counts;
  for (size_t index : picked) ++counts[items[index].label];
  return counts;
}

TEST(PickTestItems, BalancedSampleHasEqualLabelCountsAndIsSeeded) {
  // 90 items whose labels come in runs (a first-N pick would be all "a"), skewed 60/20/10.
  std::vector<std::string> labels(60, "a");
  labels.insert(labels.end(), 20, "b");
  labels.insert(labels.end(), 10, "c");
  const std::vector<TaskItem> items = labelled_items(labels);
  const std::vector<size_t> picked = pick_test_items(items, {}, {12, ItemPick::balanced, 3}, "t");
  EXPECT_EQ(label_counts(items, picked), (std::map<std::string, size_t>{{"a", 4}, {"b", 4}, {"c", 4}}));
  EXPECT_TRUE(std::is_sorted(picked.begin(), picked.end()));
  EXPECT_EQ(std::set<size_t>(picked.begin(), picked.end()).size(), 12u);
  EXPECT_EQ(picked, pick_test_items(items, {}, {12, ItemPick::balanced, 3}, "t"));
  EXPECT_NE(picked, pick_test_items(items, {}, {12, ItemPick::balanced, 4}, "t"));
  // Remainders go to the first labels by name; a label short of its share leaves the rest to the others.
  EXPECT_EQ(label_counts(items, pick_test_items(items, {}, {14, ItemPick::balanced, 0}, "t")),
            (std::map<std::string, size_t>{{"a", 5}, {"b", 5}, {"c", 4}}));
  EXPECT_EQ(label_counts(items, pick_test_items(items, {}, {50, ItemPick::balanced, 0}, "t")),
            (std::map<std::string, size_t>{{"a", 20}, {"b", 20}, {"c", 10}}));
  // Every item of the labels is drawn sometime: the sample is not a fixed block.
  std::set<size_t> ever;
  for (uint64_t seed = 0; seed < 200; ++seed)
    for (size_t index : pick_test_items(items, {}, {12, ItemPick::balanced, seed}, "t")) ever.insert(index);
  EXPECT_EQ(ever.size(), 90u);
}

std::string error_of_pick(const std::vector<TaskItem>& items, const std::vector<size_t>& candidates) {
  return testing::error_of([&] { pick_test_items(items, candidates, {1, ItemPick::balanced, 0}, "t"); });
}

TEST(PickTestItems, FirstAllCandidatesAndErrors) {
  const std::vector<TaskItem> items = labelled_items({"a", "a", "b", "b", "a", "b"});
  EXPECT_EQ(pick_test_items(items, {}, {3, ItemPick::first, 0}, "t"), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(pick_test_items(items, {}, {0, ItemPick::balanced, 0}, "t"), (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(pick_test_items(items, {5, 1, 3}, {9, ItemPick::balanced, 0}, "t"), (std::vector<size_t>{1, 3, 5}));
  const std::vector<size_t> among = pick_test_items(items, {0, 1, 2, 4, 5}, {2, ItemPick::balanced, 0}, "t");
  EXPECT_EQ(label_counts(items, among), (std::map<std::string, size_t>{{"a", 1}, {"b", 1}}));
  EXPECT_EQ(std::find(among.begin(), among.end(), 3u), among.end());  // not a candidate
  EXPECT_NE(error_of_pick(items, {6}).find("item index 6 is out of range"), std::string::npos);
  EXPECT_NE(error_of_pick(items, {1, 1}).find("requested twice"), std::string::npos);
  EXPECT_THROW(pick_test_items({}, {}, {2, ItemPick::balanced, 0}, "t"), Error);
}

TEST(PickTestItems, ParallelTestSetsGiveTheSameItemsInEveryLanguage) {
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  for (const char* task : {"emotion", "snli"}) {
    const std::vector<TaskItem> english = read_test_set(protocol, task, "en");
    const std::vector<size_t> picked = pick_test_items(english, {}, {30, ItemPick::balanced, 11}, task);
    const std::map<std::string, size_t> counts = label_counts(english, picked);
    ASSERT_EQ(counts.size(), protocol.task(task).labels.size()) << task;
    for (const auto& [label, count] : counts) EXPECT_EQ(count, 30 / counts.size()) << task << " " << label;
    for (const std::string& language : protocol.languages)
      EXPECT_EQ(pick_test_items(read_test_set(protocol, task, language), {}, {30, ItemPick::balanced, 11}, task),
                picked)
          << task << "/" << language;
  }
}

}  // namespace
}  // namespace qtalign::data
