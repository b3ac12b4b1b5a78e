// qtalign eval: few-shot accuracy with constrained decoding over tasks and languages, resumable.
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/item_limit_options.h"
#include "cli/processes.h"
#include "data/answer_type.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "data/task_items.h"
#include "eval/evaluator.h"
#include "eval/few_shot.h"
#include "eval/results.h"
#include "eval/run_state.h"
#include "eval/scoring.h"
#include "eval/shared_evaluation.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/output_lock.h"
#include "io/provenance.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::cli {
namespace {

struct EvalArguments {
  std::filesystem::path model_dir;
  std::filesystem::path adapter_dir;
  std::filesystem::path tokenizer_file;
  std::filesystem::path data_dir;
  std::filesystem::path out;
  std::filesystem::path predictions;
  std::vector<std::filesystem::path> eval_splits;
  std::string task = "all";
  std::string languages = "all";
  std::string mode = "prefix-sum";
  std::string labels = "english";
  std::string seen;
  std::string format = "table";
  std::string truncate = "none";
  int shots = -1;
  ItemLimitOptions items;
  uint64_t seed = 0;
  int64_t batch_size = 8;
  bool no_prefix_cache = false;
  bool restart = false;
  bool hash_weights = false;
  int64_t max_pairs = 0;
  int64_t max_items = 0;
  int64_t save_every = 100;
  double dist_timeout = 300.0;
  RuntimeOptions runtime;
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

// The absolute path without "." and ".." (how provenance names files).
std::string canonical_path(const std::filesystem::path& path) {
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path)).string();
}

// The items to evaluate: the split's evaluation items (all without a split), then the --limit / --first
// pick, which gives the same items in every language.
std::vector<size_t> selected_indices(const std::vector<data::TaskItem>& items, const data::EvaluationSplit* split,
                                     const data::ItemLimit& limit, const std::string& context) {
  if (split && split->evaluation_indices.empty()) return {};
  return data::pick_test_items(items, split ? split->evaluation_indices : std::vector<size_t>(), limit, context);
}

io::Json adapter_provenance(const std::filesystem::path& directory, const model::LoraConfig& config) {
  return {{"path", canonical_path(directory)},
          {"config_sha1", io::file_sha1(directory / "adapter_config.json")},
          {"weights_sha1", io::file_sha1(directory / "adapter_model.safetensors")},
          {"r", config.r},
          {"lora_alpha", config.alpha},
          {"target_modules", config.target_modules}};
}

