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
#include "data/data_dir.h"
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
  model::ComputeRequest runtime;
};

// Adds --model, --adapter and --compare-adapter (its help: `compare_help`) to a command.
void add_analysis_model_options(CLI::App* command, AnalysisArguments& arguments, const std::string& compare_help);

// Adds --limit/--first (`items_what` says per what), --eval-split, --seed, --batch-size, --out,
// --data-dir, --dist-timeout and the runtime options to a command.
void add_analysis_run_options(CLI::App* command, AnalysisArguments& arguments, const std::string& items_what);

// The evaluation items of --eval-split (none without it); throws Error naming the file when it splits
// another task than `task`.
std::vector<size_t> evaluation_split_items(const AnalysisArguments& arguments, const std::string& task);

// Fills what every analysis spec takes from the shared options (spec.task set): the item limit, the
// evaluation split's items, the batch size, the output and the compare adapter.
template <class Spec>
void fill_analysis_spec(Spec& spec, const AnalysisArguments& arguments) {
  spec.limit = item_limit(arguments.items, arguments.seed);
  spec.item_indices = evaluation_split_items(arguments, spec.task);
  spec.batch_size = arguments.batch_size;
  spec.out = arguments.out;
  spec.compare_adapter = arguments.compare_adapter_dir;
}

// Checks what needs no model, so that a mistake fails before minutes of loading and compute:
// --batch-size, the compare adapter's adapter_config.json, and that --out can be created and written.
void check_analysis_arguments(const AnalysisArguments& arguments);

// Loads the model, its tokenizer and --adapter with the runtime options on `device`.
model::LoadedModel load_analysis_model(const AnalysisArguments& arguments, at::Device device);

// On rank 0, prints the Markdown table an analysis returned and a line naming where it wrote.
void print_analysis_summary(const distributed::ProcessGroup& group, const std::filesystem::path& table,
                            const std::filesystem::path& out);

// What `lens` and `pca` do: joins the processes, reads the protocol, makes the spec with
// make_spec(protocol) (checked before the model loads), loads the model, runs
// analyse(group, loaded, protocol, spec) (which may complete the spec from the model) and prints the
// table it returns.
template <class MakeSpec, class Analyse>
void run_analysis_command(const AnalysisArguments& arguments, MakeSpec make_spec, Analyse analyse) {
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const data::Protocol protocol =
      data::load_protocol(data::resolve_data_dir(arguments.data_dir), arguments.tasks_dir);
  auto spec = make_spec(protocol);
  model::LoadedModel loaded = load_analysis_model(arguments, processes.device);
  const std::filesystem::path table = analyse(*processes.group, loaded, protocol, spec);
  print_analysis_summary(*processes.group, table, spec.out);
}

}  // namespace qtalign::cli
