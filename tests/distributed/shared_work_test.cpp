#include "distributed/shared_work.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>

#include "distributed/distributed_test_support.h"
#include "io/error.h"

namespace qtalign::distributed {
namespace {

// Largest first, each to the least-loaded rank: 5 -> r0 (5), 4 -> r1 (4), 3 -> r1 (7), 2 -> r0 (7),
// 1 -> r0 (tie at 7, the lower rank).
TEST(SharedWork, AssignsLargestUnitsFirstToTheLeastLoadedRank) {
  EXPECT_EQ(assign_units({5, 1, 4, 2, 3}, 2), (std::vector<int>{0, 0, 1, 0, 1}));
  EXPECT_EQ(assign_units({5, 1, 4}, 1), (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(assign_units({1, 1}, 4), (std::vector<int>{0, 1}));
}

TEST(SharedWork, SplitsRangesIntoNearEqualContiguousPieces) {
  using Ranges = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(split_range(10, 3), (Ranges{{0, 4}, {4, 7}, {7, 10}}));
  EXPECT_EQ(split_range(2, 5), (Ranges{{0, 1}, {1, 2}}));
  EXPECT_EQ(split_range(6, 1), (Ranges{{0, 6}}));
  EXPECT_EQ(split_range(0, 3), (Ranges{{0, 0}}));
  EXPECT_THROW(split_range(4, 0), Error);
}

// Every rank sees every unit's result once, made by the unit's owner, in rounds of one unit per rank.
TEST(SharedWork, DeliversEveryResultToEveryRank) {
  const std::vector<int64_t> costs = {5, 1, 4, 2, 3};
  const std::vector<int> owner = assign_units(costs, 2);
  const auto seen = testing::on_every_rank<std::vector<std::pair<size_t, std::string>>>(2, [&](ProcessGroup& group) {
    std::vector<std::pair<size_t, std::string>> results;
    run_shared_work(
        group, costs, [&](size_t unit) { return fmt::format("unit {} by rank {}", unit, group.rank()); },
        [&](size_t unit, const std::string& result) { results.emplace_back(unit, result); });
    return results;
  });
  // Rank 0 owns units 0, 1, 3 and rank 1 units 2, 4: rounds {0, 2}, {1, 4}, {3}.
  const std::vector<size_t> order = {0, 2, 1, 4, 3};
  for (const auto& results : seen) {
    ASSERT_EQ(results.size(), costs.size());
    for (size_t i = 0; i < order.size(); ++i) {
      EXPECT_EQ(results[i].first, order[i]);
      EXPECT_EQ(results[i].second, fmt::format("unit {} by rank {}", order[i], owner[order[i]]));
    }
  }
}

TEST(SharedWork, AGroupOfOneRunsTheUnitsInOrder) {
  ProcessGroup single;
  std::vector<size_t> ran, delivered;
  run_shared_work(
      single, {1, 9, 4},
      [&](size_t unit) {
        ran.push_back(unit);
        return std::to_string(unit);
      },
      [&](size_t unit, const std::string& result) {
        EXPECT_EQ(result, std::to_string(unit));
        delivered.push_back(unit);
      });
  EXPECT_EQ(ran, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(delivered, ran);
}

}  // namespace
}  // namespace qtalign::distributed
