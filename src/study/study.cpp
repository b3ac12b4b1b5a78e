#include "study/study.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <optional>

#include "analysis/base_tuned.h"
#include "analysis/lens_pipeline.h"
#include "analysis/representation_pipeline.h"
#include "data/answer_type.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "data/question_translation.h"
#include "data/question_translation_build.h"
#include "distributed/process_group.h"
#include "eval/compare.h"
#include "eval/evaluation_run.h"
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/input_path.h"
#include "io/interruption.h"
#include "io/json_file.h"
#include "io/progress.h"
#include "io/provenance.h"
#include "model/dtype.h"
#include "report/report.h"
#include "study/demo_model.h"
#include "study/stages.h"
#include "train/training_run.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The study of the paper: 10k question-translation examples.
constexpr size_t kDefaultSize = 10000;

// The banner before and after a demo study.
std::string demo_notice() {
  return "This is the demo. " + demo_model_description() +
         "\nThe study's machinery is real; real results need a real checkpoint: qtalign run --model DIR ...\n";
}

struct Paths {
  fs::path root, model, data, train_set, split, eval, base_results, tuned_results, adapter, training_summary,
      compare, lens_base, lens_tuned, pca, pca_base, pca_tuned, cosine_comparison, record;

  explicit Paths(const fs::path& out)
      : root(out),
        model(out / "model"),
        data(out / "data"),
        train_set(out / "data" / "train.jsonl"),
        split(out / "data" / "evaluation_split.json"),
        eval(out / "eval"),
        base_results(out / "eval" / "base.json"),
        tuned_results(out / "eval" / "tuned.json"),
        adapter(out / "adapter"),
        training_summary(out / "adapter" / "training_summary.json"),
        compare(out / "compare"),
        lens_base(out / "lens" / "base"),
        lens_tuned(out / "lens" / "tuned"),
        pca(out / "pca"),
        pca_base(out / "pca" / "base"),
        pca_tuned(out / "pca" / "tuned"),
        cosine_comparison(out / "pca" / "cosine_comparison"),
        record(out / "study.json") {}
};

// Prints a stage's equivalent command line, so that the log stays copy-pasteable, and returns it.
std::string announce(const std::vector<std::string>& command_line, const distributed::ProcessGroup& group) {
  const std::string line = quoted_command(command_line);
  if (group.is_main()) std::fprintf(stderr, "$ %s\n", line.c_str());
  return line;
}

io::Json build_training_set(const data::Protocol& protocol, const StudyOptions& options,
                            const std::vector<std::string>& languages, const Paths& paths) {
  data::BuildOptions build;
  build.task = options.task;
  build.languages = languages;
  build.target = options.target;
  build.seed = options.seed;
  build.exclude_test = true;
  build.size = options.size.value_or(0);
  data::BuildResult result = data::build_question_translation_set(protocol, build);
  if (!options.size && result.examples.size() > kDefaultSize) {
    build.size = kDefaultSize;
    result = data::build_question_translation_set(protocol, build);
  }
  if (!options.size && result.examples.size() < kDefaultSize)
    std::fprintf(stderr,
                 "data: %s has %zu question-translation examples for %s outside the evaluation items (fewer than the "
                 "study's %zu): using all of them\n",
                 options.task.c_str(), result.examples.size(), fmt::format("{}", fmt::join(languages, ",")).c_str(), kDefaultSize);
  for (const fs::path& file : options.held_out_splits) {
    const data::EvaluationSplit held_out = data::read_evaluation_split(file);
    if (held_out.task != options.task) continue;
    for (size_t index : result.evaluation_split->training_indices)
      if (std::binary_search(held_out.evaluation_indices.begin(), held_out.evaluation_indices.end(), index))
        fail_at(file, fmt::format("evaluates {} item {}, which the training set of {} may draw from (another seed or "
                                  "evaluation fraction?)",
                                  options.task, index, paths.root.string()));
  }
  io::Json report = io::Json::object();
  for (const auto& [language, counts] : result.languages) {
    std::fprintf(stderr, "data: %s: %zu drawn of %zu available from %s (%zu evaluation items excluded)\n",
                 language.c_str(), counts.drawn, counts.available, counts.source.c_str(), counts.excluded);
    report[language] = {{"source", counts.source},
                        {"available", counts.available},
                        {"excluded", counts.excluded},
                        {"drawn", counts.drawn}};
  }
  data::write_question_translation_set(result, paths.train_set, paths.split);  // train_set marks the stage done
  return {{"examples", result.examples.size()},
          {"languages", report},
          {"evaluation_items", result.evaluation_split->evaluation_indices.size()}};
}

