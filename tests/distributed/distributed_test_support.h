#pragma once
// Process groups of several ranks inside one test process: each rank joins from its own thread over
// loopback, as separate processes would.
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "distributed/process_group.h"

namespace qtalign::testing {

// Runs body(group) for every rank of a fresh group of `world_size` on its own thread and returns what
// each returned, by rank (rethrowing the first rank's exception, if any).
template <typename Result>
std::vector<Result> on_every_rank(int world_size, const std::function<Result(distributed::ProcessGroup&)>& body) {
  const int port = distributed::free_loopback_port();
  std::vector<std::future<Result>> ranks;
  for (int rank = 0; rank < world_size; ++rank)
    ranks.push_back(std::async(std::launch::async, [=] {
      distributed::DistributedEnv env;
      env.rank = rank;
      env.world_size = world_size;
      env.master_port = port;
      const std::unique_ptr<distributed::ProcessGroup> group =
          distributed::ProcessGroup::join(env, at::kCPU, std::chrono::seconds(20));
      return body(*group);
    }));
  std::vector<Result> results;
  for (auto& rank : ranks) results.push_back(rank.get());
  return results;
}

}  // namespace qtalign::testing
