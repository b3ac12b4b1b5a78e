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
#include "data/data_dir.h"
#include "data/sampling.h"
#include "distributed/process_group.h"
#include "eval/results.h"
#include "eval/scoring.h"
#include "io/options.h"
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

// The languages a --seen text lists: comma-separated words kept as written, empty ones too (none for "").
std::vector<std::string> parse_seen_languages(const std::string& text);

// The --seen text of `languages`: the words joined by commas.
std::string seen_languages_text(const std::vector<std::string>& languages);

// What --truncate names: true for "left", false for "none"; Error otherwise.
bool parse_truncation(const std::string& name);

// The --truncate name of truncate_left: "left" or "none".
std::string truncation_name(bool truncate_left);

// Every option of `qtalign eval`, in its order, with the field of `spec` (const or not) each reads and
// writes; --limit (with --first), --format, --dist-timeout and the runtime options (--threads on) are
// the command's own.
template <class Spec, class Visit, io::IfSpec<Spec, EvaluationSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(model::model_option(), spec.source.model_dir);
  visit(model::adapter_option(), spec.source.adapter_dir);
  visit(option("--tokenizer", "tokenizer.json (default: the model's)"), spec.source.tokenizer_file);
  visit(option("--task", "emotion, snli, paws or all").shown(), spec.task);
  visit(option("--langs", "all, or languages such as en,zh").shown(), spec.languages);
  visit(option("--mode", "scoring: prefix-sum or sequence"), io::parsed(spec.mode, parse_scoring_mode, scoring_mode_name));
  visit(option("--labels", "how answers are written: english, same-language (the language's own words and "
                           "demonstrations) or task-agnostic (ox/horse); the last two for emotion only"),
        io::parsed(spec.answer_type, data::parse_answer_type, data::answer_type_name));
  visit(option("--shots", "demonstrations per prompt (default: the task's own)").at_least(0), spec.shots);
  visit(option("--limit", ""), io::CommandOwned{});
  visit(option("--eval-split", "evaluate only the evaluation items of a split file from `data build` (one per task)"),
        spec.eval_splits);
  visit(option("--seed", "seed for breaking exact ties and drawing the --limit sample").shown(), spec.seed);
  visit(option("--seen", "tuning languages, for seen/unseen averages (e.g. zh,de)"),
        io::parsed(spec.seen, parse_seen_languages, seen_languages_text));
  visit(option("--batch-size", "items per forward pass").shown(), spec.batch_size);
  visit(option("--no-prefix-cache", "run every prompt whole instead of reusing the demonstrations' KV cache"),
        io::inverted(spec.prefix_cache));
  visit(option("--out", "results JSON").mandatory(), spec.out);
  visit(option("--predictions", "also write per-item predictions and scores (JSONL)"), spec.predictions);
  visit(option("--format", ""), io::CommandOwned{});
  visit(option("--restart", "discard an interrupted run's state instead of resuming it"), spec.restart);
  visit(option("--hash-weights",
               "fingerprint the weights by their full content in the provenance (default: headers and sizes)"),
        spec.source.hash_weights);
  visit(option("--max-pairs", "evaluate at most N (task, language) pairs, then stop; rerun to continue (0 = no limit)")
            .shown()
            .at_least(0),
        spec.max_pairs);
  visit(option("--max-items",
               "evaluate about N items (whole --save-every pieces), then stop; rerun to continue (0 = no limit)")
            .shown()
            .at_least(0),
        spec.max_items);
  visit(option("--save-every", "evaluate and keep each pair in pieces of N items, so an interruption loses at most the "
                               "pieces in flight (0 = whole pairs); pieces are batched on their own, so a resumed run "
                               "must use the same N")
            .shown()
            .at_least(0),
        spec.save_every);
  visit(option("--truncate", "prompts longer than the context: none (an error) or left (cut the item's first tokens)")
            .one_of({"none", "left"}),
        io::parsed(spec.truncate_left, parse_truncation, truncation_name));
  visit(option("--dist-timeout", ""), io::CommandOwned{});
  visit(data::data_dir_option(), spec.data_dir);
  visit(data::tasks_dir_option(), spec.tasks_dir);
  visit(option("--threads", ""), io::CommandOwned{});
}

// The spec as the `qtalign eval` command line that asks for it, {"eval", "--model", ...}: the listed
// options (for_each_option) not at their defaults, in the list's order, then the item limit and the
// compute settings as model::compute_arguments gives them. Throws Error
// for a spec no command line asks for (a balanced limit drawn with a seed other than `seed`).
std::vector<std::string> command_line(const EvaluationSpec& spec);

// What `qtalign eval --help` says of a run below its options: prompts, scoring, truncation, answer
// types, resuming and the outputs.
extern const char* const kEvaluationHelp;

}  // namespace qtalign::eval
