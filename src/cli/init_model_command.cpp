// qtalign init-model: a random-weight checkpoint in the Hugging Face layout, for trying the pipeline
// without downloading a model (tests, benchmarks, the demo).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/dtype.h"
#include "model/init_model.h"

namespace qtalign::cli {
namespace {

void run_init_model(const model::InitModelSpec& spec) {
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
  auto spec = std::make_shared<model::InitModelSpec>();
  CLI::App* command = app.add_subcommand(
      "init-model", "Write a random-weight qwen2, llama or mistral checkpoint in the Hugging Face layout");
  command->footer(model::kInitModelHelp);
  add_listed_options(command, *spec);
  command->callback([spec] { run_init_model(*spec); });
}

}  // namespace qtalign::cli
