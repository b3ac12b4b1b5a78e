#include "cli/analysis_options.h"

namespace qtalign::cli {

OwnOptions own_analysis_options(CLI::App* command, AnalysisArguments& arguments, const std::string& items_what) {
  return {{"--model", [command, &arguments] { add_model_source_options(command, arguments.source); }},
          {"--limit", [command, &arguments, items_what] { add_item_limit_options(command, arguments.items, items_what); }},
          {"--eval-split",
           [command, &arguments] {
             command->add_option("--eval-split", arguments.eval_split,
                                 "read only the evaluation items of a split file from `data build`");
           }},
          {"--data-dir",
           [command, &arguments] {
             add_data_dir_option(command, arguments.data_dir);
             add_tasks_dir_option(command, arguments.tasks_dir);
           }},
          {"--dist-timeout",
           [command, &arguments] {
             add_dist_timeout_option(command, arguments.dist_timeout);
             add_runtime_options(command, arguments.runtime);
           }}};
}

}  // namespace qtalign::cli
