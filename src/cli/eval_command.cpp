// qtalign eval: its options read into an eval::EvaluationSpec, the run (eval/evaluation_run.h), the table on stdout.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "data/answer_type.h"
#include "eval/results.h"
#include "eval/scoring.h"
#include "io/interruption.h"

namespace qtalign::cli {
namespace {

struct EvalArguments {
  eval::EvaluationSpec spec;  // but the fields below fill in, and the compute settings from `runtime`
  std::string seen;
  std::string format = "table";
  std::string truncate = "none";
  ItemLimitOptions items;
  bool no_prefix_cache = false;
  double dist_timeout = 300.0;
  model::ComputeRequest runtime;
};

constexpr const char* kEvalDescription = R"(Each prompt is the language's demonstrations from prompts.json followed by the test item in the
language's template, ending right after the opening quote of the answer. Scoring:
  prefix-sum  the study's rule (prompts.json "scoring"): next-token probability summed over each
              label's candidate tokens; the largest sum wins, exact ties broken by --seed.
  sequence    log-likelihood of each label's full token sequence plus the closing quote.
The demonstrations prefix of each language runs once and its KV cache serves every item.
A prompt that does not fit the model's context (max_position_embeddings, counting the longest label)
is an error naming the item; with --truncate left, the item's first tokens (right after the shared
demonstrations prefix, which is kept whole) are cut until it fits, and the count is reported.

--labels: how answers are written (the study's Table 6, emotion). same-language uses the language's
own label words and demonstrations (prompts.json lens); where its words share a forced prefix (Thai),
the prefix's tokens are appended to the prompt and the remainders are scored. task-agnostic writes
"ox" for positive and "horse" for negative, demonstrations included. Predictions are recorded as the
English labels either way, so accuracies and agreement compare across answer types.
--shots 0: the prompt is the item alone, in the language's template, without demonstrations.

Finished (task, language) pairs, and the finished pieces of --save-every items of the pairs in
flight, are kept in <out>.state/ as they complete; rerunning the same command after an interruption
evaluates only the rest and writes the files an uninterrupted run writes. The results JSON (with
provenance, per-language accuracy, 95% Wilson intervals and macro averages) goes to --out, a table
to stdout.)";

// The evaluation the options ask for, computed on `device`.
eval::EvaluationSpec evaluation_spec(const EvalArguments& arguments, at::Device device) {
  eval::EvaluationSpec spec = arguments.spec;
  spec.limit = item_limit(arguments.items, spec.seed);
  // As written: getline drops only a trailing empty word.
  if (!arguments.seen.empty()) spec.seen = CLI::detail::split(arguments.seen, ',');
  if (!arguments.seen.empty() && arguments.seen.back() == ',') spec.seen.emplace_back();
  spec.prefix_cache = !arguments.no_prefix_cache;
  spec.truncate_left = arguments.truncate == "left";
  spec.compute = model::compute_settings(arguments.runtime, device);
  return spec;
}

void run_eval(const EvalArguments& arguments) {
  const eval::TableFormat format = eval::parse_table_format(arguments.format);
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  const eval::EvaluationSpec spec = evaluation_spec(arguments, processes.device);
  const eval::EvaluationResult result = eval::run(spec, *processes.group, io::set_interrupt_hint);
  if (!processes.group->is_main()) return;
  if (result.complete)
    std::fputs(eval::format_results(*result.results, format).c_str(), stdout);
  else
    std::fputs(eval::stopped_note(spec, result).c_str(), stderr);
}

// Adds the subcommand "eval" with its options, bound to `arguments`, to `app`.
CLI::App* add_eval_options(CLI::App& app, EvalArguments& arguments) {
  eval::EvaluationSpec& spec = arguments.spec;
  CLI::App* command = app.add_subcommand("eval", "Few-shot accuracy with constrained decoding over tasks and languages");
  command->footer(kEvalDescription);
  add_model_source_options(command, spec.source);
  command->add_option("--tokenizer", spec.source.tokenizer_file, "tokenizer.json (default: the model's)");
  command->add_option("--task", spec.task, "emotion, snli, paws or all")->capture_default_str();
  command->add_option("--langs", spec.languages, "all, or languages such as en,zh")->capture_default_str();
  add_parsed_option(command, "--mode", spec.mode, eval::parse_scoring_mode, eval::scoring_mode_name,
                    "scoring: prefix-sum or sequence");
  add_parsed_option(command, "--labels", spec.answer_type, data::parse_answer_type, data::answer_type_name,
                    "how answers are written: english, same-language (the language's own words and "
                    "demonstrations) or task-agnostic (ox/horse); the last two for emotion only");
  command->add_option("--shots", spec.shots, "demonstrations per prompt (default: the task's own)")
      ->check(at_least(0));
  add_item_limit_options(command, arguments.items, "per language");
  command->add_option("--eval-split", spec.eval_splits,
                      "evaluate only the evaluation items of a split file from `data build` (one per task)");
  command->add_option("--seed", spec.seed, "seed for breaking exact ties and drawing the --limit sample")->capture_default_str();
  command->add_option("--seen", arguments.seen, "tuning languages, for seen/unseen averages (e.g. zh,de)");
  command->add_option("--batch-size", spec.batch_size, "items per forward pass")->capture_default_str();
  command->add_flag("--no-prefix-cache", arguments.no_prefix_cache,
                    "run every prompt whole instead of reusing the demonstrations' KV cache");
  command->add_option("--out", spec.out, "results JSON")->required();
  command->add_option("--predictions", spec.predictions, "also write per-item predictions and scores (JSONL)");
  command->add_option("--format", arguments.format, "table on stdout: table, md or csv")->capture_default_str();
  command->add_flag("--restart", spec.restart, "discard an interrupted run's state instead of resuming it");
  command->add_flag("--hash-weights", spec.source.hash_weights,
                    "fingerprint the weights by their full content in the provenance (default: headers and sizes)");
  command->add_option("--max-pairs", spec.max_pairs,
                      "evaluate at most N (task, language) pairs, then stop; rerun to continue (0 = no limit)")
      ->capture_default_str()
      ->check(at_least(0));
  command->add_option("--max-items", spec.max_items,
                      "evaluate about N items (whole --save-every pieces), then stop; rerun to continue (0 = no limit)")
      ->capture_default_str()
      ->check(at_least(0));
  command->add_option("--save-every", spec.save_every,
                      "evaluate and keep each pair in pieces of N items, so an interruption loses at most the pieces "
                      "in flight (0 = whole pairs); pieces are batched on their own, so a resumed run must use the "
                      "same N")
      ->capture_default_str()
      ->check(at_least(0));
  command->add_option("--truncate", arguments.truncate,
                      "prompts longer than the context: none (an error) or left (cut the item's first tokens)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "left"}));
  add_dist_timeout_option(command, arguments.dist_timeout);
  add_data_dir_option(command, spec.data_dir);
  add_tasks_dir_option(command, spec.tasks_dir);
  add_runtime_options(command, arguments.runtime);
  return command;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto arguments = std::make_shared<EvalArguments>();
  add_eval_options(app, *arguments)->callback([arguments] { run_eval(*arguments); });
}

eval::EvaluationSpec parse_eval_spec(const std::vector<std::string>& arguments) {
  CLI::App app{"qtalign"};
  EvalArguments parsed;
  add_eval_options(app, parsed);
  parse_command_words(app, arguments);
  return evaluation_spec(parsed, model::parse_device(parsed.runtime.device));
}

}  // namespace qtalign::cli
