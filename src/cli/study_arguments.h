#pragma once
// What `qtalign run` and `qtalign study` share: the study's settings on the command line, the demo's
// defaults, and running a stage's subcommand in this process. `run` with one value per axis is one
// configuration; `run` with several values, and `study`, run the grid. Under qtalign launch or
// torchrun the runner joins the processes once and every stage, in-process eval and train included,
// runs on that one group.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "study/grid.h"
#include "study/study.h"

namespace qtalign::cli {

struct StudyArguments {
  study::StudyOptions study;
  size_t size = 0;
  model::ComputeRequest runtime;
  // Rank 0 works alone on some stages (the demo model, the training set, the report) while the others
  // wait: longer than for eval.
  double dist_timeout = 1800.0;
  // The plan's axes (study: --models, --train-langs, --targets, --tasks, --labels, --shots).
  study::PlanAxes axes;
  std::filesystem::path plan_file;
};

// What `run --help` and `study --help` say of a study on several processes.
extern const char* const kStudyProcessesHelp;

// Adds the settings every configuration shares (--out, --size, --seed, --eval-langs, --eval-limit,
// training options, --data-dir, --tasks-dir, --demo-tokenizer, runtime options, --dist-timeout) and the plan's
// --max-configurations.
void add_shared_study_options(CLI::App* command, StudyArguments& arguments);

// Adds --labels and --shots (several values each).
void add_evaluation_axes(CLI::App* command, StudyArguments& arguments);

// Fills the options a user did not give: the demo's small settings when every model is the demo, the
// device of this process (`processes`, from join_processes) and the dtype.
void resolve_study_options(StudyArguments& arguments, const CLI::App* command, bool demo,
                           const ProcessRuntime& processes);

// Runs the grid of `plan` with the shared settings of `arguments` on `processes`.
void run_study_grid(StudyArguments& arguments, const CLI::App* command, study::Plan plan,
                    const ProcessRuntime& processes);

}  // namespace qtalign::cli
