#include "study/study.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "analysis/logit_lens.h"
#include "analysis/representations.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "data/question_translation.h"
#include "data/question_translation_build.h"
#include "eval/compare.h"
#include "eval/provenance.h"
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/progress.h"
#include "study/demo_model.h"
#include "study/lens_pipeline.h"
#include "study/loaded_model.h"
#include "study/report.h"
#include "study/representation_pipeline.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The study of the paper: 10k question-translation examples.
constexpr size_t kDefaultSize = 10000;

constexpr const char* kDemoNotice =
    "This is the demo: the model has random weights (Qwen2 architecture, Qwen's real tokenizer), so its\n"
    "accuracies are chance-level and its lens and PCA figures show no learned structure. The study's\n"
    "machinery is real; real results need a real checkpoint: qtalign run --model DIR ...\n";

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

std::string quoted_command(const std::vector<std::string>& arguments) {
  std::string line = "qtalign";
  for (const std::string& argument : arguments)
    line += argument.find_first_of(" \"'$") == std::string::npos ? " " + argument : " '" + argument + "'";
  return line;
}

// study.json: the settings a resumed study must share, and a log of the stages.
class StudyRecord {
 public:
  StudyRecord(fs::path file, const io::Json& settings) : file_(std::move(file)) {
    if (fs::exists(file_)) {
      record_ = io::read_json_file(file_);
      const io::Json recorded = io::required_field<io::Json>(record_, "settings", file_);
      std::vector<std::string> differences;
      for (const auto& [key, value] : settings.items())
        if (!recorded.contains(key) || recorded[key] != value)
          differences.push_back(fmt::format("{} (was {}, now {})", key, recorded.contains(key) ? recorded[key].dump() : "unset",
                                            value.dump()));
      if (!differences.empty())
        fail_at(file_, "holds a study with other settings: " + join(differences, "; ") +
                           ". Resume it with the same options, or use another --out");
    } else {
      record_ = {{"format", "qtalign-study"}, {"settings", settings}, {"stages", io::Json::object()}};
    }
    record_["stages"] = record_.value("stages", io::Json::object());
  }

  void set(const std::string& key, io::Json value) {
    record_[key] = std::move(value);
    save();
  }

  void stage(const std::string& name, const std::string& status, double seconds, io::Json details = io::Json::object()) {
    details["status"] = status;
    details["seconds"] = seconds;
    details["finished"] = eval::utc_timestamp();
    if (status == "skipped" && record_["stages"].contains(name)) {
      record_["stages"][name]["last_check"] = details;
    } else {
      record_["stages"][name] = std::move(details);
    }
    save();
  }

 private:
  void save() const { io::write_json_file(file_, record_); }
  fs::path file_;
  io::Json record_;
};

class StageRunner {
 public:
  StageRunner(StudyRecord& record, int total) : record_(record), total_(total) {}

  // Runs `work` unless `done` already exists; `work` returns details for study.json.
  template <typename Work>
  void run(const std::string& name, const fs::path& done, Work&& work) {
    ++index_;
    if (fs::exists(done)) {
      std::fprintf(stderr, "\n[%d/%d] %s: skipped, already done (%s)\n", index_, total_, name.c_str(), done.c_str());
      record_.stage(name, "skipped", 0.0);
      return;
    }
    std::fprintf(stderr, "\n[%d/%d] %s\n", index_, total_, name.c_str());
    const auto start = Clock::now();
    io::Json details = work();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::fflush(stdout);  // a stage's tables (stdout) come before its closing line (stderr)
    std::fprintf(stderr, "[%d/%d] %s: done in %s\n", index_, total_, name.c_str(), io::format_duration(seconds).c_str());
    record_.stage(name, "done", seconds, std::move(details));
  }

 private:
  StudyRecord& record_;
  int total_;
  int index_ = 0;
};

std::vector<std::string> runtime_arguments(const StudyOptions& options) {
  return {"--threads", std::to_string(options.threads), "--device", options.device, "--dtype", options.dtype};
}

io::Json run_logged(const SubcommandRunner& run_subcommand, std::vector<std::string> arguments,
                    const StudyOptions& options) {
  for (std::string& argument : runtime_arguments(options)) arguments.push_back(std::move(argument));
  const std::string line = quoted_command(arguments);
  std::fprintf(stderr, "$ %s\n", line.c_str());
  run_subcommand(arguments);
  return {{"command", line}};
}

