// qtalign lens: the logit lens per layer and language, with bootstrap intervals, CSV/JSON and charts.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "analysis/logit_lens.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "study/lens_pipeline.h"
#include "study/loaded_model.h"

namespace qtalign::cli {
namespace {

struct LensArguments {
  std::filesystem::path model_dir;
  std::filesystem::path adapter_dir;
  std::filesystem::path data_dir;
  std::filesystem::path eval_split;
  std::filesystem::path out;
  std::string task = "emotion";
  std::string languages = "all";
  int64_t limit = 100;
  int64_t batch_size = 8;
  int top_k = 5;
  int64_t resamples = 10000;
  double confidence = 0.95;
  uint64_t seed = 0;
  bool resume = false;
  RuntimeOptions runtime;
};

constexpr const char* kDescription = R"(Logit lens (SPEC section 7).

Each item's prompt uses the language's native-label demonstrations (prompts.json tasks.<task>.lens),
ending right after the opening quote of the answer. At every layer (0 = embeddings, i = output of
layer i) the residual stream at the last prompt position goes through the final norm and the
unembedding; from that distribution the lens records the probability mass on the English label
tokens and on the language's own label tokens (both sets: the prefix-sum candidates of the label
words, the rule evaluation scores with), the entropy (nats) and the top tokens. Per layer it reports
the mean over items with a seeded percentile-bootstrap interval.

Writes into --out, per language: <lang>.json (summary, token sets, per-item readings with
provenance), <lang>.csv (one row per layer) and <lang>.png/.svg (both masses with their bands over
layers, entropy as a heat strip); and summary.md, summary.json, overview_english/overview_native
charts of every language.)";

void run_lens(const LensArguments& arguments) {
  const at::Device device = apply_runtime_options(arguments.runtime);
  const at::ScalarType dtype = compute_dtype(arguments.runtime, device);
  const data::Protocol protocol = data::load_protocol(data::resolve_data_dir(arguments.data_dir));
  const std::vector<std::string> available = analysis::lens_languages(protocol, arguments.task);
  const std::vector<std::string> languages =
      arguments.languages == "all" ? available : data::parse_language_list(protocol, arguments.languages);

  analysis::LensOptions options;
  options.task = protocol.task(arguments.task).name;
  options.limit = arguments.limit;
  options.batch_size = arguments.batch_size;
  options.top_k = arguments.top_k;
  options.bootstrap = {arguments.resamples, arguments.seed, arguments.confidence};
  if (!arguments.eval_split.empty()) {
    const data::EvaluationSplit split = data::read_evaluation_split(arguments.eval_split);
    if (split.task != options.task)
      fail_at(arguments.eval_split, "is a split of task " + split.task + ", not " + options.task);
    options.item_indices = split.evaluation_indices;
  }
  const study::LoadedModel loaded =
      study::load_model_for_analysis(arguments.model_dir, arguments.adapter_dir, dtype, device);
  study::run_lens_pipeline(loaded, protocol, languages, options, arguments.out, arguments.resume);
  std::printf("%s", io::read_file(arguments.out / "summary.md").c_str());
  std::fprintf(stderr, "wrote the lens of %zu languages to %s\n", languages.size(), arguments.out.c_str());
}

}  // namespace

void add_lens_command(CLI::App& app) {
  auto arguments = std::make_shared<LensArguments>();
  CLI::App* command = app.add_subcommand("lens", kDescription);
  command->add_option("--model", arguments->model_dir, "Hugging Face checkpoint directory")->required();
  command->add_option("--adapter", arguments->adapter_dir, "PEFT LoRA adapter directory to attach");
  command->add_option("--task", arguments->task, "task with lens prompts (emotion)")->capture_default_str();
  command->add_option("--langs", arguments->languages, "languages such as ru,zh, or all with lens prompts")
      ->capture_default_str();
  command->add_option("--limit", arguments->limit, "first N items per language (0 = all)")->capture_default_str();
  command->add_option("--eval-split", arguments->eval_split,
                      "read only the evaluation items of a split file from `data build`");
  command->add_option("--top-k", arguments->top_k, "top tokens recorded per layer")->capture_default_str();
  command->add_option("--resamples", arguments->resamples, "bootstrap resamples")->capture_default_str();
  command->add_option("--confidence", arguments->confidence, "confidence level of the intervals")
      ->capture_default_str();
  command->add_option("--seed", arguments->seed, "bootstrap seed")->capture_default_str();
  command->add_option("--batch-size", arguments->batch_size, "prompts per forward pass")->capture_default_str();
  command->add_flag("--resume", arguments->resume, "keep languages whose <lang>.json is already in --out");
  command->add_option("--out", arguments->out, "output directory")->required();
  command->add_option("--data-dir", arguments->data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments] { run_lens(*arguments); });
}

}  // namespace qtalign::cli
