// qtalign pca: per-layer representations of the same items in several languages: PCA scatter, PC1
// correlations between languages, cosine similarity to English; base vs tuned with --compare-adapter.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "analysis/representations.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/item_limit_options.h"
#include "cli/processes.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "model/loaded_model.h"
#include "study/representation_pipeline.h"

namespace qtalign::cli {
namespace {

struct PcaArguments {
  std::filesystem::path model_dir;
  std::filesystem::path adapter_dir;
  std::filesystem::path compare_adapter_dir;
  std::filesystem::path data_dir;
  std::filesystem::path eval_split;
  std::filesystem::path out;
  std::string task = "emotion";
  std::string languages = "en,de,fr,hi,th,sw,ms";
  std::string pairs;
  std::string layers = "all";
  std::string pooling = "mean";
  std::string prompt = "default";
  ItemLimitOptions items{100, 0};
  int64_t batch_size = 8;
  int64_t resamples = 2000;
  uint64_t seed = 0;
  double dist_timeout = 300.0;
  RuntimeOptions runtime;
};

constexpr const char* kPcaDescription = R"(Cross-lingual representations per layer, as the study measured them.

For the same test items in every language (parallel items: item i is the same in each), each
prompt's residual stream (0 = embeddings, i = output of layer i) is pooled into one vector: the mean
over all prompt tokens (the study's choice) or the last token (--pooling last). Prompts (--prompt):
  study     the study's: the few-shot prompt whose 2 demonstrations answer in the language itself
            (the default for emotion, the only task with same-language answers)
  question  the item's question alone, as question translation trains on (the default otherwise)
  few-shot  the evaluation prompt, demonstrations answered with English labels
Per layer: a 2-D PCA (SVD of the centred vectors of all languages) scattered by language; for each
language pair, the Pearson correlation of the items' coordinates on a 1-D PCA fitted to the pair's
vectors, paired by item (the study's pairs en-de, en-fr, en-hi, de-fr, de-hi, fr-hi, en-th, en-sw,
en-ms among the analysed languages, plus --pairs); and the mean cosine similarity of each language's
vector with English's for the same item. Fewer than 10 items make the correlations meaningless: the
outputs warn.

Writes into --out: layer_<L>.png/.svg, cosine.png/.svg/.csv, pair_correlation.csv,
representations.md and representations.json. With --compare-adapter the analysis runs twice, as
base (the model, with --adapter if given) into --out/base and tuned (with the compare adapter instead)
into --out/tuned; then cosine_comparison.png/.svg/.csv overlays the two, and
pair_correlation_comparison.md/.csv/.json (one table) and pair_correlation_layer_<L>.png/.svg (one
figure per layer) set the pair correlations of base and tuned side by side.)";

void run_pca(const PcaArguments& arguments) {
  const ProcessRuntime processes = join_processes(arguments.runtime, arguments.dist_timeout);
  distributed::ProcessGroup& group = *processes.group;
  const at::Device device = processes.device;
  const at::ScalarType dtype = compute_dtype(arguments.runtime, device);
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(arguments.data_dir));
  // Options are checked before the model loads, so a typo fails at once.
  analysis::RepresentationOptions options;
  options.task = protocol.task(arguments.task).name;
  options.languages = data::parse_language_list(protocol, arguments.languages);
  if (!arguments.pairs.empty()) options.extra_pairs = analysis::parse_language_pairs(protocol, arguments.pairs);
  options.limit = item_limit(arguments.items, arguments.seed);
  options.batch_size = arguments.batch_size;
  if (options.batch_size < 1) throw Error("--batch-size must be at least 1");
  options.pooling = analysis::parse_pooling(arguments.pooling);
  options.prompt = arguments.prompt == "default"
                       ? analysis::default_representation_prompt(protocol.task(options.task))
                       : analysis::parse_representation_prompt(arguments.prompt);
  if (!arguments.compare_adapter_dir.empty() &&
      !std::filesystem::is_regular_file(arguments.compare_adapter_dir / "adapter_config.json"))
    fail_at(arguments.compare_adapter_dir, "is not an adapter directory (no adapter_config.json)");
  model::LoadedModel loaded = model::load_model_with_tokenizer(
      {arguments.model_dir, {}, arguments.adapter_dir}, compute_settings(arguments.runtime, device));
  options.layers = analysis::parse_layer_list(arguments.layers, loaded.model.config.num_hidden_layers);
  options.bootstrap = {arguments.resamples, arguments.seed, 0.95};
  if (!arguments.eval_split.empty()) {
    const data::EvaluationSplit split = data::read_evaluation_split(arguments.eval_split);
    if (split.task != options.task)
      fail_at(arguments.eval_split, "is a split of task " + split.task + ", not " + options.task);
    options.item_indices = split.evaluation_indices;
  }

