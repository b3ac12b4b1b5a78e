// qtalign generate: greedy generation from a checkpoint (and optionally a LoRA adapter), streamed.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "io/input_path.h"
#include "model/generate.h"
#include "model/loaded_model.h"
#include "tokenizer/tokenizer.h"
#include "train/training_data.h"

namespace qtalign::cli {
namespace {

namespace fs = std::filesystem;

struct GenerateArguments {
  fs::path model;
  fs::path adapter;
  std::string prompt;
  int64_t max_new_tokens = 64;
  bool chat = false;
  model::ComputeRequest runtime;
};

void run_generate(const GenerateArguments& arguments) {
  const at::Device device = model::apply_threads_and_device(arguments.runtime);
  const model::ComputeSettings compute = model::compute_settings(arguments.runtime, device);  // option errors first
  const fs::path tokenizer_file = arguments.model / "tokenizer.json";
  io::require_file(tokenizer_file, "generate needs the model's tokenizer");
  model::LoadedModel loaded =
      model::load_model_for_inference({arguments.model, tokenizer_file, arguments.adapter}, compute);
  const tokenizer::Tokenizer& tokenizer = loaded.tokenizer;

  std::string text = arguments.prompt;
  if (arguments.chat) {
    if (!tokenizer.token_to_id("<|im_start|>") || !tokenizer.token_to_id("<|im_end|>"))
      fail_at(tokenizer_file, "--chat uses the ChatML format, and this tokenizer has no <|im_start|>/<|im_end|> tokens");
    text = train::apply_prompt_template(train::PromptTemplate::chatml, {arguments.prompt, ""}).first;
  }
  const std::vector<int64_t> prompt = tokenizer.encode(text, /*add_special_tokens=*/true);
  if (prompt.empty()) throw Error("--prompt: the prompt is empty");

  model::GenerationOptions options;
  options.max_new_tokens = arguments.max_new_tokens;
  options.stop_ids = model::generation_stop_ids(arguments.model, loaded.model.config, tokenizer, arguments.chat);
  // Without the clean-up of spaces: it can rewrite text already shown (" ." -> "."), which a stream cannot take back.
  model::TextStream stream([&](const std::vector<int64_t>& ids) { return tokenizer.decode(ids, true, false); });
  const auto print = [](const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  model::StopReason stop;
  const std::vector<int64_t> generated =
      model::generate_greedy(loaded.model, prompt, options, [&](int64_t id) { print(stream.add(id)); }, &stop);
  print(stream.finish() + "\n");
  if (stop == model::StopReason::context_full)
    std::fprintf(stderr, "generate: stopped after %ld new tokens: the sequence filled the model's context of %ld tokens\n",
                 static_cast<long>(generated.size()), static_cast<long>(loaded.model.config.max_position_embeddings));
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto arguments = std::make_shared<GenerateArguments>();
  CLI::App* command = app.add_subcommand(
      "generate", "Greedy generation from a Hugging Face checkpoint, streamed to stdout (stops at eos)");
  command->add_option("--model", arguments->model, "checkpoint directory (config.json, safetensors, tokenizer.json)")
      ->required();
  command->add_option("--adapter", arguments->adapter, "PEFT LoRA adapter directory to apply");
  command->add_option("--prompt", arguments->prompt, "the text to continue")->required();
  command->add_option("--max-new-tokens", arguments->max_new_tokens, "most tokens to generate")
      ->capture_default_str()
      ->check(at_least(1));
  command->add_flag("--chat", arguments->chat, "wrap the prompt as a ChatML user turn (Qwen chat models)");
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments] { run_generate(*arguments); });
}

}  // namespace qtalign::cli
