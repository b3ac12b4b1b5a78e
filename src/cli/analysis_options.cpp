#include "cli/analysis_options.h"

namespace qtalign::cli {

void add_analysis_model_options(CLI::App* command, AnalysisArguments& arguments, const std::string& compare_help) {
  add_model_source_options(command, arguments.source);
  command->add_option("--compare-adapter", arguments.compare_adapter_dir, compare_help);
}

void add_analysis_run_options(CLI::App* command, AnalysisArguments& arguments, const std::string& items_what) {
  add_item_limit_options(command, arguments.items, items_what);
  command->add_option("--eval-split", arguments.eval_split,
                      "read only the evaluation items of a split file from `data build`");
  command->add_option("--seed", arguments.seed, "seed of the item sample and the bootstrap")->capture_default_str();
  command->add_option("--batch-size", arguments.batch_size, "prompts per forward pass")->capture_default_str();
  command->add_option("--out", arguments.out, "output directory")->required();
  add_data_dir_option(command, arguments.data_dir);
  add_tasks_dir_option(command, arguments.tasks_dir);
  add_dist_timeout_option(command, arguments.dist_timeout);
  add_runtime_options(command, arguments.runtime);
}

}  // namespace qtalign::cli