// The evaluation of a single study: the tuning task's split restricts the items of that task (eval
// refuses a split of a task it does not evaluate).
EvaluationRun study_evaluation(const StudyOptions& options, const data::Protocol& protocol, const Paths& paths,
                               const std::vector<std::string>& seen, bool tuned) {
  EvaluationRun run{options.eval_task, options.labels, options.shots, seen, {},
                    tuned ? paths.tuned_results : paths.base_results};
  if (options.eval_task == "all" || protocol.task(options.eval_task).name == options.task) run.splits = {paths.split};
  return run;
}

// The configuration's training: the study's settings and seed, an optimizer step of batch x
// grad_accum examples however many processes share it, resumed from its checkpoint when interrupted.
train::TrainingSpec training_spec(const StudyOptions& options, const fs::path& model_dir, const Paths& paths,
                                  int world_size) {
  train::TrainingSpec spec{model_dir, paths.train_set, paths.adapter, options.training, true, false, options.compute};
  spec.settings.seed = options.seed;
  spec.settings.grad_accum = grad_accum_per_process(options.training.grad_accum, world_size);
  return spec;
}

io::Json train(const StudyOptions& options, const fs::path& model_dir, const Paths& paths,
               distributed::ProcessGroup& group) {
  const train::TrainingSpec spec = training_spec(options, model_dir, paths, group.world_size());
  const std::string command = announce(train::command_line(spec), group);
  const train::TrainingSummary summary = train::run(spec, group);
  if (!group.is_main()) return io::Json::object();
  if (summary.steps == 0) fail_at(paths.adapter / "training_log.jsonl", "training finished without a logged step");
  io::Json details = train::to_json(summary);
  details["command"] = command;
  io::write_json_file(paths.training_summary, details);  // its presence marks the stage done
  return details;
}

io::Json compare(const std::vector<std::string>& seen, const Paths& paths) {
  const eval::EvalResults base = eval::read_results(paths.base_results);
  const eval::EvalResults tuned = eval::read_results(paths.tuned_results);
  const eval::Comparison comparison =
      eval::compare_results(base, tuned, seen, "eval/base.json", "eval/tuned.json");
  eval::write_comparison(comparison, paths.compare / "compare");
  std::fprintf(stderr, "%s", eval::comparison_markdown(comparison).c_str());
  return {{"average_delta", comparison.all.delta}};
}