io::Json build_training_set(const data::Protocol& protocol, const StudyOptions& options,
                            const std::vector<std::string>& languages, const Paths& paths) {
  data::BuildOptions build;
  build.task = options.task;
  build.languages = languages;
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

std::vector<std::string> eval_arguments(const StudyOptions& options, const fs::path& model_dir, const Paths& paths,
                                        const data::Protocol& protocol, bool tuned) {
  std::vector<std::string> arguments = {"eval", "--model", model_dir.string(), "--task", options.eval_task,
                                        "--langs", options.eval_languages, "--seen", options.train_languages,
                                        "--seed", std::to_string(options.seed), "--format", "md",
                                        "--out", (tuned ? paths.tuned_results : paths.base_results).string()};
  if (tuned) arguments.insert(arguments.end(), {"--adapter", paths.adapter.string()});
  if (options.eval_limit > 0) arguments.insert(arguments.end(), {"--limit", std::to_string(options.eval_limit)});
  // The split covers the tuning task; eval refuses a split of a task it does not evaluate.
  if (options.eval_task == "all" || protocol.task(options.eval_task).name == options.task)
    arguments.insert(arguments.end(), {"--eval-split", paths.split.string()});
  return arguments;
}

io::Json evaluate(const SubcommandRunner& run_subcommand, const StudyOptions& options, const fs::path& model_dir,
                  const Paths& paths, const data::Protocol& protocol, bool tuned) {
  io::Json details = run_logged(run_subcommand, eval_arguments(options, model_dir, paths, protocol, tuned), options);
  const fs::path results_file = tuned ? paths.tuned_results : paths.base_results;
  const eval::EvalResults results = eval::read_results(results_file);
  io::write_file_atomically(fs::path(results_file).replace_extension(".md"),
                            eval::format_results(results, eval::TableFormat::markdown));
  details["average_accuracy"] = results.averages.all.accuracy;
  return details;
}

io::Json train(const SubcommandRunner& run_subcommand, const StudyOptions& options, const fs::path& model_dir,
               const Paths& paths) {
  io::Json details = run_logged(
      run_subcommand,
      {"train", "--model", model_dir.string(), "--data", paths.train_set.string(), "--out", paths.adapter.string(),
       "--epochs", std::to_string(options.epochs), "--batch", std::to_string(options.micro_batch), "--grad-accum",
       std::to_string(options.grad_accum), "--lr", fmt::format("{}", options.lr), "--cutoff",
       std::to_string(options.cutoff), "--eval-every", std::to_string(options.eval_every), "--seed",
       std::to_string(options.seed), "--resume"},
      options);
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

io::Json compare(const StudyOptions& options, const Paths& paths, const data::Protocol& protocol) {
  const eval::EvalResults base = eval::read_results(paths.base_results);
  const eval::EvalResults tuned = eval::read_results(paths.tuned_results);
  const eval::Comparison comparison =
      eval::compare_results(base, tuned, data::parse_language_list(protocol, options.train_languages),
                            "eval/base.json", "eval/tuned.json");
  io::write_file_atomically(paths.compare / "compare.md", eval::comparison_markdown(comparison));
  eval::write_comparison_charts(comparison, paths.compare / "compare");
  io::write_json_file(paths.compare / "compare.json", eval::comparison_to_json(comparison));
  std::fprintf(stderr, "%s", eval::comparison_markdown(comparison).c_str());
  return {{"average_delta", comparison.all.delta}};
}

// The lens and representations of the base model, then of the tuned one (one model load, the
// adapter attached in between).
void analyse(const StudyOptions& options, const fs::path& model_dir, const Paths& paths, const data::Protocol& protocol,
             StageRunner& stages) {
  const bool lens_pending = !fs::exists(paths.lens_base / "summary.json") || !fs::exists(paths.lens_tuned / "summary.json");
  const bool pca_pending = !fs::exists(paths.pca_base / "representations.json") ||
                           !fs::exists(paths.pca_tuned / "representations.json") ||
                           !fs::exists(paths.cosine_comparison.string() + ".csv");
  std::optional<LoadedModel> loaded;
  if (lens_pending || pca_pending) {
    std::fprintf(stderr, "\nloading %s for the analyses\n", model_dir.c_str());
    loaded.emplace(load_model_for_analysis(model_dir, {}, options.analysis_dtype, options.analysis_device));
  }
  const data::EvaluationSplit split = data::read_evaluation_split(paths.split);

  analysis::LensOptions lens;
  lens.task = "emotion";  // the task with native-label lens prompts
  lens.limit = options.analysis_limit;
  lens.bootstrap.seed = options.seed;
  if (split.task == lens.task) lens.item_indices = split.evaluation_indices;
  const std::vector<std::string> lens_languages = options.lens_languages == "all"
                                                      ? analysis::lens_languages(protocol, lens.task)
                                                      : data::parse_language_list(protocol, options.lens_languages);

  analysis::RepresentationOptions representations;
  representations.task = options.task;
  representations.languages = data::parse_language_list(protocol, options.pca_languages);
  representations.limit = options.analysis_limit;
  representations.item_indices = split.evaluation_indices;
  representations.bootstrap = {2000, options.seed, 0.95};

  std::optional<analysis::RepresentationResult> base_representations, tuned_representations;
  const auto run_variant = [&](const std::string& variant, const fs::path& lens_dir, const fs::path& pca_dir,
                               std::optional<analysis::RepresentationResult>& result) {
    stages.run("logit lens (" + variant + ")", lens_dir / "summary.json", [&] {
      run_lens_pipeline(*loaded, protocol, lens_languages, lens, lens_dir, true);
      return io::Json{{"languages", lens_languages}, {"items_per_language_limit", lens.limit}};
    });
    stages.run("representations (" + variant + ")", pca_dir / "representations.json", [&] {
      representations.layers = analysis::parse_layer_list(options.pca_layers, loaded->model.config.num_hidden_layers);
      result = run_representation_pipeline(*loaded, protocol, representations, pca_dir, false);
      return io::Json{{"languages", result->languages}, {"items", result->item_indices.size()}};
    });
  };
  run_variant("base", paths.lens_base, paths.pca_base, base_representations);
  if (loaded) use_adapter(*loaded, paths.adapter);
  run_variant("tuned", paths.lens_tuned, paths.pca_tuned, tuned_representations);
  stages.run("representations: base vs tuned", paths.cosine_comparison.string() + ".csv", [&] {
    const auto read = [](const fs::path& file) {
      return analysis::representation_result_from_json(io::read_json_file(file), file);
    };
    analysis::write_cosine_comparison(read(paths.pca_base / "representations.json"),
                                      read(paths.pca_tuned / "representations.json"), paths.cosine_comparison);
    return io::Json::object();
  });
}

io::Json settings_json(const StudyOptions& options, const std::vector<std::string>& train_languages) {
  return {{"model", options.model_dir.empty() ? io::Json("demo") : io::Json(fs::absolute(options.model_dir).string())},
          {"task", options.task},
          {"train_languages", train_languages},
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
          {"dtype", options.dtype}};
}

}  // namespace

void run_study(const StudyOptions& options, const SubcommandRunner& run_subcommand) {
  if (options.out.empty()) throw Error("run: --out is required");
  const auto start = Clock::now();
  const Paths paths(options.out);
  const bool demo = options.model_dir.empty();
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(options.data_dir));
  const std::vector<std::string> train_languages = data::parse_language_list(protocol, options.train_languages);
  for (const std::string& language : train_languages)
    if (language == "en") throw Error("--train-langs: English is the translation target, not a tuning language");
  protocol.task(options.task);
  if (options.eval_task != "all") protocol.task(options.eval_task);
  data::parse_language_list(protocol, options.eval_languages);
  if (!demo && !fs::is_regular_file(options.model_dir / "config.json"))
    fail_at(options.model_dir, "is not a Hugging Face checkpoint directory (no config.json)");
  if (demo) std::fprintf(stderr, "%s", kDemoNotice);

  fs::create_directories(paths.root);
  StudyRecord record(paths.record, settings_json(options, train_languages));
  record.set("data", {{"dir", fs::absolute(protocol.data_dir).string()}, {"prompts_sha1", eval::file_sha1(protocol.source)}});
  record.set("demo", demo);
  const fs::path model_dir = demo ? paths.model : options.model_dir;

  StageRunner stages(record, 11 + (demo ? 1 : 0));
  if (demo)
    stages.run("demo model (random weights, Qwen tokenizer)", paths.model / "config.json", [&] {
      write_demo_checkpoint(paths.model, demo_tokenizer_dir(options.demo_tokenizer_dir), options.seed);
      const model::ModelConfig config = demo_model_config();
      return io::Json{{"path", paths.model.string()},
                      {"hidden_size", config.hidden_size},
                      {"layers", config.num_hidden_layers},
                      {"vocab_size", config.vocab_size}};
    });
  stages.run("data: question-translation training set", paths.train_set,
             [&] { return build_training_set(protocol, options, train_languages, paths); });
  stages.run("eval: base model", paths.base_results,
             [&] { return evaluate(run_subcommand, options, model_dir, paths, protocol, false); });
  stages.run("train: LoRA on question translation", paths.training_summary,
             [&] { return train(run_subcommand, options, model_dir, paths); });
  stages.run("eval: tuned model", paths.tuned_results,
             [&] { return evaluate(run_subcommand, options, model_dir, paths, protocol, true); });
  stages.run("compare: base vs tuned", paths.compare / "compare.json",
             [&] { return compare(options, paths, protocol); });
  analyse(options, model_dir, paths, protocol, stages);

  std::fprintf(stderr, "\n[%d/%d] report\n", 11 + (demo ? 1 : 0), 11 + (demo ? 1 : 0));
  record.set("finished", eval::utc_timestamp());
  record.set("wall_seconds_last_run", std::chrono::duration<double>(Clock::now() - start).count());
  write_study_report(paths.root);
  std::fprintf(stderr, "\nstudy complete: %s (and report.md), %s\n", (paths.root / "report.html").c_str(),
               io::format_duration(std::chrono::duration<double>(Clock::now() - start).count()).c_str());
  if (demo) std::fprintf(stderr, "%s", kDemoNotice);
}

}  // namespace qtalign::study