void run_eval(const EvalArguments& arguments, const ProcessRuntime* lent) {
  const auto wall_start = std::chrono::steady_clock::now();
  const ProcessRuntime processes = lent_or_joined(lent, arguments.runtime, arguments.dist_timeout);
  distributed::ProcessGroup& group = *processes.group;
  const at::Device device = processes.device;
  const at::ScalarType dtype = compute_dtype(arguments.runtime, device);
  const eval::ScoringMode mode = eval::parse_scoring_mode(arguments.mode);
  const data::AnswerType answer_type = data::parse_answer_type(arguments.labels);
  const eval::TableFormat format = eval::parse_table_format(arguments.format);
  if (arguments.batch_size < 1) throw Error("--batch-size must be at least 1");

  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(arguments.data_dir));
  const std::vector<std::string> task_names =
      arguments.task == "all" ? protocol.task_names() : std::vector<std::string>{protocol.task(arguments.task).name};
  const std::vector<std::string> languages = data::parse_language_list(protocol, arguments.languages);
  const std::vector<std::string> seen =
      arguments.seen.empty() ? std::vector<std::string>() : data::parse_language_list(protocol, arguments.seen);
  std::map<std::string, data::TaskProtocol> tasks;
  std::map<std::string, int> shots;
  for (const std::string& name : task_names) {
    const data::TaskProtocol& task = protocol.task(name);
    tasks.emplace(name, arguments.shots < 0 ? task : eval::with_shots(task, arguments.shots));
    shots[name] = tasks.at(name).shots;
    data::require_answerable(answer_type, shots[name]);
    // Refused before the model loads: every (task, language) must have words for the answer type.
    for (const std::string& language : languages) data::answer_words(tasks.at(name), language, answer_type);
  }
  std::map<std::string, data::EvaluationSplit> splits;
  io::Json split_provenance = io::Json::array();
  for (const std::filesystem::path& file : arguments.eval_splits) {
    data::EvaluationSplit split = data::read_evaluation_split(file);
    if (!tasks.count(split.task))
      fail_at(file, "is a split of task " + split.task + ", which this run does not evaluate");
    if (splits.count(split.task)) fail_at(file, "a second evaluation split for task " + split.task);
    split_provenance.push_back({{"path", canonical_path(file)}, {"task", split.task},
                                {"sha1", io::file_sha1(file)}});
    splits.emplace(split.task, std::move(split));
  }

  model::LoadOptions load_options;
  load_options.dtype = dtype;
  load_options.device = device;
  load_options.quantization = quantization_options(arguments.runtime);
  const std::filesystem::path tokenizer_file =
      arguments.tokenizer_file.empty() ? arguments.model_dir / "tokenizer.json" : arguments.tokenizer_file;
  const ModelWithTokenizer loaded =
      load_model_with_tokenizer(arguments.model_dir, tokenizer_file, arguments.adapter_dir, load_options);
  const model::Model& model = loaded.model;
  const tokenizer::Tokenizer& tokenizer = loaded.tokenizer;
  const io::Json adapter = loaded.adapter ? adapter_provenance(arguments.adapter_dir, *loaded.adapter) : io::Json();

  eval::EvaluationOptions options;
  options.mode = mode;
  options.batch_size = arguments.batch_size;
  options.prefix_cache = !arguments.no_prefix_cache;
  options.seed = arguments.seed;
  options.truncate_left = arguments.truncate == "left";
  options.answer_type = answer_type;

  // Everything that changes a pair's results; a resumed run must match it.
  const io::Json settings = {
      {"qtalign_version", QTALIGN_VERSION},
      {"model", {{"path", canonical_path(arguments.model_dir)},
                 {"config_sha1", io::file_sha1(arguments.model_dir / "config.json")},
                 {"model_type", model.config.model_type}}},
      {"adapter", adapter},
      {"tokenizer", {{"path", canonical_path(tokenizer_file)},
                     {"sha1", io::file_sha1(tokenizer_file)}}},
      {"mode", eval::scoring_mode_name(mode)},
      {"answer_type", data::answer_type_name(answer_type)},
      {"shots_option", arguments.shots < 0 ? io::Json(nullptr) : io::Json(arguments.shots)},
      {"seed", arguments.seed},
      {"limit", item_limit(arguments.items, arguments.seed).count > 0
                    ? io::Json(item_limit(arguments.items, arguments.seed).count)
                    : io::Json(nullptr)},
      {"item_pick", data::item_pick_description(item_limit(arguments.items, arguments.seed))},
      {"eval_splits", split_provenance},
      {"truncate", arguments.truncate},
      {"prompts_sha1", io::file_sha1(protocol.source)},
      {"runtime", {{"device", device.str()}, {"dtype", model::dtype_name(dtype)},
                   {"quantization", model::describe_quantization(model.quantization)},
                   {"batch_size", arguments.batch_size}, {"prefix_cache", options.prefix_cache},
                   {"save_every", arguments.save_every}}}};
  // Only rank 0 writes: the state, the results and what a killed run left behind (temporaries beside
  // the outputs, never partial outputs).
  std::optional<eval::RunState> state;
  std::optional<io::OutputLock> lock;  // a second run on the same results fails here instead of racing this one
  if (group.is_main()) {
    lock.emplace(eval::state_directory_for(arguments.out));
    io::remove_abandoned_temporaries(eval::state_directory_for(arguments.out));
    for (const std::filesystem::path& output : {arguments.out, arguments.predictions})
      if (!output.empty()) io::remove_abandoned_temporaries(std::filesystem::absolute(output).parent_path());
    if (arguments.restart) std::filesystem::remove_all(eval::state_directory_for(arguments.out));
    state.emplace(arguments.out, settings);
    set_interrupt_hint("rerun the same command to resume: finished (task, language) pairs, and the finished "
                       "pieces of the others, are kept in " + state->directory().string());
  }

  std::vector<eval::PairJob> jobs;
  io::Json data_files = io::Json::object();
  for (const std::string& task_name : task_names) {
    const data::TaskProtocol& task = tasks.at(task_name);
    const auto split = splits.find(task_name);
    for (const std::string& language : languages) {
      const std::string file_name = task.language(language).file;
      const std::string file_hash = io::file_sha1(protocol.path_of(file_name));
      data_files[file_name] = file_hash;
      const std::vector<data::TaskItem> all_items = data::read_test_set(protocol, task_name, language);
      const std::vector<size_t> indices =
          selected_indices(all_items, split == splits.end() ? nullptr : &split->second,
                           item_limit(arguments.items, arguments.seed), task_name + "/" + language);
      if (indices.empty()) throw Error(fmt::format("{}/{}: no items left to evaluate", task_name, language));
      eval::PairJob job{&task, language, {}, file_hash};
      for (const size_t index : indices) job.items.push_back(all_items[index]);
      jobs.push_back(std::move(job));
    }
  }
  const auto finished = [&](const eval::PairJob& job, const eval::LanguageEvaluation& evaluation) {
    const std::string pair = job.task->name + "/" + job.language;
    if (evaluation.prefix_fallbacks > 0)
      std::fprintf(stderr, "%s: %ld of %zu prompts ran without the prefix cache (a token straddles its end)\n",
                   pair.c_str(), static_cast<long>(evaluation.prefix_fallbacks), job.items.size());
    if (evaluation.truncated_prompts > 0)
      std::fprintf(stderr, "%s: %ld of %zu prompts cut from the left to fit the context of %ld tokens\n", pair.c_str(),
                   static_cast<long>(evaluation.truncated_prompts), job.items.size(),
                   static_cast<long>(model.config.max_position_embeddings));
  };
  eval::PairSchedule schedule;
  schedule.piece_items = arguments.save_every;
  schedule.max_pairs = arguments.max_pairs;
  schedule.max_items = arguments.max_items;
  std::vector<std::optional<eval::LanguageEvaluation>> outcomes = eval::evaluate_pairs(
      group, model, tokenizer, jobs, options, schedule, state ? &*state : nullptr, finished);
  if (!group.is_main()) return;
  std::vector<eval::LanguageEvaluation> evaluations;
  for (std::optional<eval::LanguageEvaluation>& outcome : outcomes)
    if (outcome) evaluations.push_back(std::move(*outcome));
  if (evaluations.size() < jobs.size()) {
    std::vector<std::string> limits;
    if (arguments.max_pairs > 0) limits.push_back(fmt::format("{} pairs (--max-pairs)", arguments.max_pairs));
    if (arguments.max_items > 0) limits.push_back(fmt::format("{} items (--max-items)", arguments.max_items));
    std::fputs(fmt::format("stopped after {}; {} remain: rerun the same command to continue\n",
                           fmt::join(limits, " or "), jobs.size() - evaluations.size())
                   .c_str(),
               stderr);
    return;
  }

  io::Json provenance = settings;
  provenance.update(io::run_provenance(device));
  provenance["model"]["weights"] = io::weights_fingerprint(arguments.model_dir, arguments.hash_weights);
  provenance["tasks"] = task_names;
  provenance["languages"] = languages;
  provenance["shots"] = shots;
  provenance["data"] = {{"dir", canonical_path(protocol.data_dir)},
                        {"prompts_sha1", settings["prompts_sha1"]},
                        {"files", data_files}};
  provenance.erase("prompts_sha1");
  provenance.erase("shots_option");
  provenance["runtime"]["threads"] = at::get_num_threads();
  provenance["wall_time_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const eval::EvalResults results = eval::summarize_results(provenance, evaluations, shots, seen);
  io::write_json_file(arguments.out, eval::results_to_json(results));
  if (!arguments.predictions.empty())
    io::write_file_atomically(arguments.predictions, eval::predictions_jsonl(evaluations));
  std::fputs(eval::format_results(results, format).c_str(), stdout);
  state->remove();
}

}  // namespace

