// qtalign init-model: a random-weight checkpoint in the Hugging Face layout, for trying the pipeline
// without downloading a model (tests, benchmarks, the demo).
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/input_path.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/random_model.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::cli {
namespace {

namespace fs = std::filesystem;

struct InitModelArguments {
  fs::path out;
  std::string preset = "tiny";
  fs::path tokenizer;
  uint64_t seed = 0;
  std::string dtype = "bf16";
  int64_t vocab_size = 0;
};

constexpr const char* kInitModelDescription = R"(Presets:
  tiny, tiny-llama, tiny-mistral   hidden 64, 2 layers, 4 heads (2 KV heads): qwen2, llama, mistral;
                                   the vocabulary comes from --tokenizer or --vocab-size
  qwen1.5-0.5b, qwen1.5-1.8b, qwen1.5-4b, qwen1.5-14b, mistral-7b, llama-2-7b
                                   the published models' shapes (config.json of each on the Hugging
                                   Face hub), vocabulary included
Weights are drawn and written one shard at a time: a 14B checkpoint (28 GB in bf16) needs a few GB
of memory, not the whole model.)";

// The files of a Hugging Face tokenizer that travel with a checkpoint.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json",
                                           "added_tokens.json", "vocab.json",            "merges.txt",
                                           "tokenizer.model"};

// tokenizer.json of a tokenizer given as its directory or the file itself.
fs::path tokenizer_json(const fs::path& given) {
  return io::input_exists(given) && fs::is_directory(given) ? given / "tokenizer.json" : given;
}

void copy_tokenizer_files(const fs::path& given, const fs::path& out) {
  if (!io::input_exists(given) || !fs::is_directory(given)) {
    io::write_file_atomically(out / "tokenizer.json", io::read_file(given));
    return;
  }
  for (const char* name : kTokenizerFiles)
    if (io::input_exists(given / name)) io::write_file_atomically(out / name, io::read_file(given / name));
}

void run_init_model(const InitModelArguments& arguments) {
  model::ModelConfig config = model::preset_config(arguments.preset);
  const at::ScalarType dtype = model::parse_dtype(arguments.dtype);

  std::optional<tokenizer::Tokenizer> tokenizer;
  if (!arguments.tokenizer.empty()) {
    tokenizer = tokenizer::Tokenizer::from_file(tokenizer_json(arguments.tokenizer));
    config.bos_token_id = tokenizer->bos_id();
    config.eos_token_id = tokenizer->eos_id();
  }
  const int64_t tokenizer_vocab = tokenizer ? tokenizer->vocab_size() : 0;
  // An explicit size wins; otherwise the preset's own (Qwen's padded 151936) or the tokenizer's.
  if (arguments.vocab_size > 0) config.vocab_size = arguments.vocab_size;
  else config.vocab_size = std::max(config.vocab_size, tokenizer_vocab);
  if (config.vocab_size == 0)
    throw Error("init-model --preset " + arguments.preset + " needs --tokenizer or --vocab-size");
  if (config.vocab_size < tokenizer_vocab)
    throw Error(fmt::format("--vocab-size {} is smaller than the tokenizer's {} tokens", config.vocab_size,
                            tokenizer_vocab));

  const int64_t parameters = model::write_random_checkpoint(config, arguments.seed, dtype, arguments.out);
  if (tokenizer) copy_tokenizer_files(arguments.tokenizer, arguments.out);

  std::printf("%s: random %s model (%s preset): %ld layers, hidden %ld, vocab %ld, %.1fM parameters, %s%s\n",
              arguments.out.c_str(), config.model_type.c_str(), arguments.preset.c_str(),
              static_cast<long>(config.num_hidden_layers), static_cast<long>(config.hidden_size),
              static_cast<long>(config.vocab_size), parameters / 1e6, model::dtype_name(dtype).c_str(),
              tokenizer ? ", tokenizer copied" : ", no tokenizer");
}

}  // namespace

void add_init_model_command(CLI::App& app) {
  auto arguments = std::make_shared<InitModelArguments>();
  CLI::App* command = app.add_subcommand(
      "init-model", "Write a random-weight qwen2, llama or mistral checkpoint in the Hugging Face layout");
  command->footer(kInitModelDescription);
  command->add_option("--out", arguments->out, "checkpoint directory to write")->required();
  command->add_option("--preset", arguments->preset, "architecture and shape (listed below)")
      ->capture_default_str();
  command->add_option("--tokenizer", arguments->tokenizer,
                      "tokenizer directory or tokenizer.json to copy in; sets bos/eos and the default vocabulary size");
  command->add_option("--seed", arguments->seed, "seed of the random weights")->capture_default_str();
  command->add_option("--dtype", arguments->dtype, "dtype of the stored weights: bf16 or fp32")
      ->capture_default_str()
      ->check(CLI::IsMember({"bf16", "fp32"}));
  command->add_option("--vocab-size", arguments->vocab_size,
                      "vocabulary size (default: the preset's, or the tokenizer's for tiny)")
      ->check(at_least(1));
  command->callback([arguments] { run_init_model(*arguments); });
}

}  // namespace qtalign::cli
