#pragma once
// What `qtalign run` and `qtalign study` share: the study's settings on the command line, the demo's
// defaults, and running a stage's subcommand in this process. `run` with one value per axis is one
// configuration; `run` with several values, and `study`, run the grid.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "cli/common.h"
#include "study/grid.h"
#include "study/study.h"

namespace qtalign::cli {

struct StudyArguments {
  study::StudyOptions study;
  size_t size = 0;
  RuntimeOptions runtime;
  // The plan's axes (study: --models, --train-langs, --targets, --tasks, --labels, --shots).
  std::vector<std::string> models;
  std::vector<std::string> mixtures = {"zh,de"};
  std::vector<std::string> targets = {"en"};
  std::vector<std::string> tasks;
  std::vector<std::string> labels = {"english"};
  std::vector<std::string> shots = {"default"};
  std::filesystem::path plan_file;
};

// Adds the settings every configuration shares (--out, --size, --seed, --eval-langs, --eval-limit,
// training options, --data-dir, --demo-tokenizer, runtime options).
void add_shared_study_options(CLI::App* command, StudyArguments& arguments);

// Adds --labels and --shots (several values each).
void add_evaluation_axes(CLI::App* command, StudyArguments& arguments);

// Fills the options a user did not give: the demo's small settings when every model is the demo, the
// resolved device and dtype.
void resolve_study_options(StudyArguments& arguments, const CLI::App* command, bool demo);

// The plan of the axes given on the command line (shots "default" or a count); throws Error on a
// malformed value.
study::Plan plan_from_arguments(const StudyArguments& arguments);

// Runs a stage's subcommand in this process, as if typed after `qtalign`.
void run_study_subcommand(const std::vector<std::string>& arguments);

// Runs the grid of `plan` with the shared settings of `arguments`.
void run_study_grid(StudyArguments& arguments, const CLI::App* command, study::Plan plan);

}  // namespace qtalign::cli
