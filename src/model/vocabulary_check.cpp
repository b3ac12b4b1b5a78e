#include "model/vocabulary_check.h"

#include <fmt/format.h>

#include <optional>

#include "io/error.h"

namespace qtalign::model {

void check_vocabulary(const ModelConfig& config, const tokenizer::Tokenizer& tokenizer,
                      const std::filesystem::path& config_json, const std::filesystem::path& tokenizer_json) {
  const auto both = fmt::format("{} and {}", config_json.string(), tokenizer_json.string());
  if (tokenizer.vocab_size() > config.vocab_size)
    throw Error(fmt::format("{} do not belong together: the tokenizer has ids up to {}, but the model's vocab_size is "
                            "{} (the model has no embedding for ids {} and above)",
                            both, tokenizer.vocab_size() - 1, config.vocab_size, config.vocab_size));
  const auto check = [&](const char* what, std::optional<int64_t> id, const std::filesystem::path& source) {
    if (id && *id >= config.vocab_size)
      throw Error(fmt::format("{}: {} {} is outside the model's vocabulary of {} ids ({})", source.string(), what,
                              *id, config.vocab_size, both));
  };
  check("bos_token_id", config.bos_token_id, config_json);
  check("eos_token_id", config.eos_token_id, config_json);
  check("the tokenizer's bos token id", tokenizer.bos_id(), tokenizer_json);
  check("the tokenizer's eos token id", tokenizer.eos_id(), tokenizer_json);
}

tokenizer::Tokenizer read_checked_tokenizer(const std::filesystem::path& config_json,
                                            const std::filesystem::path& tokenizer_json) {
  const ModelConfig config = read_model_config(config_json);
  tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(tokenizer_json);
  check_vocabulary(config, tokenizer, config_json, tokenizer_json);
  return tokenizer;
}

}  // namespace qtalign::model
