#pragma once
// Models with random weights, for tests, benchmarks and the demo (no pretrained weights needed).
#include <ATen/ATen.h>

#include <cstdint>

#include "model/model.h"

namespace qtalign::model {

// A model of `config` with weights drawn from N(0, 0.02) (biases too), norms from 1 + N(0, 0.1),
// deterministic for a seed, in `dtype` on `device`.
Model make_random_model(const ModelConfig& config, uint64_t seed, at::ScalarType dtype = at::kFloat,
                        at::Device device = at::kCPU);

// A small qwen2 config (GQA, biases) for tests: hidden 64, 2 layers, 4 heads, 2 KV heads.
ModelConfig tiny_qwen2_config(int64_t vocab_size);

// The shape of Qwen1.5-0.5B: hidden 1024, 24 layers, 16 heads, intermediate 2816, vocab 151936.
ModelConfig qwen1_5_0_5b_shape_config();

// The Qwen1.5-1.8B shape: hidden 2048, 24 layers, 16 heads (all of them KV heads), intermediate 5504,
// vocabulary 151936, untied embeddings.
ModelConfig qwen1_5_1_8b_shape_config();

}  // namespace qtalign::model
