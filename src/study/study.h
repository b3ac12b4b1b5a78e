#pragma once
// The whole study for one model in one call: data build -> eval base -> train -> eval tuned ->
// compare -> logit lens and representations for base and tuned -> report. Every stage is skipped
// when its output exists, so an interrupted study resumes where it stopped; every stage reports
// progress on stderr.
//
// The study directory:
//   study.json                      settings, provenance, and each stage's status, command and time
//   model/                          the demo checkpoint (only when no model is given)
//   data/train.jsonl                the question-translation training set
//   data/evaluation_split.json      the test items kept out of training (evaluate only those)
//   eval/base.json, eval/tuned.json accuracy results (eval's format), with .md tables beside them
//   adapter/                        the PEFT adapter, training_log.jsonl, loss.png/.svg
//   compare/compare.{md,json}       base vs tuned per language, compare_<task>.png/.svg
//   lens/{base,tuned}/              the logit lens per language, summary.{md,json}, overview charts
//   pca/{base,tuned}/               representations per layer; pca/cosine_comparison.{png,svg,csv}
//   report.html, report.md          the report (report.html is self-contained)
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qtalign::study {

// Runs one qtalign subcommand in this process, e.g. {"eval", "--model", "M", ...}; the command-line
// layer supplies it for the stages whose pipelines are only reachable through their subcommands.
using SubcommandRunner = std::function<void(const std::vector<std::string>& arguments)>;

struct StudyOptions {
  std::filesystem::path out;                 // the study directory
  std::filesystem::path model_dir;           // empty: make and use the demo checkpoint
  std::filesystem::path demo_tokenizer_dir;  // for the demo (empty: the npm Qwen tokenizer)
  std::filesystem::path data_dir;            // benchmark data (empty: the default)
  std::string task = "emotion";              // the task whose questions are translated for tuning
  std::string train_languages = "zh,de";
  std::optional<size_t> size;                // training examples (unset: 10000, or all when fewer)
  uint64_t seed = 0;
  std::string eval_task = "all";             // all, or one task
  std::string eval_languages = "all";
  int64_t eval_limit = 0;                    // items per task and language (0: all)
  int64_t analysis_limit = 100;              // items per language for the lens and PCA
  std::string lens_languages = "all";        // all = every language with lens prompts
  std::string pca_languages = "all";
  std::string pca_layers = "all";
  // Training (qtalign train's options).
  int64_t epochs = 3;
  int64_t micro_batch = 4;
  int64_t grad_accum = 4;
  double lr = 5e-5;
  int64_t cutoff = 2048;
  int64_t eval_every = 50;
  // Runtime: the option strings are passed to every subcommand; the analysis stages run in this
  // process on the resolved device and dtype.
  int threads = 0;
  std::string device = "cpu";
  std::string dtype = "auto";
  at::Device analysis_device = at::kCPU;
  at::ScalarType analysis_dtype = at::kFloat;
};

// The settings the demo uses where the user gives none (no model given): small limits and a short
// training run, so the study finishes in minutes on two cores.
struct DemoSettings {
  size_t size = 96;
  int64_t eval_limit = 16;
  int64_t analysis_limit = 24;
  int64_t epochs = 1;
  int64_t micro_batch = 4;
  int64_t grad_accum = 2;
  int64_t cutoff = 512;
  int64_t eval_every = 0;
};

// Runs (or resumes) the study; throws Error when the directory holds a study with other settings.
void run_study(const StudyOptions& options, const SubcommandRunner& run_subcommand);

}  // namespace qtalign::study
