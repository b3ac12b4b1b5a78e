#include "eval/evaluation_run.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "data/task_items.h"
#include "eval/few_shot.h"
#include "eval/run_state.h"
#include "eval/shared_evaluation.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/output_lock.h"
#include "io/provenance.h"

namespace qtalign::eval {
namespace {

namespace fs = std::filesystem;

// What a spec resolves to against the benchmark data, all of it checked before the model loads.
struct EvaluationPlan {
  data::Protocol protocol;
  std::vector<std::string> task_names;
  std::vector<std::string> languages;
  std::vector<std::string> seen;
  std::map<std::string, data::TaskProtocol> tasks;  // with the spec's shots
  std::map<std::string, int> shots;
  std::map<std::string, data::EvaluationSplit> splits;
  io::Json split_provenance = io::Json::array();
};

std::string joined(const std::vector<std::string>& words) { return fmt::format("{}", fmt::join(words, ",")); }

// An output file's path can take the file: it is not a directory, and its directory exists or can be
// created and written (found out now rather than after all the compute).
void check_output_file(const fs::path& file) {
  if (fs::is_directory(file)) fail_at(file, "is a directory; the output needs a file name");
  io::check_output_directory(fs::absolute(file).parent_path());
}

void read_splits(const EvaluationSpec& spec, EvaluationPlan& plan) {
  for (const fs::path& file : spec.eval_splits) {
    data::EvaluationSplit split = data::read_evaluation_split(file);
    if (!plan.tasks.count(split.task))
      fail_at(file, "is a split of task " + split.task + ", which this run does not evaluate");
    if (plan.splits.count(split.task)) fail_at(file, "a second evaluation split for task " + split.task);
    plan.split_provenance.push_back(
        {{"path", model::canonical_path(file)}, {"task", split.task}, {"sha1", io::file_sha1(file)}});
    plan.splits.emplace(split.task, std::move(split));
  }
}

// Checks the spec against the data and, where this process writes, the outputs.
EvaluationPlan plan_evaluation(const EvaluationSpec& spec, bool writes) {
  if (spec.out.empty()) throw Error("evaluation: no results file (--out) given");
  if (spec.batch_size < 1) throw Error("--batch-size must be at least 1");
  if (spec.max_pairs < 0 || spec.max_items < 0 || spec.save_every < 0)
    throw Error("--max-pairs, --max-items and --save-every must not be negative");
  EvaluationPlan plan;
  plan.protocol = data::load_protocol(data::resolve_data_dir(spec.data_dir), spec.tasks_dir);
  plan.task_names =
      spec.task == "all" ? plan.protocol.study_task_names() : std::vector<std::string>{plan.protocol.task(spec.task).name};
  // A task file's languages are its own ("all" in its order); the study's tasks share prompts.json's.
  plan.languages = spec.task == "all" ? data::parse_language_list(plan.protocol, spec.languages)
                                      : data::parse_task_language_list(plan.protocol.task(spec.task), spec.languages);
  if (!spec.seen.empty()) plan.seen = data::parse_language_list(plan.protocol, joined(spec.seen));
  for (const std::string& name : plan.task_names) {
    const data::TaskProtocol& task = plan.protocol.task(name);
    const data::TaskProtocol& used =
        plan.tasks.emplace(name, spec.shots < 0 ? task : with_shots(task, spec.shots)).first->second;
    plan.shots[name] = used.shots;
    data::require_answerable(spec.answer_type, used.shots);
    // Refused before the model loads: every (task, language) must have words for the answer type.
    for (const std::string& language : plan.languages) data::answer_words(used, language, spec.answer_type);
  }
  read_splits(spec, plan);
  if (writes)
    for (const fs::path& output : {spec.out, spec.predictions})
      if (!output.empty()) check_output_file(output);
  return plan;
}

// Everything that changes a pair's results; a resumed run must match it.
io::Json run_settings(const EvaluationSpec& spec, const EvaluationPlan& plan, const model::LoadedModel& loaded) {
  io::Json model = loaded.provenance["model"];
  // How the weights are fingerprinted (--hash-weights) does not change results: the fingerprint goes
  // to the results' provenance only.
  model.erase("weights");
  io::Json runtime = loaded.provenance["runtime"];
  runtime.update({{"batch_size", spec.batch_size}, {"prefix_cache", spec.prefix_cache}, {"save_every", spec.save_every}});
  io::Json settings = {{"qtalign_version", QTALIGN_VERSION},
          {"model", model},
          {"adapter", loaded.provenance["adapter"]},
          {"tokenizer", loaded.provenance["tokenizer"]},
          {"mode", scoring_mode_name(spec.mode)},
          {"answer_type", data::answer_type_name(spec.answer_type)},
          {"shots_option", spec.shots < 0 ? io::Json(nullptr) : io::Json(spec.shots)},
          {"seed", spec.seed},
          {"limit", spec.limit.count > 0 ? io::Json(spec.limit.count) : io::Json(nullptr)},
          {"item_pick", data::item_pick_description(spec.limit)},
          {"eval_splits", plan.split_provenance},
          {"truncate", spec.truncate_left ? "left" : "none"},
          {"prompts_sha1", io::file_sha1(plan.protocol.source)},
          {"runtime", runtime}};
  for (const std::string& name : plan.task_names)
    if (const data::TaskProtocol& task = plan.protocol.task(name); !task.source.empty())
      settings["task_files"][name] = {{"path", model::canonical_path(task.source)}, {"sha1", io::file_sha1(task.source)}};
  return settings;
}

// Rank 0's state of the run: what a killed run left behind goes (temporaries beside the outputs, never
// partial outputs), and with `restart` the finished pairs too.
RunState open_state(const EvaluationSpec& spec, const io::Json& settings) {
  io::remove_abandoned_temporaries(state_directory_for(spec.out));
  for (const fs::path& output : {spec.out, spec.predictions})
    if (!output.empty()) io::remove_abandoned_temporaries(fs::absolute(output).parent_path());
  if (spec.restart) fs::remove_all(state_directory_for(spec.out));
  return RunState(spec.out, settings);
}

// The items to evaluate: the split's evaluation items (all without a split), then the limit's pick,
// which gives the same items in every language.
std::vector<size_t> selected_indices(const std::vector<data::TaskItem>& items, const data::EvaluationSplit* split,
                                     const data::ItemLimit& limit, const std::string& context) {
  if (split && split->evaluation_indices.empty()) return {};
  return data::pick_test_items(items, split ? split->evaluation_indices : std::vector<size_t>(), limit, context);
}

// Every (task, language) pair with its items; data_files receives each test file's content hash.
std::vector<PairJob> pair_jobs(const EvaluationSpec& spec, const EvaluationPlan& plan, io::Json& data_files) {
  std::vector<PairJob> jobs;
  for (const std::string& task_name : plan.task_names) {
    const data::TaskProtocol& task = plan.tasks.at(task_name);
    const auto split = plan.splits.find(task_name);
    for (const std::string& language : plan.languages) {
      const std::string file_name = task.language(language).file;
      const std::string file_hash = io::file_sha1(plan.protocol.path_of(file_name));
      data_files[file_name] = file_hash;
      const std::vector<data::TaskItem> all_items = data::read_test_set(plan.protocol, task_name, language);
      const std::vector<size_t> indices =
          selected_indices(all_items, split == plan.splits.end() ? nullptr : &split->second, spec.limit,
                           task_name + "/" + language);
      if (indices.empty()) throw Error(fmt::format("{}/{}: no items left to evaluate", task_name, language));
      PairJob job{&task, language, {}, file_hash};
      for (const size_t index : indices) job.items.push_back(all_items[index]);
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

EvaluationOptions evaluation_options(const EvaluationSpec& spec) {
  EvaluationOptions options;
  options.mode = spec.mode;
  options.batch_size = spec.batch_size;
  options.prefix_cache = spec.prefix_cache;
  options.seed = spec.seed;
  options.truncate_left = spec.truncate_left;
  options.answer_type = spec.answer_type;
  return options;
}

// What a finished pair's scores do not show: prompts run without the cache, prompts cut to fit.
void note_pair(const PairJob& job, const LanguageEvaluation& evaluation, int64_t context) {
  const std::string pair = job.task->name + "/" + job.language;
  if (evaluation.prefix_fallbacks > 0)
    std::fprintf(stderr, "%s: %ld of %zu prompts ran without the prefix cache (a token straddles its end)\n",
                 pair.c_str(), static_cast<long>(evaluation.prefix_fallbacks), job.items.size());
  if (evaluation.truncated_prompts > 0)
    std::fprintf(stderr, "%s: %ld of %zu prompts cut from the left to fit the context of %ld tokens\n", pair.c_str(),
                 static_cast<long>(evaluation.truncated_prompts), job.items.size(), static_cast<long>(context));
}

// The results' provenance: the settings, where and when they ran, the weights, the data read.
io::Json results_provenance(const io::Json& settings, const EvaluationPlan& plan, const model::LoadedModel& loaded,
                            const io::Json& data_files, at::Device device, double wall_seconds) {
  io::Json provenance = settings;
  provenance.update(io::run_provenance(device));
  provenance["model"]["weights"] = loaded.provenance["model"]["weights"];
  provenance["tasks"] = plan.task_names;
  provenance["languages"] = plan.languages;
  provenance["shots"] = plan.shots;
  provenance["data"] = {{"dir", model::canonical_path(plan.protocol.data_dir)},
                        {"prompts_sha1", settings["prompts_sha1"]},
                        {"files", data_files}};
  provenance.erase("prompts_sha1");
  provenance.erase("shots_option");
  provenance["runtime"]["threads"] = at::get_num_threads();
  provenance["wall_time_s"] = wall_seconds;
  return provenance;
}

}  // namespace

EvaluationResult run(const EvaluationSpec& spec, distributed::ProcessGroup& group,
                     const std::function<void(const std::string&)>& resume_hint) {
  const auto wall_start = std::chrono::steady_clock::now();
  const EvaluationPlan plan = plan_evaluation(spec, group.is_main());
  model::LoadedModel loaded = model::load_model_for_inference(spec.source, spec.compute);
  const io::Json settings = run_settings(spec, plan, loaded);
  std::optional<io::OutputLock> lock;  // a second run on the same results fails here instead of racing this one
  std::optional<RunState> state;       // only rank 0 writes
  if (group.is_main()) {
    lock.emplace(state_directory_for(spec.out));
    state.emplace(open_state(spec, settings));
    if (resume_hint)
      resume_hint("rerun the same command to resume: finished (task, language) pairs, and the finished pieces of "
                  "the others, are kept in " + state->directory().string());
  }
  io::Json data_files = io::Json::object();
  const std::vector<PairJob> jobs = pair_jobs(spec, plan, data_files);
  const PairSchedule schedule{spec.save_every, spec.max_pairs, spec.max_items};
  std::vector<std::optional<LanguageEvaluation>> outcomes = evaluate_pairs(
      group, loaded.model, loaded.tokenizer, jobs, evaluation_options(spec), schedule, state ? &*state : nullptr,
      [&loaded](const PairJob& job, const LanguageEvaluation& evaluation) {
        note_pair(job, evaluation, loaded.model.config.max_position_embeddings);
      });
  EvaluationResult result;
  if (!group.is_main()) return result;
  std::vector<LanguageEvaluation> evaluations;
  for (std::optional<LanguageEvaluation>& outcome : outcomes)
    if (outcome) evaluations.push_back(std::move(*outcome));
  result.remaining_pairs = jobs.size() - evaluations.size();
  result.complete = result.remaining_pairs == 0;
  if (!result.complete) return result;

  const double wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  result.results = summarize_results(
      results_provenance(settings, plan, loaded, data_files, spec.compute.device, wall_seconds), evaluations,
      plan.shots, plan.seen);
  io::write_json_file(spec.out, results_to_json(*result.results));
  if (!spec.predictions.empty()) io::write_file_atomically(spec.predictions, predictions_jsonl(evaluations));
  state->remove();
  return result;
}

std::string stopped_note(const EvaluationSpec& spec, const EvaluationResult& result) {
  std::vector<std::string> limits;
  if (spec.max_pairs > 0) limits.push_back(fmt::format("{} pairs (--max-pairs)", spec.max_pairs));
  if (spec.max_items > 0) limits.push_back(fmt::format("{} items (--max-items)", spec.max_items));
  return fmt::format("stopped after {}; {} remain: rerun the same command to continue\n", fmt::join(limits, " or "),
                     result.remaining_pairs);
}

std::vector<std::string> parse_seen_languages(const std::string& text) {
  std::vector<std::string> languages;
  if (text.empty()) return languages;
  for (size_t start = 0, comma = 0; comma != std::string::npos; start = comma + 1) {
    comma = text.find(',', start);
    languages.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
  }
  return languages;
}

std::string seen_languages_text(const std::vector<std::string>& languages) { return joined(languages); }

bool parse_truncation(const std::string& name) {
  if (name != "none" && name != "left") throw Error("--truncate must be none or left, not " + name);
  return name == "left";
}

std::string truncation_name(bool truncate_left) { return truncate_left ? "left" : "none"; }

std::vector<std::string> command_line(const EvaluationSpec& spec) {
  std::vector<std::string> line = {"eval"};
  const auto add = [&line](const std::vector<std::string>& words) { line.insert(line.end(), words.begin(), words.end()); };
  add(io::option_words(spec));
  if (spec.limit.count > 0 && spec.limit.pick == data::ItemPick::first)
    add({"--first", std::to_string(spec.limit.count)});
  if (spec.limit.count > 0 && spec.limit.pick == data::ItemPick::balanced) {
    if (spec.limit.seed != spec.seed)
      throw Error(fmt::format("evaluation: a --limit sample drawn with seed {} under --seed {} has no command line",
                              spec.limit.seed, spec.seed));
    add({"--limit", std::to_string(spec.limit.count)});
  }
  add(model::compute_arguments(spec.compute));
  return line;
}

const char* const kEvaluationHelp = R"(Each prompt is the language's demonstrations from prompts.json followed by the test item in the
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

}  // namespace qtalign::eval
