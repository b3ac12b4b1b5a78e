#include "study/study.h"

#include <fmt/format.h>

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
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/progress.h"
#include "io/provenance.h"
#include "study/demo_model.h"
#include "study/report.h"
#include "study/stages.h"

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

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string joined;
  for (const std::string& part : parts) joined += (joined.empty() ? "" : separator) + part;
  return joined;
}

std::vector<std::string> runtime_arguments(const StudyOptions& options) {
  std::vector<std::string> arguments = {"--threads", std::to_string(options.threads), "--device", options.device,
                                        "--dtype", options.dtype};
  if (options.quantization.type)
    arguments.insert(arguments.end(), {"--quantize", model::quant_type_name(*options.quantization.type),
                                       "--quant-blocksize", std::to_string(options.quantization.blocksize)});
  if (options.quantization.double_quant) arguments.push_back("--double-quant");
  return arguments;
}

io::Json run_logged(const SubcommandRunner& run_subcommand, std::vector<std::string> arguments,
                    const StudyOptions& options, const distributed::ProcessGroup& group) {
  for (std::string& argument : runtime_arguments(options)) arguments.push_back(std::move(argument));
  const std::string line = quoted_command(arguments);
  if (group.is_main()) std::fprintf(stderr, "$ %s\n", line.c_str());
  run_subcommand(arguments);
  return {{"command", line}};
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
                 options.task.c_str(), result.examples.size(), join(languages, ",").c_str(), kDefaultSize);
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
  data::write_evaluation_split(paths.split, *result.evaluation_split);
  data::write_examples(paths.train_set, result.examples);  // last: its presence marks the stage done
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

io::Json train(const SubcommandRunner& run_subcommand, const StudyOptions& options, const fs::path& model_dir,
               const Paths& paths, distributed::ProcessGroup& group) {
  io::Json details = run_logged(
      run_subcommand,
      {"train", "--model", model_dir.string(), "--data", paths.train_set.string(), "--out", paths.adapter.string(),
       "--epochs", std::to_string(options.epochs), "--batch", std::to_string(options.micro_batch), "--grad-accum",
       std::to_string(grad_accum_per_process(options.grad_accum, group.world_size())), "--lr",
       fmt::format("{}", options.lr), "--cutoff", std::to_string(options.cutoff), "--eval-every",
       std::to_string(options.eval_every), "--seed", std::to_string(options.seed), "--resume"},
      options, group);
  if (!group.is_main()) return io::Json::object();
  const std::vector<io::Json> log = io::read_json_records(paths.adapter / "training_log.jsonl");
  if (log.empty()) fail_at(paths.adapter / "training_log.jsonl", "training finished without a logged step");
  io::Json summary = {{"steps", log.back().value("step", 0)},
                      {"first_loss", log.front().value("loss", 0.0)},
                      {"last_loss", log.back().value("loss", 0.0)},
                      {"command", details["command"]}};
  for (const io::Json& record : log)
    if (record.contains("val_loss") &&
        (!summary.contains("best_val_loss") || record["val_loss"].get<double>() < summary["best_val_loss"].get<double>())) {
      summary["best_val_loss"] = record["val_loss"];
      summary["best_step"] = record["step"];
    }
  io::write_json_file(paths.training_summary, summary);  // its presence marks the stage done
  return summary;
}

io::Json compare(const std::vector<std::string>& seen, const Paths& paths) {
  const eval::EvalResults base = eval::read_results(paths.base_results);
  const eval::EvalResults tuned = eval::read_results(paths.tuned_results);
  const eval::Comparison comparison =
      eval::compare_results(base, tuned, seen, "eval/base.json", "eval/tuned.json");
  io::write_file_atomically(paths.compare / "compare.md", eval::comparison_markdown(comparison));
  eval::write_comparison_charts(comparison, paths.compare / "compare");
  io::write_json_file(paths.compare / "compare.json", eval::comparison_to_json(comparison));
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
    model::ComputeSettings compute;
    compute.device = options.analysis_device;
    compute.dtype = options.analysis_dtype;
    compute.quantization = options.quantization;
    loaded.emplace(model::load_model_with_tokenizer({model_dir}, compute));
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
      {"labels", options.labels},
      {"shots", options.shots < 0 ? io::Json("default") : io::Json(options.shots)},
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
      {"epochs", options.epochs},
      {"micro_batch", options.micro_batch},
      {"grad_accum", options.grad_accum},
      {"lr", options.lr},
      {"cutoff", options.cutoff},
      {"eval_every", options.eval_every},
      {"dtype", options.dtype},
      {"quantization", model::describe_quantization(options.quantization)}};
  if (options.model_dir.empty()) settings["demo_examples"] = options.demo_examples;
  return settings;
}

