#pragma once
// The study's whole grid with one command: every configuration of a plan trained and evaluated in its
// own folder, the base model evaluated once per model and evaluation setting and shared, then the
// study's tables, figures and report. Every step resumes: a finished step is never redone.
//
// The study directory:
//   plan.json                       the plan (the plan file as given, or the command line's)
//   study.json                      the settings, the plan, each step's status, command and time
//   model/                          the demo checkpoint (models "demo")
//   splits/<task>.json              the evaluation items of each task that is also a tuning task: half
//                                   of each test set (stratified); the other half may give questions
//   base/<model>/<setting>.json     base evaluations (+ .predictions.jsonl, .md)
//   configurations/<id>/            one per adapter: data/, adapter/, eval/<setting>.json, study.json
//   tables/<model>.<task>.<labels>.<shots>.{md,csv,tex,json}   accuracy (+ agreement_ tables)
//   tables/significance.json        every (configuration, language) McNemar test, Holm-adjusted
//   figures/heatmap_<table>.{png,svg}, figures/change_<table>.{png,svg}
//   report.html, report.md
#include <filesystem>

#include "data/data_dir.h"
#include "io/options.h"
#include "study/plan.h"
#include "study/study.h"

namespace qtalign::study {

struct GridOptions {
  StudyOptions common;              // settings shared by every configuration; out = the study directory
  Plan plan;
  std::filesystem::path plan_file;  // the plan file given (copied as plan.json), or empty
};

// Runs (or resumes) the grid on every rank of `group` (as run_study: evaluations and trainings
// shared, the rest rank 0's); validates the whole plan before any work; throws Error naming the configuration when one cannot
// run, or when the directory holds a study with another plan.
void run_grid(const GridOptions& options, distributed::ProcessGroup& group);

// The grid `qtalign run` runs when its axes have several values: `axes` (mixtures, targets, answer
// types, shots) for the options' model (models "demo" without one) and its tuning and evaluation task.
Plan single_model_plan(const StudyOptions& options, PlanAxes axes);

// `options` set to the one configuration of a plan that is not a grid (is_grid): its mixture,
// target, answer type and shots.
StudyOptions with_single_configuration(StudyOptions options, const Plan& plan);

// Rewrites tables/, figures/ and the report (report/grid_outputs.h) from what the grid's steps left in
// `study_dir`.
void write_grid_outputs(const std::filesystem::path& study_dir);

// What `qtalign study --help` says of the grid: configurations, tables, resuming, tasks, plan files.
extern const char* const kGridHelp;

// The options `run` and `study` share, in their order, with the field of `options` or `axes` each
// reads and writes: the evaluation axes, the settings every configuration shares, --max-configurations;
// --size, the runtime options (--threads on) and --dist-timeout are the commands' own.
template <class Visit>
void for_each_shared_option(StudyOptions& options, PlanAxes& axes, Visit&& visit) {
  using io::option;
  visit(option("--labels", "answer types: english, same-language, task-agnostic (several: a grid)").shown(), axes.labels);
  visit(option("--shots", "demonstrations per prompt: default (the task's own) or N (several: a grid)").shown(),
        axes.shots);
  visit(option("--out", "the study directory (STUDY_DIR)").mandatory(), options.out);
  visit(option("--size", ""), io::CommandOwned{});
  visit(option("--seed", "seed of data draws, training, tie breaks, bootstrap").shown(), options.seed);
  visit(option("--eval-langs", "languages to evaluate").shown(), options.eval_languages);
  visit(option("--eval-limit", "items per task and language (0 = all; demo: 16)").shown(), options.eval_limit);
  train::for_each_setting_option(options.training, train::SettingOptionNames::study, visit);
  visit(data::data_dir_option(), options.data_dir);
  visit(data::tasks_dir_option(), options.tasks_dir);
  visit(option("--demo-tokenizer", "directory with the demo's tokenizer.json (default: Qwen's, from tools/npm)"),
        options.demo_tokenizer_dir);
  visit(option("--max-configurations", "the most configurations (adapters to train) a grid may have").shown(),
        axes.max_configurations);
  visit(option("--threads", ""), io::CommandOwned{});
  visit(option("--dist-timeout", ""), io::CommandOwned{});
}

// Every option of `qtalign run`, in its order: the model, the tasks, the mixtures and targets, the
// analyses' settings, then the shared ones (for_each_shared_option).
template <class Visit>
void for_each_run_option(StudyOptions& options, PlanAxes& axes, Visit&& visit) {
  using io::option;
  visit(option("--model", "Hugging Face checkpoint directory (none: the demo model)"), options.model_dir);
  visit(option("--task", "task whose questions are translated for tuning").shown(), options.task);
  visit(option("--train-langs", "tuning languages, e.g. zh,de (several mixtures: a grid)").shown(), axes.mixtures);
  visit(option("--target", "translation target of the tuning questions (several: a grid)").shown(), axes.targets);
  visit(option("--eval-task", "all (the study's three), or one task: emotion, snli, paws or a task file's").shown(),
        options.eval_task);
  visit(option("--analysis-limit", "items per language for the lens and PCA (demo: 24)").shown(),
        options.analysis_limit);
  visit(option("--lens-langs", "languages for the logit lens (all = all with lens prompts)").shown(),
        options.lens_languages);
  visit(option("--pca-langs", "languages for the representations").shown(), options.pca_languages);
  visit(option("--pca-layers", "all, or residual-stream indices such as 0,6,12").shown(), options.pca_layers);
  for_each_shared_option(options, axes, visit);
}

// Every option of `qtalign study`, in its order: the plan file, the plan's axes, then the shared ones.
template <class Visit>
void for_each_grid_option(StudyOptions& options, PlanAxes& axes, std::filesystem::path& plan_file, Visit&& visit) {
  using io::option;
  visit(option("--plan", "a JSON plan file (axes and shared settings)").existing(), plan_file);
  visit(option("--models", "checkpoint directories, or demo").shown(), axes.models);
  visit(option("--train-langs", "tuning mixtures, e.g. zh sw zh,es zh,de sw,hi").shown(), axes.mixtures);
  visit(option("--targets", "translation targets, e.g. en it").shown(), axes.targets);
  visit(option("--tasks", "TASK or TUNE:EVAL, e.g. snli snli:emotion").shown(), axes.tasks);
  for_each_shared_option(options, axes, visit);
}

}  // namespace qtalign::study
