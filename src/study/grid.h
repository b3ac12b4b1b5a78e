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

}  // namespace qtalign::study
