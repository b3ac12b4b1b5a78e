#pragma once
// Hugging Face checkpoint directories: config.json + model.safetensors, or sharded
// model-0000k-of-0000n.safetensors with model.safetensors.index.json.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"

namespace qtalign::model {

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype
  at::Device device = at::kCPU;
  bool check_finite = false;  // reject NaN/Inf weights
  // Quantize the decoder's linear weights to 4 bits while loading (embeddings, norms and lm_head stay).
  QuantizationOptions quantization;
};

// Loads a checkpoint directory. Weights already in the compute dtype on CPU stay memory-mapped
// (no copy); others are converted once. With options.quantization, each linear weight is quantized
// as it is read and its mapped pages released, so the dense model is never whole in memory; a
// checkpoint saved 4-bit by transformers + bitsandbytes loads 4-bit as stored. Throws Error naming
// the file for missing, extra or mis-shaped tensors, bad shards, unsupported configs, and NaN/Inf
// weights that were to be quantized.
Model load_model(const std::filesystem::path& directory, const LoadOptions& options = {});

// Writes config.json and the weights (in `disk_dtype`) as a Hugging Face checkpoint directory,
// sharded with an index when larger than max_shard_bytes. Each file is written atomically; weight
// files of an earlier save in the other layout are removed. Attached LoRA adapters are not written
// (merge_lora first to bake them in). Throws Error for a 4-bit quantized model.
void save_model(const Model& model, const std::filesystem::path& directory, at::ScalarType disk_dtype,
                uint64_t max_shard_bytes = uint64_t(5) << 30);

// Produces the weight of a Hugging Face name with the shape the config implies.
using WeightSource = std::function<at::Tensor(const std::string& name, const std::vector<int64_t>& shape)>;

// save_model for weights made on demand: asks `weight` for each one in state-dict order and holds no
// more than one shard at a time, so checkpoints larger than memory can be written.
void save_weights(const ModelConfig& config, const std::filesystem::path& directory, at::ScalarType disk_dtype,
                  const WeightSource& weight, uint64_t max_shard_bytes = uint64_t(5) << 30);

// Calls fn(name, tensor, shape) for every stored weight of `model` (its layers already sized) in
// Hugging Face's state-dict order; a tied lm_head is not among them.
void visit_weights(Model& model,
                   const std::function<void(const std::string&, at::Tensor&, const std::vector<int64_t>&)>& fn);

}  // namespace qtalign::model
