#pragma once
// What every subcommand shares: option checks, the runtime options (threads, device, dtype, 4-bit
// loading), the data options, and one process's share of a command started torchrun-style (qtalign
// launch, torchrun, or RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set by hand).
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "model/compute_settings.h"

namespace qtalign::cli {

// A check of an option's value: a number of at least `minimum`, refused with "must be at least
// <minimum>" (CLI11's own range checks print their bound, a number of 309 digits).
CLI::Validator at_least(int64_t minimum);

// Throws Error when one of `options` was given on `command`: in the combination `why` describes it
// would have no effect, which the user should hear rather than find out from the results.
void refuse_options_without_effect(const CLI::App& command, const std::vector<std::string>& options,
                                   const std::string& why);

// Adds --threads, --device, --dtype, --quantize, --quant-blocksize and --double-quant to a subcommand.
void add_runtime_options(CLI::App* command, model::ComputeRequest& options);

// Adds --data-dir, the benchmark data, to a subcommand.
void add_data_dir_option(CLI::App* command, std::filesystem::path& data_dir);

// Adds --tasks-dir, the directory of task files read beside the study's tasks (every command that
// takes --task names its tasks by it).
void add_tasks_dir_option(CLI::App* command, std::filesystem::path& tasks_dir);

// Parses a command's words ({"eval", "--model", ...}) with the options on `app`, as main parses argv
// (CLI::ParseError for words the options refuse).
void parse_command_words(CLI::App& app, const std::vector<std::string>& words);

struct ProcessRuntime {
  // A group of one without the variables.
  std::shared_ptr<distributed::ProcessGroup> group;
  at::Device device = at::kCPU;
};

// Applies the runtime options with the machine's cores split among the processes on it (when all
// cores were asked for) and CUDA on the GPU of LOCAL_RANK, then joins the process group, waiting at
// most timeout_seconds for the others.
ProcessRuntime join_processes(model::ComputeRequest options, double timeout_seconds);

// Adds --dist-timeout (seconds) to a subcommand whose work join_processes shares.
void add_dist_timeout_option(CLI::App* command, double& timeout_seconds);

}  // namespace qtalign::cli