// The lens and representations of the base model, then of the tuned one (one model load, the
// adapter attached in between: analysis::run_base_and_tuned), their forward passes shared over `group`.
void analyse(const StudyOptions& options, const fs::path& model_dir, const Paths& paths, const data::Protocol& protocol,
             StageRunner& stages, distributed::ProcessGroup& group) {
  // Rank 0 decides, as it decides every stage.
  const bool pending = group.broadcast_flag(
      !fs::exists(paths.lens_base / "summary.json") || !fs::exists(paths.lens_tuned / "summary.json") ||
      !fs::exists(paths.pca_base / "representations.json") || !fs::exists(paths.pca_tuned / "representations.json"));
  std::optional<model::LoadedModel> loaded;
  if (pending) {
    if (group.is_main()) std::fprintf(stderr, "\nloading %s for the analyses\n", model_dir.c_str());
    loaded.emplace(model::load_model_for_inference({model_dir}, options.compute));
  }
  const data::EvaluationSplit split = data::read_evaluation_split(paths.split);

  analysis::LensSpec lens;
  lens.task = "emotion";  // the task with native-label lens prompts
  if (options.lens_languages != "all") lens.languages = data::parse_language_list(protocol, options.lens_languages);
  lens.limit = {static_cast<size_t>(options.analysis_limit), data::ItemPick::balanced, options.seed};
  lens.bootstrap.seed = options.seed;
  if (split.task == lens.task) lens.item_indices = split.evaluation_indices;
  lens.out = paths.lens_base.parent_path();
  lens.resume = true;

  analysis::RepresentationSpec representations;
  representations.task = lens.task;  // the study's PCA prompt: emotion with same-language labels
  representations.languages = data::parse_language_list(protocol, options.pca_languages);
  representations.limit = {static_cast<size_t>(options.analysis_limit), data::ItemPick::balanced, options.seed};
  if (split.task == representations.task) representations.item_indices = split.evaluation_indices;
  representations.bootstrap = {2000, options.seed, 0.95};
  representations.out = paths.pca;

  const analysis::VariantAnalysis lens_stages{
      [&](const std::string& variant) {
        stages.run_shared("logit lens (" + variant + ")", lens.out / variant / "summary.json", [&] {
          analysis::run_lens_variant(group, *loaded, protocol, analysis::plan_lens(loaded->tokenizer, protocol, lens),
                                     lens, variant);
          return io::Json{{"languages", analysis::lens_spec_languages(protocol, lens)},
                          {"items_per_language_limit", lens.limit.count}};
        });
      },
      [&] {
        stages.run_on_main("logit lens: base vs tuned", lens.out / "comparison" / "comparison.json", [&] {
          analysis::compare_lens_variants(group, protocol, lens);
          return io::Json::object();
        });
      }};
  const analysis::VariantAnalysis representation_stages{
      [&](const std::string& variant) {
        stages.run_shared("representations (" + variant + ")", representations.out / variant / "representations.json",
                          [&] {
                            representations.layers = analysis::parse_layer_list(
                                options.pca_layers, loaded->model.config.num_hidden_layers);
                            const std::optional<analysis::RepresentationResult> result =
                                analysis::run_representation_variant(group, *loaded, protocol, representations, variant);
                            if (!result) return io::Json::object();  // a rank other than 0
                            return io::Json{{"languages", result->languages}, {"items", result->item_indices.size()}};
                          });
      },
      [&] {
        stages.run_on_main("representations: base vs tuned", paths.cosine_comparison.string() + ".csv", [&] {
          analysis::compare_representation_variants(group, representations);
          return io::Json::object();
        });
      }};
  analysis::run_base_and_tuned(loaded ? &*loaded : nullptr, paths.adapter, {lens_stages, representation_stages});
}

io::Json settings_json(const StudyOptions& options, const std::vector<std::string>& train_languages) {
  io::Json settings = {
      {"model", options.model_dir.empty() ? io::Json("demo") : io::Json(fs::absolute(options.model_dir).string())},
      {"task", options.task},
      {"train_languages", train_languages},
      {"target", options.target},
      {"labels", data::answer_type_name(options.labels)},
      {"shots", options.shots == data::kTaskShots ? io::Json("default") : io::Json(options.shots)},
      {"analyses", options.analyses},
      {"size", options.size ? io::Json(*options.size) : io::Json("default")},
      {"seed", options.seed},
      {"eval_task", options.eval_task},
      {"eval_languages", options.eval_languages},
      {"eval_limit", options.eval_limit},
      {"analysis_limit", options.analysis_limit},
      {"lens_languages", options.lens_languages},
      {"pca_languages", options.pca_languages},
      {"pca_layers", options.pca_layers},
      {"dtype", model::dtype_name(options.compute.dtype)},
      {"quantization", model::describe_quantization(options.compute.quantization)}};
  train::TrainingSettings training = options.training;
  training.seed = options.seed;
  settings.update(train::to_json(training));
  return settings;
}

