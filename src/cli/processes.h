#pragma once
// One process's share of a command started torchrun-style (qtalign launch, torchrun, or RANK,
// WORLD_SIZE, MASTER_ADDR and MASTER_PORT set by hand on several machines).
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <memory>

#include "cli/common.h"
#include "distributed/process_group.h"

namespace qtalign::cli {

struct ProcessRuntime {
  // A group of one without the variables; shared by the stages the study runner runs in its process.
  std::shared_ptr<distributed::ProcessGroup> group;
  at::Device device = at::kCPU;
};

// Applies the runtime options with the machine's cores split among the processes on it (when all
// cores were asked for) and CUDA on the GPU of LOCAL_RANK, then joins the process group, waiting at
// most timeout_seconds for the others.
ProcessRuntime join_processes(RuntimeOptions options, double timeout_seconds);

// The processes of a command: `lent` when it runs as a stage of the study runner (which joined them
// once for all its stages, with the same runtime options; a second join on the same MASTER_PORT
// would fail), else join_processes(options, timeout_seconds).
ProcessRuntime lent_or_joined(const ProcessRuntime* lent, const RuntimeOptions& options, double timeout_seconds);

// Adds --dist-timeout (seconds) to a subcommand whose work join_processes shares.
void add_dist_timeout_option(CLI::App* command, double& timeout_seconds);

}  // namespace qtalign::cli
