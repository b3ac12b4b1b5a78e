#pragma once
// The architecture hyperparameters of a Hugging Face checkpoint (config.json).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "io/json_file.h"

namespace qtalign::model {

// The decoder-only architectures qtalign runs: qwen2 (Qwen1.5/2/2.5), llama, mistral.
struct ModelConfig {
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless config.json says otherwise
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections carry a bias (qwen2)
  std::optional<int64_t> sliding_window;  // only when the model uses it (mistral; qwen2 use_sliding_window)
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  std::string torch_dtype;  // dtype the checkpoint says it was saved in ("bfloat16", ...)
};

// Reads and validates config.json; throws Error naming the file for unknown model types,
// unsupported options (rope_scaling, ...) and missing or inconsistent fields.
ModelConfig read_model_config(const std::filesystem::path& config_json);

// Validates and converts the parsed JSON (`file` only names the source in errors).
ModelConfig model_config_from_json(const io::Json& json, const std::filesystem::path& file);

// The config.json a Hugging Face model of this config carries.
io::Json model_config_to_json(const ModelConfig& config);

}  // namespace qtalign::model
