#pragma once
// What `lens` and `pca` share: the model with its adapter and a compare adapter, the data and the
// evaluation split, the items, the output directory, the processes; and the steps around their
// analysis (checks before the model loads, the load, the printed summary).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/common.h"
#include "cli/item_limit_options.h"
#include "cli/processes.h"
#include "data/protocol.h"
#include "model/loaded_model.h"

namespace qtalign::cli {

struct AnalysisArguments {
  std::filesystem::path model_dir;
  std::filesystem::path adapter_dir;
  std::filesystem::path compare_adapter_dir;
  std::filesystem::path data_dir, tasks_dir;
  std::filesystem::path eval_split;
  std::filesystem::path out;
  std::string task = "emotion";
  ItemLimitOptions items{100, 0};
  int64_t batch_size = 8;
  uint64_t seed = 0;
  double dist_timeout = 300.0;
  RuntimeOptions runtime;
};

// Adds --model, --adapter and --compare-adapter (its help: `compare_help`) to a command.
void add_analysis_model_options(CLI::App* command, AnalysisArguments& arguments, const std::string& compare_help);

// Adds --limit/--first (`items_what` says per what), --eval-split, --seed, --batch-size, --out,
// --data-dir, --dist-timeout and the runtime options to a command.
void add_analysis_run_options(CLI::App* command, AnalysisArguments& arguments, const std::string& items_what);

// An analysis command's processes and protocol, joined and read before anything else.
struct AnalysisSetup {
  ProcessRuntime processes;
  data::Protocol protocol;
};
AnalysisSetup join_analysis(const AnalysisArguments& arguments);

// The evaluation items of --eval-split (none without it); throws Error naming the file when it splits
// another task than `task`.
std::vector<size_t> evaluation_split_items(const AnalysisArguments& arguments, const std::string& task);

// Checks what needs no model, so that a mistake fails before minutes of loading and compute:
// --batch-size, the compare adapter's adapter_config.json, and that --out can be created and written.
void check_analysis_arguments(const AnalysisArguments& arguments);

// Loads the model, its tokenizer and --adapter with the runtime options on this process's device.
model::LoadedModel load_analysis_model(const AnalysisArguments& arguments, const AnalysisSetup& setup);

// On rank 0, prints the Markdown table an analysis returned and a line naming where it wrote.
void print_analysis_summary(const AnalysisSetup& setup, const std::filesystem::path& table,
                            const std::filesystem::path& out);

}  // namespace qtalign::cli
