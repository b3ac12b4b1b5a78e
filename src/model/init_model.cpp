#include "model/init_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/input_path.h"
#include "model/random_model.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::model {
namespace {

namespace fs = std::filesystem;

// The files of a Hugging Face tokenizer that travel with a checkpoint.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json",
                                           "added_tokens.json", "vocab.json",            "merges.txt",
                                           "tokenizer.model"};

void copy_tokenizer_files(const fs::path& given, const fs::path& out) {
  if (!io::input_exists(given) || !fs::is_directory(given)) {
    io::write_file_atomically(out / "tokenizer.json", io::read_file(given));
    return;
  }
  for (const char* name : kTokenizerFiles)
    if (io::input_exists(given / name)) io::write_file_atomically(out / name, io::read_file(given / name));
}

}  // namespace

InitModelSummary init_model(const InitModelSpec& spec) {
  InitModelSummary summary;
  ModelConfig& config = summary.config;
  config = preset_config(spec.preset);
  std::optional<tokenizer::Tokenizer> tokenizer;
  if (!spec.tokenizer.empty()) {
    tokenizer = tokenizer::Tokenizer::from_file(tokenizer::tokenizer_json_file(spec.tokenizer));
    config.bos_token_id = tokenizer->bos_id();
    config.eos_token_id = tokenizer->eos_id();
  }
  const int64_t tokenizer_vocab = tokenizer ? tokenizer->vocab_size() : 0;
  // An explicit size wins; otherwise the preset's own (Qwen's padded 151936) or the tokenizer's.
  if (spec.vocab_size > 0) config.vocab_size = spec.vocab_size;
  else config.vocab_size = std::max(config.vocab_size, tokenizer_vocab);
  if (config.vocab_size == 0) throw Error("init-model --preset " + spec.preset + " needs --tokenizer or --vocab-size");
  if (config.vocab_size < tokenizer_vocab)
    throw Error(fmt::format("--vocab-size {} is smaller than the tokenizer's {} tokens", config.vocab_size,
                            tokenizer_vocab));

  summary.parameters = write_random_checkpoint(config, spec.seed, spec.dtype, spec.out);
  if (tokenizer) copy_tokenizer_files(spec.tokenizer, spec.out);
  summary.tokenizer_copied = tokenizer.has_value();
  return summary;
}

const char* const kInitModelHelp = R"(Presets:
  tiny, tiny-llama, tiny-mistral   hidden 64, 2 layers, 4 heads (2 KV heads): qwen2, llama, mistral;
                                   the vocabulary comes from --tokenizer or --vocab-size
  qwen1.5-0.5b, qwen1.5-1.8b, qwen1.5-4b, qwen1.5-14b, mistral-7b, llama-2-7b
                                   the published models' shapes (config.json of each on the Hugging
                                   Face hub), vocabulary included
Weights are drawn and written one shard at a time: a 14B checkpoint (28 GB in bf16) needs a few GB
of memory, not the whole model.)";

}  // namespace qtalign::model
