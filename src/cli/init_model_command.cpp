// qtalign init-model: a random-weight checkpoint in the Hugging Face layout, for trying the pipeline
// without downloading a model (tests, benchmarks, the demo).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/dtype.h"
#include "model/init_model.h"

namespace qtalign::cli {
namespace {

struct InitModelArguments {
  model::InitModelSpec spec;  // but its dtype, from `dtype`
  std::string dtype = "bf16";
};

constexpr const char* kInitModelDescription = R"(Presets:
  tiny, tiny-llama, tiny-mistral   hidden 64, 2 layers, 4 heads (2 KV heads): qwen2, llama, mistral;
                                   the vocabulary comes from --tokenizer or --vocab-size
  qwen1.5-0.5b, qwen1.5-1.8b, qwen1.5-4b, qwen1.5-14b, mistral-7b, llama-2-7b
                                   the published models' shapes (config.json of each on the Hugging
                                   Face hub), vocabulary included
Weights are drawn and written one shard at a time: a 14B checkpoint (28 GB in bf16) needs a few GB
of memory, not the whole model.)";

void run_init_model(const InitModelArguments& arguments) {
  model::InitModelSpec spec = arguments.spec;
  spec.dtype = model::parse_dtype(arguments.dtype);
  const model::InitModelSummary summary = model::init_model(spec);
  const model::ModelConfig& config = summary.config;
  std::printf("%s: random %s model (%s preset): %ld layers, hidden %ld, vocab %ld, %.1fM parameters, %s%s\n",
              spec.out.c_str(), config.model_type.c_str(), spec.preset.c_str(),
              static_cast<long>(config.num_hidden_layers), static_cast<long>(config.hidden_size),
              static_cast<long>(config.vocab_size), summary.parameters / 1e6, model::dtype_name(spec.dtype).c_str(),
              summary.tokenizer_copied ? ", tokenizer copied" : ", no tokenizer");
}

}  // namespace

void add_init_model_command(CLI::App& app) {
  auto arguments = std::make_shared<InitModelArguments>();
  CLI::App* command = app.add_subcommand(
      "init-model", "Write a random-weight qwen2, llama or mistral checkpoint in the Hugging Face layout");
  command->footer(kInitModelDescription);
  command->add_option("--out", arguments->spec.out, "checkpoint directory to write")->required();
  command->add_option("--preset", arguments->spec.preset, "architecture and shape (listed below)")
      ->capture_default_str();
  command->add_option("--tokenizer", arguments->spec.tokenizer,
                      "tokenizer directory or tokenizer.json to copy in; sets bos/eos and the default vocabulary size");
  command->add_option("--seed", arguments->spec.seed, "seed of the random weights")->capture_default_str();
  command->add_option("--dtype", arguments->dtype, "dtype of the stored weights: bf16 or fp32")
      ->capture_default_str()
      ->check(CLI::IsMember({"bf16", "fp32"}));
  command->add_option("--vocab-size", arguments->spec.vocab_size,
                      "vocabulary size (default: the preset's, or the tokenizer's for tiny)")
      ->check(at_least(1));
  command->callback([arguments] { run_init_model(*arguments); });
}

}  // namespace qtalign::cli