// The languages the configuration saw in tuning: its sources and its target.
std::vector<std::string> seen_languages(const data::Protocol& protocol, const StudyOptions& options) {
  std::vector<std::string> seen = data::parse_language_list(protocol, options.train_languages);
  if (std::find(seen.begin(), seen.end(), options.target) == seen.end()) seen.push_back(options.target);
  return seen;
}

// What run_study and run_configuration share: the settings check, the record, and the stages that make
// and use the configuration's adapter.
class ConfigurationStages {
 public:
  ConfigurationStages(const StudyOptions& options, fs::path model_dir, int stages, distributed::ProcessGroup& group)
      : options_(options),
        paths_(options.out),
        model_dir_(std::move(model_dir)),
        protocol_(data::load_protocol(data::resolve_data_dir(options.data_dir))),
        train_languages_(data::parse_language_list(protocol_, options.train_languages)),
        group_(group),
        record_((validate(), paths_.record), settings_json(options, train_languages_), group),
        stages_(record_, stages, group) {
    record_.set("data", {{"dir", fs::absolute(protocol_.data_dir).string()},
                         {"prompts_sha1", io::file_sha1(protocol_.source)}});
    record_.set("processes", group.world_size());
  }

  void build_data() {
    stages_.run_on_main("data: question-translation training set", paths_.train_set,
                        [&] { return build_training_set(protocol_, options_, train_languages_, paths_); });
  }
  void train(const SubcommandRunner& run_subcommand) {
    stages_.run_shared("train: LoRA on question translation", paths_.training_summary,
                       [&] { return study::train(run_subcommand, options_, model_dir_, paths_, group_); });
  }
  void evaluate(const std::string& name, const SubcommandRunner& run_subcommand, const EvaluationRun& run, bool tuned) {
    stages_.run_shared(name, run.results, [&] {
      return evaluate_model(run_subcommand, group_, options_, model_dir_, tuned ? paths_.adapter : fs::path(), run);
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
    data::parse_answer_type(options_.labels);
    if (!fs::is_regular_file(model_dir_ / "config.json") && !options_.model_dir.empty())
      fail_at(model_dir_, "is not a Hugging Face checkpoint directory (no config.json)");
    grad_accum_per_process(options_.grad_accum, group_.world_size());
  }
};

}  // namespace

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

io::Json evaluate_model(const SubcommandRunner& run_subcommand, distributed::ProcessGroup& group,
                        const StudyOptions& options, const fs::path& model_dir, const fs::path& adapter,
                        const EvaluationRun& run) {
  std::vector<std::string> arguments = {"eval", "--model", model_dir.string(), "--task", run.task, "--langs",
                                        options.eval_languages, "--seed", std::to_string(options.seed),
                                        "--format", "md", "--out", run.results.string(),
                                        "--predictions", predictions_file(run.results).string()};
  if (!run.seen.empty()) arguments.insert(arguments.end(), {"--seen", join(run.seen, ",")});
  if (!adapter.empty()) arguments.insert(arguments.end(), {"--adapter", adapter.string()});
  if (options.eval_limit > 0) arguments.insert(arguments.end(), {"--limit", std::to_string(options.eval_limit)});
  if (run.labels != "english") arguments.insert(arguments.end(), {"--labels", run.labels});
  if (run.shots >= 0) arguments.insert(arguments.end(), {"--shots", std::to_string(run.shots)});
  for (const fs::path& split : run.splits) arguments.insert(arguments.end(), {"--eval-split", split.string()});
  if (group.is_main()) fs::create_directories(fs::absolute(run.results).parent_path());
  io::Json details = run_logged(run_subcommand, arguments, options, group);
  if (!group.is_main()) return io::Json::object();
  const eval::EvalResults results = eval::read_results(run.results);
  io::write_file_atomically(fs::path(run.results).replace_extension(".md"),
                            eval::format_results(results, eval::TableFormat::markdown));
  details["average_accuracy"] = results.averages.all.accuracy;
  return details;
}

void demo_model_stage(StageRunner& stages, const StudyOptions& options, const fs::path& directory) {
  stages.run_on_main("demo model (briefly trained on English snli, paws and emotion prompts, Qwen tokenizer)", directory / "config.json", [&] {
    DemoTraining training = demo_training();
    training.examples_per_task = options.demo_examples;
    write_demo_checkpoint(directory, demo_tokenizer_dir(options.demo_tokenizer_dir), options.seed, options.data_dir,
                          training);
    const model::ModelConfig config = demo_model_config();
    return io::Json{{"path", directory.string()},
                    {"hidden_size", config.hidden_size},
                    {"layers", config.num_hidden_layers},
                    {"vocab_size", config.vocab_size}};
  });
}

void run_configuration(const StudyOptions& options, const fs::path& model_dir, const std::vector<EvaluationRun>& tuned,
                       distributed::ProcessGroup& group, const SubcommandRunner& run_subcommand) {
  ConfigurationStages configuration(options, model_dir, 2 + static_cast<int>(tuned.size()), group);
  configuration.record_.set("model", fs::absolute(model_dir).string());
  configuration.build_data();
  configuration.train(run_subcommand);
  for (const EvaluationRun& run : tuned)
    configuration.evaluate(fmt::format("eval: tuned model ({}, {} labels, {} shots)", run.task, run.labels,
                                       run.shots < 0 ? std::string("default") : std::to_string(run.shots)),
                           run_subcommand, run, true);
}

void run_study(const StudyOptions& options, distributed::ProcessGroup& group, const SubcommandRunner& run_subcommand) {
  const auto start = Clock::now();
  const bool demo = options.model_dir.empty();
  const bool report = group.is_main();
  const int total = (options.analyses ? 12 : 6) + (demo ? 1 : 0);
  ConfigurationStages study(options, demo ? Paths(options.out).model : options.model_dir, total, group);
  const Paths& paths = study.paths_;
  const data::Protocol& protocol = study.protocol_;
  if (demo && report) std::fprintf(stderr, "%s", demo_notice().c_str());
  study.record_.set("demo", demo);

  if (demo) demo_model_stage(study.stages_, options, paths.model);
  study.build_data();
  const std::vector<std::string> seen = seen_languages(protocol, options);
  study.evaluate("eval: base model", run_subcommand, study_evaluation(options, protocol, paths, seen, false), false);
  study.train(run_subcommand);
  study.evaluate("eval: tuned model", run_subcommand, study_evaluation(options, protocol, paths, seen, true), true);
  study.stages_.run_on_main("compare: base vs tuned", paths.compare / "compare.json",
                            [&] { return compare(seen, paths); });
  if (options.analyses) analyse(options, study.model_dir_, paths, protocol, study.stages_, group);

  // The report is rank 0's; the others wait, so that none ends with success before the study does.
  if (report) {
    std::fprintf(stderr, "\n[%d/%d] report\n", total, total);
    study.record_.set("finished", io::utc_timestamp());
    study.record_.set("wall_seconds_last_run", std::chrono::duration<double>(Clock::now() - start).count());
    write_study_report(paths.root);
    std::fprintf(stderr, "\nstudy complete: %s (and report.md), %s\n", (paths.root / "report.html").c_str(),
                 io::format_duration(std::chrono::duration<double>(Clock::now() - start).count()).c_str());
    if (demo) std::fprintf(stderr, "%s", demo_notice().c_str());
  }
  group.barrier();
}

}  // namespace qtalign::study
