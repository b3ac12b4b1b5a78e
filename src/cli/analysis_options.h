#pragma once
// What `lens` and `pca` share: the model with its adapter and a compare adapter, the data and the
// evaluation split, the items, the output directory, the processes; and their common flow.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "analysis/base_tuned.h"
#include "cli/common.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "io/atomic_file.h"

namespace qtalign::cli {

struct AnalysisArguments {
  model::ModelSource source;  // --model and --adapter
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

// Fills what every analysis spec takes from the shared options (spec.task set): the item limit, the
// evaluation split's items, the batch size, the output and the compare adapter.
template <class Spec>
void fill_analysis_spec(Spec& spec, const AnalysisArguments& arguments) {
  spec.limit = item_limit(arguments.items, arguments.seed);
  spec.item_indices = data::evaluation_items_of(arguments.eval_split, spec.task);
  spec.batch_size = arguments.batch_size;
  spec.out = arguments.out;
  spec.compare_adapter = arguments.compare_adapter_dir;
}

// What `lens` and `pca` do: joins the processes, reads the protocol, makes the spec with
// make_spec(protocol), checks what needs no model (analysis::check_analysis_run), loads the model, runs
// analyse(group, loaded, protocol, spec) (which may complete the spec from the model) and, on rank 0,
// prints the Markdown table it returns and where it wrote.
template <class MakeSpec, class Analyse>
void run_analysis_command(const AnalysisArguments& arguments, MakeSpec make_spec, Analyse analyse) {
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const data::Protocol protocol =
      data::load_protocol(data::resolve_data_dir(arguments.data_dir), arguments.tasks_dir);
  auto spec = make_spec(protocol);
  analysis::check_analysis_run(spec.batch_size, spec.compare_adapter, spec.out);
  model::LoadedModel loaded =
      model::load_model_with_tokenizer(arguments.source, model::compute_settings(arguments.runtime, processes.device));
  const std::filesystem::path table = analyse(*processes.group, loaded, protocol, spec);
  if (!processes.group->is_main()) return;
  std::printf("%s", io::read_file(table).c_str());
  std::fprintf(stderr, "wrote %s\n", spec.out.c_str());
}

}  // namespace qtalign::cli
