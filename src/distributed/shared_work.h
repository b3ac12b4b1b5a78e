#pragma once
// Work shared over a process group (evaluation pieces, analysis prompt batches): units with estimated costs
// are assigned to ranks deterministically, run in rounds of one unit per rank, and after each round
// every finished unit's result travels to every rank, so rank 0 can store progress as it goes and a
// rerun resumes from what it stored. A group of one runs the units in order, with no collectives.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "distributed/process_group.h"

namespace qtalign::distributed {

// The rank that runs each unit: units by decreasing cost (ties by index) each go to the rank with the
// least cost so far (ties to the lowest rank), so every rank computes the same assignment.
std::vector<int> assign_units(const std::vector<int64_t>& costs, int world_size);

// Runs work(unit) for this rank's units (in index order) and calls on_result(unit, result) on every
// rank for every unit: after each round, for that round's units in index order. Collective failures
// (a rank died or stalled) throw Error naming the rank.
void run_shared_work(ProcessGroup& group, const std::vector<int64_t>& costs,
                     const std::function<std::string(size_t)>& work,
                     const std::function<void(size_t, const std::string&)>& on_result);

// `count` items cut into `pieces` contiguous [begin, end) ranges whose sizes differ by at most one
// (earlier ranges are the longer); fewer ranges when there are fewer items than pieces.
std::vector<std::pair<size_t, size_t>> split_range(size_t count, size_t pieces);

}  // namespace qtalign::distributed
