// qtalign lens: the logit lens per layer and language, with bootstrap intervals, CSV/JSON and charts.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "analysis/logit_lens.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/item_limit_options.h"
#include "cli/processes.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/answer_type.h"
#include "data/protocol.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "study/lens_pipeline.h"
#include "model/loaded_model.h"

namespace qtalign::cli {
namespace {

struct LensArguments {
  std::filesystem::path model_dir;
  std::filesystem::path adapter_dir;
  std::filesystem::path compare_adapter_dir;
  std::filesystem::path data_dir;
  std::filesystem::path eval_split;
  std::filesystem::path out;
  std::string task = "emotion";
  std::string languages = "all";
  std::string labels = "same-language";
  ItemLimitOptions items{100, 0};
  int64_t batch_size = 8;
  int top_k = 5;
  int64_t resamples = 10000;
  double confidence = 0.95;
  uint64_t seed = 0;
  double dist_timeout = 300.0;
  bool resume = false;
  RuntimeOptions runtime;
};

constexpr const char* kDescription = R"(Logit lens, as the study ran it.

Each item's prompt is the few-shot prompt with demonstrations answered in the language itself
(--labels same-language, the study's choice) or in English (--labels english), ending right after
the opening quote of the answer. At every layer (0 = embeddings, i = output of layer i) the residual
stream at that position goes through the final norm and the unembedding; from that distribution the
lens reads the probability of the correct answer in English (the latent answer), of the correct
answer in the language, of all the task's answers in the language and of all of them in English
(each answer: the prefix-sum candidate tokens of its word, the rule evaluation scores with), and
the entropy (nats). Items whose correct answer's English and language candidates share a token are
left out (both readings would count it) and counted. Per layer: the mean over items with a seeded
percentile-bootstrap interval. Everything is checked before the first forward pass.

Writes into --out, per language: <lang>.json (summary, token sets, items read and dropped,
per-item readings, provenance), <lang>.csv (one row per layer) and <lang>.png/.svg (the four
probabilities with their bands over layers, entropy beneath on the fixed scale 0..ln(vocabulary));
and summary.md, summary.json, overview_latent / overview_native charts of every language. With
--compare-adapter it runs twice, as base (the model, with --adapter if given) into --out/base and
tuned (with the compare adapter) into --out/tuned, and --out/comparison holds per-language charts of
both (base dashed, tuned solid) and comparison.md.)";

void run_lens(const LensArguments& arguments) {
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  distributed::ProcessGroup& group = *processes.group;
  const at::Device device = processes.device;
  const at::ScalarType dtype = compute_dtype(arguments.runtime, device);
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(arguments.data_dir));
  analysis::LensOptions options;
  options.task = protocol.task(arguments.task).name;
  options.answer_type = data::parse_answer_type(arguments.labels);
  const std::vector<std::string> languages = arguments.languages == "all"
                                                 ? analysis::lens_languages(protocol, options.task)
                                                 : data::parse_language_list(protocol, arguments.languages);
  options.limit = item_limit(arguments.items, arguments.seed);
  options.batch_size = arguments.batch_size;
  options.top_k = arguments.top_k;
  options.bootstrap = {arguments.resamples, arguments.seed, arguments.confidence};
  if (options.batch_size < 1) throw Error("--batch-size must be at least 1");
  if (!(options.bootstrap.confidence > 0.0 && options.bootstrap.confidence < 1.0))
    throw Error("--confidence must lie strictly between 0 and 1");
  if (options.bootstrap.resamples < 1) throw Error("--resamples must be at least 1");
  if (!arguments.eval_split.empty()) {
    const data::EvaluationSplit split = data::read_evaluation_split(arguments.eval_split);
    if (split.task != options.task)
      fail_at(arguments.eval_split, "is a split of task " + split.task + ", not " + options.task);
    options.item_indices = split.evaluation_indices;
  }
  if (!arguments.compare_adapter_dir.empty() &&
      !std::filesystem::is_regular_file(arguments.compare_adapter_dir / "adapter_config.json"))
    fail_at(arguments.compare_adapter_dir, "is not an adapter directory (no adapter_config.json)");
  model::LoadedModel loaded = model::load_model_with_tokenizer(
      {arguments.model_dir, {}, arguments.adapter_dir}, compute_settings(arguments.runtime, device));
  // Every language's prompts, token sets and dropped items, before the first forward pass.
  const std::vector<analysis::LensLanguagePlan> plans =
      study::plan_lens(loaded.tokenizer, protocol, languages, options);

  if (arguments.compare_adapter_dir.empty()) {
    study::run_lens_pipeline(group, loaded, protocol, plans, options, arguments.out, arguments.resume, "");
    if (!group.is_main()) return;
    std::printf("%s", io::read_file(arguments.out / "summary.md").c_str());
    std::fprintf(stderr, "wrote the lens of %zu languages to %s\n", languages.size(), arguments.out.c_str());
    return;
  }
  study::run_lens_pipeline(group, loaded, protocol, plans, options, arguments.out / "base", arguments.resume, "base");
  model::use_adapter(loaded, arguments.compare_adapter_dir);
  study::run_lens_pipeline(group, loaded, protocol, plans, options, arguments.out / "tuned", arguments.resume, "tuned");
  if (!group.is_main()) return;
  study::write_lens_comparison(arguments.out / "base", arguments.out / "tuned", languages,
                               arguments.out / "comparison");
  std::printf("%s", io::read_file(arguments.out / "comparison" / "comparison.md").c_str());
  std::fprintf(stderr, "wrote %s/{base,tuned,comparison}\n", arguments.out.c_str());
}

}  // namespace

void add_lens_command(CLI::App& app) {
  auto arguments = std::make_shared<LensArguments>();
  CLI::App* command = app.add_subcommand("lens", kDescription);
  command->add_option("--model", arguments->model_dir, "Hugging Face checkpoint directory")->required();
  command->add_option("--adapter", arguments->adapter_dir, "PEFT LoRA adapter directory to attach");
  command->add_option("--compare-adapter", arguments->compare_adapter_dir,
                      "a second adapter (e.g. the tuned one): run base and tuned and compare them");
  command->add_option("--task", arguments->task, "task with lens prompts (emotion)")->capture_default_str();
  command->add_option("--langs", arguments->languages,
                      "languages such as zh,ja,ru, or all (every language with same-language labels but English)")
      ->capture_default_str();
  command->add_option("--labels", arguments->labels,
                      "how the demonstrations answer: same-language (the study's lens) or english")
      ->capture_default_str();
  add_item_limit_options(command, arguments->items, "per language");
  command->add_option("--eval-split", arguments->eval_split,
                      "read only the evaluation items of a split file from `data build`");
  command->add_option("--top-k", arguments->top_k, "top tokens recorded per layer")->capture_default_str();
  command->add_option("--resamples", arguments->resamples, "bootstrap resamples")->capture_default_str();
  command->add_option("--confidence", arguments->confidence, "confidence level of the intervals")
      ->capture_default_str();
  command->add_option("--seed", arguments->seed, "seed of the item sample and the bootstrap")->capture_default_str();
  command->add_option("--batch-size", arguments->batch_size, "prompts per forward pass")->capture_default_str();
  command->add_flag("--resume", arguments->resume, "keep languages whose <lang>.json is already in --out");
  command->add_option("--out", arguments->out, "output directory")->required();
  command->add_option("--data-dir", arguments->data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  add_dist_timeout_option(command, arguments->dist_timeout);
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments] { run_lens(*arguments); });
}

}  // namespace qtalign::cli
