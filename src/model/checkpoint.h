#pragma once
// Hugging Face checkpoint directories: config.json + model.safetensors, or sharded
// model-0000k-of-0000n.safetensors with model.safetensors.index.json.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>

#include "model/model.h"

namespace qtalign::model {

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype
  at::Device device = at::kCPU;
  bool check_finite = false;  // reject NaN/Inf weights
};

// Loads a checkpoint directory. Weights already in the compute dtype on CPU stay memory-mapped
// (no copy); others are converted once. Throws Error naming the file for missing, extra or
// mis-shaped tensors, bad shards, and unsupported configs.
Model load_model(const std::filesystem::path& directory, const LoadOptions& options = {});

// Writes config.json and the weights (in `disk_dtype`) as a Hugging Face checkpoint directory,
// sharded with an index when larger than max_shard_bytes. Each file is written atomically; weight
// files of an earlier save in the other layout are removed. Attached LoRA adapters are not written
// (merge_lora first to bake them in).
void save_model(const Model& model, const std::filesystem::path& directory, at::ScalarType disk_dtype,
                uint64_t max_shard_bytes = uint64_t(5) << 30);

}  // namespace qtalign::model
