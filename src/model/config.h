#pragma once
// The architecture hyperparameters of a Hugging Face checkpoint (config.json).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace qtalign::model {

// How RoPE's inverse frequencies are rescaled (config.json's rope_scaling, as transformers reads it).
struct RopeScaling {
  std::string type = "default";  // default, linear, dynamic (NTK) or llama3
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;  // llama3
};

// The decoder-only architectures qtalign runs: qwen2 (Qwen1.5/2/2.5), llama (Llama 2 and 3.x), mistral,
// qwen3, gemma2 and gemma3_text. A family is this data: the forward pass reads the fields below.
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
  bool attention_bias = false;  // q/k/v projections carry a bias (qwen2; attention_bias of the others)
  bool output_bias = false;     // o_proj carries a bias (attention_bias of llama, qwen3, gemma)
  RopeScaling rope_scaling;
  // Sliding-window attention: a query sees the keys fewer than sliding_window positions before it, in
  // the layers sliding_layers marks (empty = every layer, Mistral's case).
  std::optional<int64_t> sliding_window;
  std::vector<bool> sliding_layers;
  std::optional<double> rope_local_base_freq;  // gemma3_text: RoPE base of sliding layers, unscaled
  std::string hidden_activation = "silu";      // of the gated MLP: silu or gelu_pytorch_tanh
  bool qk_norm = false;             // per-head RMSNorm on queries and keys before RoPE (qwen3, gemma3_text)
  bool norm_weight_offset = false;  // RMSNorm scales by (1 + w) (gemma)
  bool scale_embeddings = false;    // embeddings times sqrt(hidden_size) in the compute dtype (gemma)
  bool sandwich_norms = false;      // gemma: norms after attention and around the MLP (four per layer)
  double query_pre_attn_scalar = 0;  // attention scores are divided by its square root; 0 = head_dim
  std::optional<double> attn_logit_softcapping;   // scores -> cap * tanh(scores / cap) before the mask
  std::optional<double> final_logit_softcapping;  // logits -> cap * tanh(logits / cap)
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  std::string torch_dtype;  // dtype the checkpoint says it was saved in ("bfloat16", ...)
};

// Whether decoder layer `layer` attends within the sliding window.
bool layer_slides(const ModelConfig& config, size_t layer);

// Reads and validates config.json; throws Error naming the file for unknown model types,
// unsupported options (rope_scaling, ...) and missing or inconsistent fields.
ModelConfig read_model_config(const std::filesystem::path& config_json);

// Validates and converts the parsed JSON (`file` only names the source in errors).
ModelConfig model_config_from_json(const io::Json& json, const std::filesystem::path& file);

// The config.json a Hugging Face model of this config carries.
io::Json model_config_to_json(const ModelConfig& config);

}  // namespace qtalign::model