  if (arguments.compare_adapter_dir.empty()) {
    study::run_representation_pipeline(group, loaded, protocol, options, arguments.out, false);
    if (group.is_main()) std::printf("%s", io::read_file(arguments.out / "representations.md").c_str());
    return;
  }
  const auto base =
      study::run_representation_pipeline(group, loaded, protocol, options, arguments.out / "base", false);
  model::use_adapter(loaded, arguments.compare_adapter_dir);
  const auto tuned =
      study::run_representation_pipeline(group, loaded, protocol, options, arguments.out / "tuned", false);
  if (!group.is_main()) return;
  analysis::write_base_tuned_comparison(*base, *tuned, arguments.out);
  std::printf("%s", io::read_file(arguments.out / "pair_correlation_comparison.md").c_str());
  std::fprintf(stderr, "wrote %s/{base,tuned}, the cosine and pair-correlation comparisons beside them\n",
               arguments.out.c_str());
}

}  // namespace

void add_pca_command(CLI::App& app) {
  auto arguments = std::make_shared<PcaArguments>();
  CLI::App* command = app.add_subcommand("pca", kPcaDescription);
  command->add_option("--model", arguments->model_dir, "Hugging Face checkpoint directory")->required();
  command->add_option("--adapter", arguments->adapter_dir, "PEFT LoRA adapter directory to attach");
  command->add_option("--compare-adapter", arguments->compare_adapter_dir,
                      "a second adapter (e.g. the tuned one): run both and overlay the cosine curves");
  command->add_option("--task", arguments->task, "emotion, snli or paws")->capture_default_str();
  command->add_option("--langs", arguments->languages, "languages such as en,de,fr,hi, or all (en is always added)")
      ->capture_default_str();
  command->add_option("--pairs", arguments->pairs,
                      "language pairs to correlate besides the study's, such as zh-ja,en-ru (languages are added)");
  command->add_option("--layers", arguments->layers, "all, or residual-stream indices such as 0,6,12")
      ->capture_default_str();
  command->add_option("--pooling", arguments->pooling, "mean (over the prompt's tokens) or last")
      ->capture_default_str();
  command->add_option("--prompt", arguments->prompt,
                      "study (2-shot, same-language answers), question or few-shot; default: study for emotion, "
                      "else question")
      ->capture_default_str();
  add_item_limit_options(command, arguments->items, "(the same in every language)");
  command->add_option("--eval-split", arguments->eval_split,
                      "use only the evaluation items of a split file from `data build`");
  command->add_option("--resamples", arguments->resamples, "bootstrap resamples for the cosine intervals")
      ->capture_default_str();
  command->add_option("--seed", arguments->seed, "seed of the item sample and the bootstrap")->capture_default_str();
  command->add_option("--batch-size", arguments->batch_size, "prompts per forward pass")->capture_default_str();
  command->add_option("--out", arguments->out, "output directory")->required();
  command->add_option("--data-dir", arguments->data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  add_dist_timeout_option(command, arguments->dist_timeout);
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments] { run_pca(*arguments); });
}

}  // namespace qtalign::cli