// What run_study and run_configuration share: the settings check, the record, and the stages that make
// and use the configuration's adapter.
class ConfigurationStages {
 public:
  ConfigurationStages(const StudyOptions& options, fs::path model_dir, int stages, distributed::ProcessGroup& group)
      : options_(options),
        paths_(options.out),
        model_dir_(std::move(model_dir)),
        protocol_(data::load_protocol(data::resolve_data_dir(options.data_dir), options.tasks_dir)),
        train_languages_(data::parse_language_list(protocol_, options.train_languages)),
        group_(group),
        record_((validate(), paths_.record), settings_json(options, train_languages_), group),
        stages_(record_, stages, group) {
    record_.set("data", data_record(protocol_));
    record_.set("processes", group.world_size());
  }

  void build_data() {
    stages_.run_on_main("data: question-translation training set", paths_.train_set,
                        [&] { return build_training_set(protocol_, options_, train_languages_, paths_); });
  }
  void train() {
    stages_.run_shared("train: LoRA on question translation", paths_.training_summary,
                       [&] { return study::train(options_, model_dir_, paths_, group_); });
  }
  void evaluate(const std::string& name, const EvaluationRun& run, bool tuned) {
    stages_.run_shared(name, run.results, [&] {
      return evaluate_model(group_, options_, model_dir_, tuned ? paths_.adapter : fs::path(), run);
    });
  }

  const StudyOptions& options_;
  const Paths paths_;
  const fs::path model_dir_;
  const data::Protocol protocol_;
  const std::vector<std::string> train_languages_;
  distributed::ProcessGroup& group_;
  StudyRecord record_;
  StageRunner stages_;

 private:
  // Everything checked before any work.
  void validate() const {
    if (options_.out.empty()) throw Error("run: --out is required");
    for (const std::string& language : train_languages_)
      if (language == options_.target)
        throw Error(fmt::format("--train-langs: {} is the translation target, not a tuning language", language));
    protocol_.require_language(options_.target);
    protocol_.task(options_.task);
    if (options_.eval_task != "all") protocol_.task(options_.eval_task);
    data::parse_language_list(protocol_, options_.eval_languages);
    data::require_answerable(options_.labels, options_.shots);
    if (!options_.model_dir.empty()) io::require_file(model_dir_ / "config.json", "not a Hugging Face checkpoint");
    grad_accum_per_process(options_.training.grad_accum, group_.world_size());
  }
};

}  // namespace

io::Json data_record(const data::Protocol& protocol) {
  io::Json record = {{"dir", fs::absolute(protocol.data_dir).string()}, {"prompts_sha1", io::file_sha1(protocol.source)}};
  if (!protocol.tasks_dir.empty()) record["tasks_dir"] = fs::absolute(protocol.tasks_dir).lexically_normal().string();
  return record;
}

fs::path predictions_file(const fs::path& results) {
  return fs::path(results).replace_extension(".predictions.jsonl");
}

int64_t grad_accum_per_process(int64_t grad_accum, int world_size) {
  if (grad_accum % world_size != 0)
    throw Error(fmt::format("--grad-accum {} does not divide among {} processes: the study's optimizer step is --batch x "
                            "--grad-accum examples whatever the number of processes (use a multiple of {})",
                            grad_accum, world_size, world_size));
  return grad_accum / world_size;
}

