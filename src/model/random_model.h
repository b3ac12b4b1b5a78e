#pragma once
// Models with random weights, for tests, benchmarks and the demo (no pretrained weights needed), and
// the configs of the architectures and shapes the study uses.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/model.h"

namespace qtalign::model {

// A model of `config` with weights drawn from N(0, 0.02) (biases too), norms from 1 + N(0, 0.1),
// deterministic for a seed (drawn in state-dict order), in `dtype` on `device`.
Model make_random_model(const ModelConfig& config, uint64_t seed, at::ScalarType dtype = at::kFloat,
                        at::Device device = at::kCPU);

// Writes the checkpoint save_model would write for make_random_model(config, seed, dtype), drawing
// each weight as it is written so that no more than one shard is ever in memory (14B shapes fit).
// Returns the number of parameters written.
int64_t write_random_checkpoint(const ModelConfig& config, uint64_t seed, at::ScalarType dtype,
                             const std::filesystem::path& directory, uint64_t max_shard_bytes = uint64_t(5) << 30);

// A small qwen2 config (GQA, biases) for tests: hidden 64, 2 layers, 4 heads, 2 KV heads.
ModelConfig tiny_qwen2_config(int64_t vocab_size);

// The shape of Qwen1.5-0.5B: hidden 1024, 24 layers, 16 heads, intermediate 2816, vocab 151936.
ModelConfig qwen1_5_0_5b_shape_config();

// The Qwen1.5-1.8B shape: hidden 2048, 24 layers, 16 heads (all of them KV heads), intermediate 5504,
// vocabulary 151936, untied embeddings.
ModelConfig qwen1_5_1_8b_shape_config();

// The config of a named preset (see preset_names); throws Error listing the names for an unknown one.
// The tiny presets have vocab_size 0: the caller sets it (from a tokenizer, say).
ModelConfig preset_config(const std::string& name);

// The presets: tiny (qwen2), tiny-llama, tiny-mistral, tiny-llama3, tiny-qwen3, tiny-gemma2, tiny-gemma3,
// and the published shapes qwen1.5-0.5b, qwen1.5-1.8b, qwen1.5-4b, qwen1.5-14b, mistral-7b, llama-2-7b,
// llama-3.1-8b, llama-3.2-1b, qwen2.5-7b, qwen3-8b, gemma-2-9b and gemma-3-12b.
std::vector<std::string> preset_names();

}  // namespace qtalign::model
