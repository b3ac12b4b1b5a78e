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
#include "cli/processes.h"
#include "io/output_lock.h"
#include "study/grid.h"
#include "study/study.h"

namespace qtalign::cli {

struct StudyArguments {
  study::StudyOptions study;
  size_t size = 0;
  RuntimeOptions runtime;
  // Rank 0 works alone on some stages (the demo model, the training set, the report) while the others
  // wait: longer than for eval.
  double dist_timeout = 1800.0;
  // The plan's axes (study: --models, --train-langs, --targets, --tasks, --labels, --shots).
  std::vector<std::string> models;
  std::vector<std::string> mixtures = {"zh,de"};
  std::vector<std::string> targets = {"en"};
  std::vector<std::string> tasks;
  std::vector<std::string> labels = {"english"};
  std::vector<std::string> shots = {"default"};
  size_t max_configurations = study::kDefaultMaxConfigurations;
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

// The study directory held by rank 0 (only it writes there): a second run on it fails at start,
// naming the first, instead of racing it for its files; Ctrl-C then says how to resume.
std::unique_ptr<io::OutputLock> hold_study_directory(const std::filesystem::path& out, const ProcessRuntime& processes);

// The plan of the axes given on the command line (shots "default" or a count); throws Error on a
// malformed value.
study::Plan plan_from_arguments(const StudyArguments& arguments);

// Runs the grid of `plan` with the shared settings of `arguments` on `processes`.
void run_study_grid(StudyArguments& arguments, const CLI::App* command, study::Plan plan,
                    const ProcessRuntime& processes);

}  // namespace qtalign::cli
