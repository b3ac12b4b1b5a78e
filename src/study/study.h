#pragma once
// The whole study for one model in one call: data build -> eval base -> train -> eval tuned ->
// compare -> logit lens and representations for base and tuned -> report. Every stage is skipped
// when its output exists, so an interrupted study resumes where it stopped; every stage reports
// progress on stderr. Over several processes (qtalign launch, torchrun) every stage runs on all of
// them (study/stages.h): evaluation, training and the analyses share their work; the demo model, the
// training set, the comparisons and the report are rank 0's, and only rank 0 writes.
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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/answer_type.h"
#include "data/demonstrations.h"
#include "data/protocol.h"
#include "distributed/process_group.h"
#include "io/json_file.h"
#include "io/output_lock.h"
#include "model/compute_settings.h"
#include "train/training_settings.h"
#include "study/stages.h"

namespace qtalign::study {

struct StudyOptions {
  std::filesystem::path out;                 // the study directory
  std::filesystem::path model_dir;           // empty: make and use the demo checkpoint
  std::filesystem::path demo_tokenizer_dir;  // for the demo (empty: the npm Qwen tokenizer)
  std::filesystem::path data_dir;            // benchmark data (empty: the default)
  std::filesystem::path tasks_dir;           // task files (empty: $QTALIGN_TASKS, then <data>/tasks)
  std::string task = "emotion";              // the task whose questions are translated for tuning
  std::string train_languages = "zh,de";
  std::string target = "en";                 // the translation target of the training questions
  data::AnswerType labels = data::AnswerType::english;  // answer type of the evaluations
  int shots = data::kTaskShots;              // demonstrations per prompt
  std::optional<size_t> size;                // training examples (unset: 10000, or all when fewer)
  uint64_t seed = 0;
  std::string eval_task = "all";             // all, or one task
  std::string eval_languages = "all";
  int64_t eval_limit = 0;                    // items per task and language (0: all)
  int64_t analysis_limit = 100;              // items per language for the lens and PCA
  std::string lens_languages = "all";        // all = every language with lens prompts
  std::string pca_languages = "all";
  std::string pca_layers = "all";
  bool analyses = true;                      // logit lens and representations, base and tuned
  // Evaluation splits whose evaluation items no training example may come from (a grid fixes them for
  // all its configurations); the configuration's own split is always respected.
  std::vector<std::filesystem::path> held_out_splits;
  // Training: every stage's settings (the seed is the study's: `seed`; grad_accum is the whole
  // optimizer step's, divided among the processes).
  train::TrainingSettings training;
  model::ComputeSettings compute;           // every stage's device, dtype, 4-bit loading and threads
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
  // The study's 5e-5 leaves every prediction of the demo model as it was after its 12 steps; at 5e-3
  // tuning moves about one prediction in six (BENCHMARKS.md), so the tables show what tuning does.
  double lr = 5e-3;
  // fp32 on every CPU: the demo model's label scores are too close for bf16 kernels, which differ
  // between CPUs, to leave its predictions the same from machine to machine.
  std::string dtype = "fp32";
  // One thread: the demo model's thousands of tiny operators per second lose more to synchronising
  // threads than they gain from them (an evaluation ran 20 times slower on 2 threads of a busy 2-core
  // machine than on 1).
  int threads = 1;
};

// Sets the demo's settings (DemoSettings) where `keeps(option)` says the command line did not set
// them (an option such as "--epochs"); `runtime` holds --dtype and --threads as the command line gave them.
void apply_demo_settings(StudyOptions& options, model::ComputeRequest& runtime,
                         const std::function<bool(const std::string& option)>& keeps);

// The study directory held by rank 0 (only it writes there): a second run on it fails at start,
// naming the first, instead of racing it for its files; an interruption then says how to resume.
std::unique_ptr<io::OutputLock> hold_study_directory(const std::filesystem::path& out,
                                                     const distributed::ProcessGroup& group);

// One evaluation of a model: which task (or all), answer type and shots, on which items, into which file.
struct EvaluationRun {
  std::string task = "all";
  data::AnswerType labels = data::AnswerType::english;
  int shots = data::kTaskShots;
  std::vector<std::string> seen;                  // tuning languages and target, for the averages
  std::vector<std::filesystem::path> splits;      // evaluation-split files restricting the items
  std::filesystem::path results;                  // results JSON; predictions_file(results) beside it
};

// What study.json records of the benchmark data read: its directory, prompts.json's hash and, when
// task files were read, their directory (where the tables are made read it back).
io::Json data_record(const data::Protocol& protocol);

// Where an evaluation's per-item predictions go: <results stem>.predictions.jsonl.
std::filesystem::path predictions_file(const std::filesystem::path& results);

// The micro-batches per optimizer step of each of `world_size` processes: the study's optimizer step
// is batch x grad_accum examples however many processes share it, so that N processes train the
// adapter one process trains (train/batching.h); throws Error when grad_accum does not divide.
int64_t grad_accum_per_process(int64_t grad_accum, int world_size);

// Evaluates `model_dir` (with `adapter` when not empty) with eval::run (which resumes an interrupted
// evaluation) shared over `group`, after printing the equivalent `qtalign eval` command line; rank 0
// writes the Markdown table beside the results and returns details for study.json.
io::Json evaluate_model(distributed::ProcessGroup& group, const StudyOptions& options,
                        const std::filesystem::path& model_dir,
                        const std::filesystem::path& adapter, const EvaluationRun& run);

// Writes the demo checkpoint into `directory` as a stage of `stages` (rank 0's).
void demo_model_stage(StageRunner& stages, const StudyOptions& options, const std::filesystem::path& directory);

// The settings and paths of one configuration of a grid, run in options.out: data build -> train ->
// the tuned model's evaluations (`tuned`, whose results files lie in options.out), each a resumable
// stage recorded in options.out/study.json, on every rank of `group` as in run_study. The base
// model's evaluations are the caller's. Throws
// Error when the directory holds another configuration, or a training example comes from an item
// that held_out_splits evaluate.
void run_configuration(const StudyOptions& options, const std::filesystem::path& model_dir,
                       const std::vector<EvaluationRun>& tuned, distributed::ProcessGroup& group);

// Runs (or resumes) the whole study for one configuration (run_configuration's stages with the base
// evaluation, the comparison, the analyses and the report) on every rank of `group`; throws Error
// when the directory holds a study with other settings.
void run_study(const StudyOptions& options, distributed::ProcessGroup& group);

// What `qtalign run --help` and `study --help` say of a study on several processes.
extern const char* const kStudyProcessesHelp;

// What `qtalign run --help` says of the whole study for one model: the stages, resuming, grids, the demo.
extern const char* const kRunHelp;

}  // namespace qtalign::study
