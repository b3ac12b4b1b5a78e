#include "data/evaluation_split.h"

#include <gtest/gtest.h>

#include <set>

#include "data/data_fixtures.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using testing::error_of;
using fixtures::Json;
using testing::TempDir;

class EvaluationSplitTest : public ::testing::Test {
 protected:
  const Protocol protocol = load_protocol(testing::shared_data_dir());
};

TEST_F(EvaluationSplitTest, SplitsEachLabelInTheAskedProportion) {
  const std::vector<TaskItem> english = read_test_set(protocol, "snli", "en");
  const EvaluationSplit split = split_test_set("snli", english, 0.25, 3);
  EXPECT_EQ(split.task, "snli");
  EXPECT_EQ(split.seed, 3u);
  EXPECT_EQ(split.test_count, 600u);
  EXPECT_EQ(split.evaluation_indices.size(), 150u);  // 50 of each label's 200
  EXPECT_EQ(split.training_indices.size(), 450u);
  std::map<std::string, int> evaluation_labels;
  for (size_t index : split.evaluation_indices) ++evaluation_labels[english[index].label];
  EXPECT_EQ(evaluation_labels, (std::map<std::string, int>{{"contradiction", 50}, {"entailment", 50}, {"neutral", 50}}));
  std::set<size_t> all(split.evaluation_indices.begin(), split.evaluation_indices.end());
  all.insert(split.training_indices.begin(), split.training_indices.end());
  EXPECT_EQ(all.size(), 600u);
  EXPECT_EQ(*all.rbegin(), 599u);
  EXPECT_TRUE(std::is_sorted(split.evaluation_indices.begin(), split.evaluation_indices.end()));
}

TEST_F(EvaluationSplitTest, IsDeterministicPerSeed) {
  const std::vector<TaskItem> english = read_test_set(protocol, "emotion", "en");
  const auto a = split_test_set("emotion", english, 0.5, 0), b = split_test_set("emotion", english, 0.5, 0),
             c = split_test_set("emotion", english, 0.5, 1);
  EXPECT_EQ(a.evaluation_indices, b.evaluation_indices);
  EXPECT_NE(a.evaluation_indices, c.evaluation_indices);
  const auto everything = split_test_set("emotion", english, 1.0, 0);
  EXPECT_EQ(everything.evaluation_indices.size(), 500u);
  EXPECT_TRUE(everything.training_indices.empty());
  EXPECT_TRUE(contains(error_of([&] { split_test_set("emotion", english, 0.0, 0); }), "outside (0, 1]"));
  EXPECT_TRUE(contains(error_of([&] { split_test_set("emotion", english, 1.5, 0); }), "outside (0, 1]"));
}

TEST_F(EvaluationSplitTest, RoundTripsThroughJsonAndRejectsBadFiles) {
  TempDir dir;
  const auto split = split_test_set("paws", read_test_set(protocol, "paws", "en"), 0.5, 9);
  write_evaluation_split(dir / "split.json", split);
  const EvaluationSplit back = read_evaluation_split(dir / "split.json");
  EXPECT_EQ(back.task, "paws");
  EXPECT_EQ(back.seed, 9u);
  EXPECT_EQ(back.test_count, 500u);
  EXPECT_EQ(back.evaluation_indices, split.evaluation_indices);
  EXPECT_EQ(back.training_indices, split.training_indices);

  const auto error_for = [&](const Json& json) {
    io::write_file_atomically(dir / "bad.json", json.dump());
    const std::string message = error_of([&] { read_evaluation_split(dir / "bad.json"); });
    EXPECT_TRUE(contains(message, (dir / "bad.json").string() + ": ")) << message;
    return message;
  };
  const Json good = {{"task", "paws"}, {"seed", 0}, {"test_count", 4}, {"evaluation_indices", {0, 2}}, {"training_indices", {1, 3}}};
  Json out_of_range = good, overlap = good, missing = good, empty = good;
  out_of_range["evaluation_indices"] = {0, 4};
  overlap["training_indices"] = {1, 2};
  missing.erase("training_indices");
  empty["evaluation_indices"] = Json::array();
  EXPECT_TRUE(contains(error_for(out_of_range), "index 4 is out of range for 4 test items"));
  EXPECT_TRUE(contains(error_for(overlap), "index 2 appears twice"));
  EXPECT_TRUE(contains(error_for(missing), "missing field 'training_indices'"));
  EXPECT_TRUE(contains(error_for(empty), "no evaluation indices"));
  Json negative = good, negative_count = good;
  negative["training_indices"] = {1, -3};
  negative_count["test_count"] = -1;
  EXPECT_TRUE(contains(error_for(negative), "field 'training_indices' must hold non-negative integers"));
  EXPECT_TRUE(contains(error_for(negative_count), "field 'test_count' must be a non-negative integer"));
}

TEST_F(EvaluationSplitTest, EvaluationItemsOfASplitAreItsTasksOnly) {
  TempDir dir;
  const auto split = split_test_set("paws", read_test_set(protocol, "paws", "en"), 0.5, 9);
  write_evaluation_split(dir / "split.json", split);
  EXPECT_EQ(evaluation_items_of(dir / "split.json", "paws"), split.evaluation_indices);
  EXPECT_TRUE(evaluation_items_of("", "paws").empty());
  EXPECT_EQ(error_of([&] { evaluation_items_of(dir / "split.json", "snli"); }),
            (dir / "split.json").string() + ": is a split of task paws, not snli");
}

}  // namespace
}  // namespace qtalign::data
