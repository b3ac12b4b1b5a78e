#pragma once
// Each subcommand adds itself to the program here; its file binds the options its spec lists (its
// for_each_option, beside the spec in the library), calls the library and prints.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "eval/evaluation_run.h"
#include "train/training_run.h"

namespace qtalign::cli {

// qtalign data build|show|check (src/cli/data_command.cpp).
void add_data_command(CLI::App& app);

// qtalign eval (src/cli/eval_command.cpp).
void add_eval_command(CLI::App& app);

// The spec an `eval` argument list ({"eval", "--model", ...}, as eval::command_line renders one) asks
// for, parsed with the command's options: the device as --device names it, the dtype resolved on it as
// the command resolves it. Throws CLI::ParseError for a list the command refuses, Error for bad values.
eval::EvaluationSpec parse_eval_spec(const std::vector<std::string>& arguments);

// qtalign compare (src/cli/compare_command.cpp).
void add_compare_command(CLI::App& app);

// qtalign train (src/cli/train_command.cpp).
void add_train_command(CLI::App& app);

// The spec a `train` argument list ({"train", "--model", ...}) asks for, read by the train command's
// own options without running it, on the device it names; throws Error for a list they refuse.
train::TrainingSpec parse_train_arguments(const std::vector<std::string>& arguments);

// qtalign merge (src/cli/merge_command.cpp).
void add_merge_command(CLI::App& app);

// qtalign launch (src/cli/launch_command.cpp).
void add_launch_command(CLI::App& app);

// qtalign lens (src/cli/lens_command.cpp).
void add_lens_command(CLI::App& app);

// qtalign pca (src/cli/pca_command.cpp).
void add_pca_command(CLI::App& app);

// qtalign run (src/cli/study_commands.cpp).
void add_run_command(CLI::App& app);

// qtalign study (src/cli/study_commands.cpp).
void add_study_command(CLI::App& app);

// qtalign generate (src/cli/generate_command.cpp).
void add_generate_command(CLI::App& app);

// qtalign task check|new|export (src/cli/task_command.cpp).
void add_task_command(CLI::App& app);

// qtalign init-model (src/cli/init_model_command.cpp).
void add_init_model_command(CLI::App& app);

}  // namespace qtalign::cli
