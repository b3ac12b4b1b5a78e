#pragma once
// One process's share of a command started torchrun-style (qtalign launch, torchrun, or RANK,
// WORLD_SIZE, MASTER_ADDR and MASTER_PORT set by hand): its threads, its device and the group it joins.
#include <ATen/ATen.h>

#include <memory>

#include "distributed/process_group.h"
#include "model/compute_settings.h"

namespace qtalign::model {

struct ProcessRuntime {
  // A group of one without the variables.
  std::shared_ptr<distributed::ProcessGroup> group;
  at::Device device = at::kCPU;
};

// Applies the runtime options with the machine's cores split among the processes on it (when all
// cores were asked for) and CUDA on the GPU of LOCAL_RANK, then joins the process group, waiting at
// most timeout_seconds for the others (Error for a timeout that is not positive).
ProcessRuntime join_processes(ComputeRequest options, double timeout_seconds);

}  // namespace qtalign::model