eval::EvaluationSpec evaluation_spec(const StudyOptions& options, const fs::path& model_dir, const fs::path& adapter,
                                     const EvaluationRun& run) {
  eval::EvaluationSpec spec;
  spec.source = {model_dir, {}, adapter};
  spec.data_dir = options.data_dir;
  spec.tasks_dir = options.tasks_dir;
  spec.out = run.results;
  spec.predictions = predictions_file(run.results);
  spec.eval_splits = run.splits;
  spec.task = run.task;
  spec.languages = options.eval_languages;
  spec.answer_type = run.labels;
  spec.shots = run.shots;
  spec.limit = {static_cast<size_t>(options.eval_limit), data::ItemPick::balanced, options.seed};
  spec.seed = options.seed;
  spec.seen = run.seen;
  spec.compute = options.compute;
  return spec;
}

io::Json evaluate_model(distributed::ProcessGroup& group, const StudyOptions& options, const fs::path& model_dir,
                        const fs::path& adapter, const EvaluationRun& run) {
  const eval::EvaluationSpec spec = evaluation_spec(options, model_dir, adapter, run);
  if (group.is_main()) fs::create_directories(fs::absolute(run.results).parent_path());
  io::Json details = {{"command", announce(eval::command_line(spec), group)}};
  const eval::EvaluationResult result = eval::run(spec, group);
  if (!group.is_main()) return io::Json::object();
  if (!result.results) fail_at(run.results, "the evaluation stopped before its last pair");
  io::write_file_atomically(fs::path(run.results).replace_extension(".md"),
                            eval::format_results(*result.results, eval::TableFormat::markdown));
  details["average_accuracy"] = result.results->averages.all.accuracy;
  return details;
}

void demo_model_stage(StageRunner& stages, const StudyOptions& options, const fs::path& directory) {
  stages.run_on_main("demo model (random weights, an attention layer arranged to read the item, Qwen tokenizer)",
                     directory / "config.json", [&] {
    write_demo_checkpoint(directory, demo_tokenizer_dir(options.demo_tokenizer_dir), options.seed);
    const model::ModelConfig config = demo_model_config();
    return io::Json{{"path", directory.string()},
                    {"hidden_size", config.hidden_size},
                    {"layers", config.num_hidden_layers},
                    {"vocab_size", config.vocab_size}};
  });
}

void run_configuration(const StudyOptions& options, const fs::path& model_dir, const std::vector<EvaluationRun>& tuned,
                       distributed::ProcessGroup& group) {
  ConfigurationStages configuration(options, model_dir, 2 + static_cast<int>(tuned.size()), group);
  configuration.record_.set("model", fs::absolute(model_dir).string());
  configuration.build_data();
  configuration.train();
  for (const EvaluationRun& run : tuned)
    configuration.evaluate(fmt::format("eval: tuned model ({}, {} labels, {} shots)", run.task,
                                       data::answer_type_name(run.labels), data::shots_name(run.shots)),
                           run, true);
}

void run_study(const StudyOptions& options, distributed::ProcessGroup& group) {
  const auto start = Clock::now();
  const bool demo = options.model_dir.empty();
  const bool report = group.is_main();
  const int total = (options.analyses ? 12 : 6) + (demo ? 1 : 0);
  ConfigurationStages study(options, demo ? Paths(options.out).model : options.model_dir, total, group);
  const Paths& paths = study.paths_;
  const data::Protocol& protocol = study.protocol_;
  if (demo && report) std::fprintf(stderr, "%s", demo_notice().c_str());
  study.record_.set("demo", demo);
  if (demo) study.record_.set("demo_model", demo_model_description());  // what the report says of it

  if (demo) demo_model_stage(study.stages_, options, paths.model);
  study.build_data();
  const std::vector<std::string> seen =
      data::seen_languages(data::parse_language_list(protocol, options.train_languages), options.target);
  study.evaluate("eval: base model", study_evaluation(options, protocol, paths, seen, false), false);
  study.train();
  study.evaluate("eval: tuned model", study_evaluation(options, protocol, paths, seen, true), true);
  study.stages_.run_on_main("compare: base vs tuned", paths.compare / "compare.json",
                            [&] { return compare(seen, paths); });
  if (options.analyses) analyse(options, study.model_dir_, paths, protocol, study.stages_, group);

  // The report is rank 0's; the others wait, so that none ends with success before the study does.
  if (report) {
    std::fprintf(stderr, "\n[%d/%d] report\n", total, total);
    study.record_.set("finished", io::utc_timestamp());
    study.record_.set("wall_seconds_last_run", std::chrono::duration<double>(Clock::now() - start).count());
    report::write_study_report(paths.root);
    std::fprintf(stderr, "\nstudy complete: %s (and report.md), %s\n", (paths.root / "report.html").c_str(),
                 io::format_duration(std::chrono::duration<double>(Clock::now() - start).count()).c_str());
    if (demo) std::fprintf(stderr, "%s", demo_notice().c_str());
  }
  group.barrier();
}

