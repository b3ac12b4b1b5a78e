#pragma once
// One evaluation run as a library call: a typed specification of everything `qtalign eval` asks for,
// run over a process group, resumable, with its results file, predictions and provenance written as
// the command writes them; and the specification rendered back as the command line that asks for it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/answer_type.h"
#include "data/sampling.h"
#include "distributed/process_group.h"
#include "eval/results.h"
#include "eval/scoring.h"
#include "model/compute_settings.h"
#include "model/loaded_model.h"

namespace qtalign::eval {

struct EvaluationSpec {
  model::ModelSource source;                       // the checkpoint, its tokenizer and an optional adapter
  std::filesystem::path data_dir;                  // benchmark data (empty: data::resolve_data_dir's default)
  std::filesystem::path tasks_dir;                 // task files (empty: data::load_protocol's default)
  std::filesystem::path out;                       // results JSON
  std::filesystem::path predictions;               // per-item JSONL (empty: none)
  std::vector<std::filesystem::path> eval_splits;  // evaluation-split files restricting the items (one per task)
  std::string task = "all";                        // a task or "all"
  std::string languages = "all";                   // "all" or e.g. "en,zh"
  ScoringMode mode = ScoringMode::prefix_sum;
  data::AnswerType answer_type = data::AnswerType::english;
  int shots = -1;                                  // demonstrations per prompt (-1: the task's own)
  // Items per language (count 0: all). The command line draws a balanced sample with --seed, so
  // command_line refuses a balanced limit whose seed is not `seed`.
  data::ItemLimit limit;
  uint64_t seed = 0;                               // breaks exact ties (and draws the --limit sample)
  std::vector<std::string> seen;                   // languages seen in tuning, for the averages ("all" allowed)
  int64_t batch_size = 8;                          // items per forward pass
  bool prefix_cache = true;                        // run the demonstrations once and reuse their KV cache
  bool truncate_left = false;                      // cut a too-long prompt's item from the left instead of failing
  bool restart = false;                            // discard an interrupted run's state instead of resuming it
  int64_t max_pairs = 0;                           // stop after this many (task, language) pairs (0: no limit)
  int64_t max_items = 0;                           // stop after about this many items (0: no limit)
  int64_t save_every = 100;                        // items per resumable piece (0: whole pairs)
  model::ComputeSettings compute;                  // device, dtype, 4-bit loading (threads: the caller sets them)
};

struct EvaluationResult {
  bool complete = false;                // false: stopped by max_pairs / max_items, pairs remain
  size_t remaining_pairs = 0;           // the (task, language) pairs a rerun still has to evaluate
  std::optional<EvalResults> results;  // on rank 0 when complete: the results file's content
};

// Evaluates the spec over `group` as `qtalign eval` does. Every input and output path is checked
// before the model loads (Error names the file); rank 0 locks <out>.state, resumes what an earlier run
// with the same settings finished there, calls resume_hint (when given) with how to resume after an
// interruption, prints a note to stderr per pair that ran without the prefix cache or was truncated,
// and, when complete, writes --out and --predictions atomically and removes the state. Other ranks
// share the work and return an empty result.
EvaluationResult run(const EvaluationSpec& spec, distributed::ProcessGroup& group,
                     const std::function<void(const std::string&)>& resume_hint = {});

// For a run that stopped before completing: which limits stopped it (named by their options,
// --max-pairs / --max-items) and how many pairs remain for a rerun, as one line.
std::string stopped_note(const EvaluationSpec& spec, const EvaluationResult& result);

// The spec as the `qtalign eval` command line that asks for it, {"eval", "--model", ...}: options at
// their defaults left out, the compute settings as model::compute_arguments gives them. Throws Error
// for a spec no command line asks for (a balanced limit drawn with a seed other than `seed`).
std::vector<std::string> command_line(const EvaluationSpec& spec);

}  // namespace qtalign::eval
