#include "distributed/shared_work.h"

#include <algorithm>
#include <numeric>

#include "io/error.h"

namespace qtalign::distributed {

std::vector<int> assign_units(const std::vector<int64_t>& costs, int world_size) {
  std::vector<size_t> order(costs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<int64_t> load(static_cast<size_t>(world_size), 0);
  std::vector<int> owner(costs.size(), 0);
  for (size_t unit : order) {
    const int rank = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[unit] = rank;
    load[static_cast<size_t>(rank)] += costs[unit];
  }
  return owner;
}

void run_shared_work(ProcessGroup& group, const std::vector<int64_t>& costs,
                     const std::function<std::string(size_t)>& work,
                     const std::function<void(size_t, const std::string&)>& on_result) {
  const std::vector<int> owner = assign_units(costs, group.world_size());
  std::vector<std::vector<size_t>> units_of(static_cast<size_t>(group.world_size()));
  for (size_t unit = 0; unit < owner.size(); ++unit) units_of[static_cast<size_t>(owner[unit])].push_back(unit);
  size_t rounds = 0;
  for (const auto& units : units_of) rounds = std::max(rounds, units.size());
  const std::vector<size_t>& mine = units_of[static_cast<size_t>(group.rank())];
  for (size_t round = 0; round < rounds; ++round) {
    if (group.world_size() == 1) {
      on_result(mine[round], work(mine[round]));
      continue;
    }
    const std::string result = round < mine.size() ? work(mine[round]) : std::string();
    const std::vector<std::string> results = group.all_gather_text(result);
    // Every rank delivers the round's units in index order, whichever rank ran them.
    std::vector<std::pair<size_t, int>> finished;
    for (int rank = 0; rank < group.world_size(); ++rank)
      if (round < units_of[static_cast<size_t>(rank)].size())
        finished.emplace_back(units_of[static_cast<size_t>(rank)][round], rank);
    std::sort(finished.begin(), finished.end());
    for (const auto& [unit, rank] : finished) on_result(unit, results[static_cast<size_t>(rank)]);
  }
}

std::vector<std::pair<size_t, size_t>> split_range(size_t count, size_t pieces) {
  if (pieces == 0) throw Error("split_range: at least one piece is needed");
  pieces = std::max<size_t>(1, std::min(pieces, count));
  std::vector<std::pair<size_t, size_t>> ranges;
  size_t begin = 0;
  for (size_t piece = 0; piece < pieces; ++piece) {
    const size_t size = count / pieces + (piece < count % pieces ? 1 : 0);
    ranges.emplace_back(begin, begin + size);
    begin += size;
  }
  return ranges;
}

}  // namespace qtalign::distributed