void apply_demo_settings(StudyOptions& options, model::ComputeRequest& runtime,
                         const std::function<bool(const std::string& option)>& keeps) {
  const DemoSettings settings;
  const auto unless_kept = [&](const char* option, auto& field, const auto& demo_value) {
    if (!keeps(option)) field = demo_value;
  };
  if (!options.size) options.size = settings.size;
  unless_kept("--eval-limit", options.eval_limit, settings.eval_limit);
  unless_kept("--analysis-limit", options.analysis_limit, settings.analysis_limit);
  unless_kept("--epochs", options.training.epochs, settings.epochs);
  unless_kept("--batch", options.training.micro_batch, settings.micro_batch);
  unless_kept("--grad-accum", options.training.grad_accum, settings.grad_accum);
  unless_kept("--cutoff", options.training.cutoff, settings.cutoff);
  unless_kept("--eval-every", options.training.eval_every, settings.eval_every);
  unless_kept("--lr", options.training.lr, settings.lr);
  unless_kept("--dtype", runtime.dtype, settings.dtype);
  unless_kept("--threads", runtime.threads, settings.threads);
}

std::unique_ptr<io::OutputLock> hold_study_directory(const fs::path& out, const distributed::ProcessGroup& group) {
  if (!group.is_main()) return nullptr;
  auto lock = std::make_unique<io::OutputLock>(out);
  io::set_interrupt_hint("rerun the same command to resume: the finished stages in " + out.string() +
                         " are kept and skipped");
  return lock;
}

const char* const kStudyProcessesHelp = R"(On several processes (qtalign launch -n N -- ..., or torchrun) every stage runs on all of them:
evaluations, trainings (data-parallel; an optimizer step stays --batch x --grad-accum examples, so
--grad-accum must be a multiple of N) and the lens and PCA share their work; rank 0 alone makes the
demo model, the training sets, the comparisons and the reports while the others wait for it, at most
--dist-timeout seconds. The study folder holds the files one process writes (adapters up to float
rounding). A process that dies makes the others fail naming it; rerunning the same command resumes.)";

const char* const kRunHelp = R"(The whole study for one model, in one command:
  data build -> eval base -> train (LoRA) -> eval tuned -> compare -> logit lens and PCA for base and
  tuned -> report (STUDY_DIR/report.html, self-contained, and report.md).
Every stage is skipped when its output already exists, so rerunning the same command resumes an
interrupted study; study.json records the settings (a rerun must use the same), each stage's status,
time and command.

Several values for --train-langs, --target, --labels or --shots (e.g. --train-langs zh sw zh,es) make
a grid, run as `qtalign study` runs it (see qtalign study --help).

Without --model, qtalign makes a small demo checkpoint (Qwen2 architecture, Qwen's real tokenizer) in
STUDY_DIR/model and runs the study on it with small limits, in minutes on a laptop (unless given:
--size 96 --eval-limit 16 --analysis-limit 24 --epochs 1 --batch 4 --grad-accum 2 --cutoff 512
--eval-every 0 --lr 5e-3 --dtype fp32 --threads 1). Its numbers are not the study's: real results
need a real checkpoint.)";

}  // namespace qtalign::study
