#include "cli/analysis_options.h"

#include <cstdio>

#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/output_lock.h"

namespace qtalign::cli {

void add_analysis_model_options(CLI::App* command, AnalysisArguments& arguments, const std::string& compare_help) {
  command->add_option("--model", arguments.model_dir, "Hugging Face checkpoint directory")->required();
  command->add_option("--adapter", arguments.adapter_dir, "PEFT LoRA adapter directory to attach");
  command->add_option("--compare-adapter", arguments.compare_adapter_dir, compare_help);
}

void add_analysis_run_options(CLI::App* command, AnalysisArguments& arguments, const std::string& items_what) {
  add_item_limit_options(command, arguments.items, items_what);
  command->add_option("--eval-split", arguments.eval_split,
                      "read only the evaluation items of a split file from `data build`");
  command->add_option("--seed", arguments.seed, "seed of the item sample and the bootstrap")->capture_default_str();
  command->add_option("--batch-size", arguments.batch_size, "prompts per forward pass")->capture_default_str();
  command->add_option("--out", arguments.out, "output directory")->required();
  command->add_option("--data-dir", arguments.data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  add_tasks_dir_option(command, arguments.tasks_dir);
  add_dist_timeout_option(command, arguments.dist_timeout);
  add_runtime_options(command, arguments.runtime);
}

AnalysisSetup join_analysis(const AnalysisArguments& arguments) {
  ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  return {std::move(processes), data::load_protocol(data::resolve_data_dir(arguments.data_dir), arguments.tasks_dir)};
}

std::vector<size_t> evaluation_split_items(const AnalysisArguments& arguments, const std::string& task) {
  if (arguments.eval_split.empty()) return {};
  const data::EvaluationSplit split = data::read_evaluation_split(arguments.eval_split);
  if (split.task != task) fail_at(arguments.eval_split, "is a split of task " + split.task + ", not " + task);
  return split.evaluation_indices;
}

void check_analysis_arguments(const AnalysisArguments& arguments) {
  if (arguments.batch_size < 1) throw Error("--batch-size must be at least 1");
  if (!arguments.compare_adapter_dir.empty() &&
      !std::filesystem::is_regular_file(arguments.compare_adapter_dir / "adapter_config.json"))
    fail_at(arguments.compare_adapter_dir, "is not an adapter directory (no adapter_config.json)");
  io::check_output_directory(arguments.out);
}

model::LoadedModel load_analysis_model(const AnalysisArguments& arguments, const AnalysisSetup& setup) {
  return model::load_model_with_tokenizer({arguments.model_dir, {}, arguments.adapter_dir},
                                          compute_settings(arguments.runtime, setup.processes.device));
}

void print_analysis_summary(const AnalysisSetup& setup, const std::filesystem::path& table,
                            const std::filesystem::path& out) {
  if (!setup.processes.group->is_main()) return;
  std::printf("%s", io::read_file(table).c_str());
  std::fprintf(stderr, "wrote %s\n", out.c_str());
}

}  // namespace qtalign::cli
