#pragma once
// A tokenizer and a model must agree on the ids: every id the tokenizer can produce, and every
// special id config.json names, needs a row of the embedding and of the output layer. Checked when
// the two are loaded, by every command, instead of failing later inside an index operation.
#include <filesystem>

#include "model/config.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::model {

// Throws Error naming config.json and tokenizer.json when the tokenizer's ids reach vocab_size or
// config.json's bos_token_id / eos_token_id (or the tokenizer's own) lie outside the vocabulary.
void check_vocabulary(const ModelConfig& config, const tokenizer::Tokenizer& tokenizer,
                      const std::filesystem::path& config_json, const std::filesystem::path& tokenizer_json);

// Reads tokenizer.json and checks it against config.json (read here too): the cheap half of loading a
// model, for callers to do before the weights, so a wrong tokenizer fails at once and not after a long
// load. Throws Error naming the file for a missing or malformed file or a vocabulary mismatch.
tokenizer::Tokenizer read_checked_tokenizer(const std::filesystem::path& config_json,
                                            const std::filesystem::path& tokenizer_json);

}  // namespace qtalign::model
