// qtalign generate: greedy generation from a checkpoint (and optionally a LoRA adapter), streamed.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "io/json_file.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/lora.h"
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
  RuntimeOptions runtime;
};

void add_stop_id(std::vector<int64_t>& stop_ids, std::optional<int64_t> id) {
  if (id && std::find(stop_ids.begin(), stop_ids.end(), *id) == stop_ids.end()) stop_ids.push_back(*id);
}

// Where transformers' generate() stops: the eos ids of generation_config.json (one or a list), the
// model's and the tokenizer's eos, and for chat the end-of-turn token.
std::vector<int64_t> stop_ids(const fs::path& model_dir, const model::ModelConfig& config,
                              const tokenizer::Tokenizer& tokenizer, bool chat) {
  std::vector<int64_t> ids;
  const fs::path generation_config = model_dir / "generation_config.json";
  if (fs::exists(generation_config)) {
    const io::Json json = io::read_json_file(generation_config);
    const io::Json eos = json.is_object() ? json.value("eos_token_id", io::Json()) : io::Json();
    for (const auto& id : eos.is_array() ? eos : io::Json::array({eos}))
      if (id.is_number_integer()) add_stop_id(ids, id.get<int64_t>());
  }
  add_stop_id(ids, config.eos_token_id);
  add_stop_id(ids, tokenizer.eos_id());
  if (chat) add_stop_id(ids, tokenizer.token_to_id("<|im_end|>"));
  return ids;
}

// Prints decoded text as tokens arrive. Decoding all generated ids and printing what is new keeps
// multi-byte characters split across tokens intact; text ending in U+FFFD (an incomplete character)
// waits for the next token.
class TextStreamer {
 public:
  explicit TextStreamer(const tokenizer::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  void add(int64_t id) {
    ids_.push_back(id);
    const std::string text = tokenizer_.decode(ids_, /*skip_special_tokens=*/true);
    constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    const bool incomplete = text.size() >= kReplacement.size() &&
                            text.compare(text.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0;
    if (!incomplete) emit(text);
  }

  void finish() {
    emit(tokenizer_.decode(ids_, /*skip_special_tokens=*/true));
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  // Only extensions of what is already printed can be printed; the rest shows at the next one.
  void emit(const std::string& text) {
    if (text.size() <= printed_.size() || text.compare(0, printed_.size(), printed_) != 0) return;
    std::fwrite(text.data() + printed_.size(), 1, text.size() - printed_.size(), stdout);
    std::fflush(stdout);
    printed_ = text;
  }

  const tokenizer::Tokenizer& tokenizer_;
  std::vector<int64_t> ids_;
  std::string printed_;
};

void run_generate(const GenerateArguments& arguments) {
  const at::Device device = apply_runtime_options(arguments.runtime);
  const fs::path tokenizer_file = arguments.model / "tokenizer.json";
  if (!fs::exists(tokenizer_file)) fail_at(tokenizer_file, "no such file (generate needs the model's tokenizer)");
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(tokenizer_file);
  model::Model model = model::load_model(arguments.model, {compute_dtype(arguments.runtime, device), device});
  if (!arguments.adapter.empty()) model::load_lora_adapter(model, arguments.adapter);

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
  options.stop_ids = stop_ids(arguments.model, model.config, tokenizer, arguments.chat);
  TextStreamer streamer(tokenizer);
  model::generate_greedy(model, prompt, options, [&](int64_t id) { streamer.add(id); });
  streamer.finish();
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
      ->check(CLI::PositiveNumber);
  command->add_flag("--chat", arguments->chat, "wrap the prompt as a ChatML user turn (Qwen chat models)");
  add_runtime_options(command, arguments->runtime);
  command->callback([arguments] { run_generate(*arguments); });
}

}  // namespace qtalign::cli
