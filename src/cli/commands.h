#pragma once
// Each subcommand adds itself to the program here; its file holds its options and its run.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "train/training_run.h"

namespace qtalign::cli {

struct ProcessRuntime;

// qtalign data build|show|check (src/cli/data_command.cpp).
void add_data_command(CLI::App& app);

// qtalign eval (src/cli/eval_command.cpp). With `processes` (the study runner's, for a stage it runs
// in its process) the work is shared over those instead of processes the command joins itself.
void add_eval_command(CLI::App& app, const ProcessRuntime* processes = nullptr);

// qtalign compare (src/cli/compare_command.cpp).
void add_compare_command(CLI::App& app);

// qtalign train (src/cli/train_command.cpp); `processes` as for add_eval_command.
void add_train_command(CLI::App& app, const ProcessRuntime* processes = nullptr);

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

// qtalign run (src/cli/run_command.cpp).
void add_run_command(CLI::App& app);

// qtalign study (src/cli/study_command.cpp).
void add_study_command(CLI::App& app);

// qtalign generate (src/cli/generate_command.cpp).
void add_generate_command(CLI::App& app);

// qtalign task check|new|export (src/cli/task_command.cpp).
void add_task_command(CLI::App& app);

// qtalign init-model (src/cli/init_model_command.cpp).
void add_init_model_command(CLI::App& app);

}  // namespace qtalign::cli
