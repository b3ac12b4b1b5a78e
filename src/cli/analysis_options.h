#pragma once
// What `lens` and `pca` share: the model with its adapter, the data and the evaluation split, the
// items, the processes; and their common flow.
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

// What the analysis commands read beside their spec (the options their lists leave to them).
struct AnalysisArguments {
  model::ModelSource source;  // --model and --adapter
  std::filesystem::path data_dir, tasks_dir;
  std::filesystem::path eval_split;
  ItemLimitOptions items{100, 0};
  double dist_timeout = 300.0;
  model::ComputeRequest runtime;
};

// The options an analysis command adds itself where its list (analysis::for_each_analysis_option and
// its own for_each_option) names them: --model, --limit, --eval-split, --data-dir and --dist-timeout,
// each with those that follow it; `items_what` says per what the items are counted.
OwnOptions own_analysis_options(CLI::App* command, AnalysisArguments& arguments, const std::string& items_what);

// Completes what every analysis spec takes from the command's own options (spec.task set, and the
// seed, which draws the item sample): the item limit and the evaluation split's items.
template <class Spec>
void fill_analysis_spec(Spec& spec, const AnalysisArguments& arguments) {
  spec.limit = item_limit(arguments.items, spec.bootstrap.seed);
  spec.item_indices = data::evaluation_items_of(arguments.eval_split, spec.task);
}

// What `lens` and `pca` do: joins the processes, reads the protocol, makes the spec with
// make_spec(protocol), checks what needs no model (analysis::check_analysis_run), loads the model, runs
// analyse(group, loaded, protocol, spec) (which may complete the spec from the model) and, on rank 0,
// prints the Markdown table it returns and where it wrote.
template <class MakeSpec, class Analyse>
void run_analysis_command(const AnalysisArguments& arguments, MakeSpec make_spec, Analyse analyse) {
  const model::ProcessRuntime processes = model::join_processes(arguments.runtime, arguments.dist_timeout);
  const data::Protocol protocol =
      data::load_protocol(data::resolve_data_dir(arguments.data_dir), arguments.tasks_dir);
  auto spec = make_spec(protocol);
  analysis::check_analysis_run(spec.batch_size, spec.compare_adapter, spec.out);
  model::LoadedModel loaded =
      model::load_model_for_inference(arguments.source, model::compute_settings(arguments.runtime, processes.device));
  const std::filesystem::path table = analyse(*processes.group, loaded, protocol, spec);
  if (!processes.group->is_main()) return;
  std::printf("%s", io::read_file(table).c_str());
  std::fprintf(stderr, "wrote %s\n", spec.out.c_str());
}

}  // namespace qtalign::cli