void add_eval_command(CLI::App& app, const ProcessRuntime* processes) {
  auto arguments = std::make_shared<EvalArguments>();
  CLI::App* command = app.add_subcommand("eval", "Few-shot accuracy with constrained decoding over tasks and languages");
  command->footer(kEvalDescription);
  command->add_option("--model", arguments->model_dir, "Hugging Face checkpoint directory")->required();
  command->add_option("--adapter", arguments->adapter_dir, "PEFT LoRA adapter directory to attach");
  command->add_option("--tokenizer", arguments->tokenizer_file, "tokenizer.json (default: the model's)");
  command->add_option("--task", arguments->task, "emotion, snli, paws or all")->capture_default_str();
  command->add_option("--langs", arguments->languages, "all, or languages such as en,zh")->capture_default_str();
  command->add_option("--mode", arguments->mode, "scoring: prefix-sum or sequence")->capture_default_str();
  command->add_option("--labels", arguments->labels,
                      "how answers are written: english, same-language (the language's own words and "
                      "demonstrations) or task-agnostic (ox/horse); the last two for emotion only")
      ->capture_default_str();
  command->add_option("--shots", arguments->shots, "demonstrations per prompt (default: the task's own)")
      ->check(at_least(0));
  add_item_limit_options(command, arguments->items, "per language");
  command->add_option("--eval-split", arguments->eval_splits,
                      "evaluate only the evaluation items of a split file from `data build` (one per task)");
  command->add_option("--seed", arguments->seed, "seed for breaking exact ties and drawing the --limit sample")->capture_default_str();
  command->add_option("--seen", arguments->seen, "tuning languages, for seen/unseen averages (e.g. zh,de)");
  command->add_option("--batch-size", arguments->batch_size, "items per forward pass")->capture_default_str();
  command->add_flag("--no-prefix-cache", arguments->no_prefix_cache,
                    "run every prompt whole instead of reusing the demonstrations' KV cache");
  command->add_option("--out", arguments->out, "results JSON")->required();
  command->add_option("--predictions", arguments->predictions, "also write per-item predictions and scores (JSONL)");
  command->add_option("--format", arguments->format, "table on stdout: table, md or csv")->capture_default_str();
  command->add_flag("--restart", arguments->restart, "discard an interrupted run's state instead of resuming it");
  command->add_flag("--hash-weights", arguments->hash_weights,
                    "fingerprint the weights by their full content in the provenance (default: headers and sizes)");
  command->add_option("--max-pairs", arguments->max_pairs,
                      "evaluate at most N (task, language) pairs, then stop; rerun to continue (0 = no limit)")
      ->capture_default_str()
      ->check(at_least(0));
  command->add_option("--max-items", arguments->max_items,
                      "evaluate about N items (whole --save-every pieces), then stop; rerun to continue (0 = no limit)")
      ->capture_default_str()
      ->check(at_least(0));
  command->add_option("--save-every", arguments->save_every,
                      "evaluate and keep each pair in pieces of N items, so an interruption loses at most the pieces "
                      "in flight (0 = whole pairs); pieces are batched on their own, so a resumed run must use the "
                      "same N")
      ->capture_default_str()
      ->check(at_least(0));
  command->add_option("--truncate", arguments->truncate,
                      "prompts longer than the context: none (an error) or left (cut the item's first tokens)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "left"}));
  add_dist_timeout_option(command, arguments->dist_timeout);
  command->add_option("--data-dir", arguments->data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments, processes] { run_eval(*arguments, processes); });
}

}  // namespace qtalign::cli
