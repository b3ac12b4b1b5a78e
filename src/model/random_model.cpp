#include "model/random_model.h"

#include <fmt/format.h>

#include <optional>

#include "io/error.h"
#include "io/json_file.h"
#include "model/checkpoint.h"

namespace qtalign::model {
namespace {

// Draws every tensor from one seeded CPU generator so a seed gives the same model on any device.
struct RandomTensors {
  at::Generator generator;
  at::ScalarType dtype;
  at::Device device;
  double norm_mean;  // 1, or 0 where norms scale by (1 + w)

  // A weight of this name: norms scatter around a scale of 1, everything else around 0.
  at::Tensor weight(const std::string& name, at::IntArrayRef shape) {
    const bool norm = name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    at::Tensor values = at::empty(shape, at::kFloat);
    values.normal_(norm ? norm_mean : 0.0, norm ? 0.1 : 0.02, generator);
    return values.to(device, dtype);
  }
};

// A preset: an architecture and its shape, one row of kPresets, read as the config.json it stands for
// (so each family's defaults apply as for a downloaded checkpoint). family_json adds the fields a
// family's config carries beyond these (rope_scaling, head_dim, Gemma's soft-capping, ...).
struct PresetShape {
  const char* name;
  const char* model_type;
  int64_t vocab_size, hidden_size, intermediate_size, layers, heads, kv_heads, max_positions;
  double rms_norm_eps, rope_theta;
  bool tied;
  std::optional<int64_t> sliding_window, bos_token_id, eos_token_id;
  const char* torch_dtype;
  const char* family_json = "{}";
};

// The published shapes are those of each model's config.json on the Hugging Face hub (Qwen/Qwen1.5-*,
// mistralai/Mistral-7B-v0.1, meta-llama/Llama-2-7b-hf, meta-llama/Llama-3.1-8B, meta-llama/Llama-3.2-1B,
// Qwen/Qwen2.5-7B, Qwen/Qwen3-8B, google/gemma-2-9b, google/gemma-3-12b-pt's text_config); Qwen's bos/eos
// are left to the tokenizer that init-model copies in. The tiny ones are small test models of each
// architecture, vocabulary to be set, with windows short enough that tests cross them.
const PresetShape kPresets[] = {
    // name         type       vocab   hidden inter  layers heads kv positions eps   rope tied   window bos eos dtype
    {"tiny",         "qwen2",   0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  {},   {}, {}, "float32"},
    {"tiny-llama",   "llama",   0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  {},   {}, {}, "float32"},
    {"tiny-mistral", "mistral", 0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  4096, {}, {}, "float32"},
    {"tiny-llama3",  "llama",   0,      64,    176,   2,     4,    2,  4096,  1e-5, 5e5, true,  {},   {}, {}, "float32",
     R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
         "original_max_position_embeddings": 64}})"},
    {"tiny-qwen3",   "qwen3",   0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  {},   {}, {}, "float32",
     R"({"head_dim": 32})"},
    {"tiny-gemma2",  "gemma2",  0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e4, true,  16,   {}, {}, "float32",
     R"({"head_dim": 16, "query_pre_attn_scalar": 16, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0})"},
    {"tiny-gemma3",  "gemma3_text", 0,  64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  16,   {}, {}, "float32",
     R"({"head_dim": 16, "query_pre_attn_scalar": 16, "rope_local_base_freq": 10000.0, "sliding_window_pattern": 2,
         "rope_scaling": {"rope_type": "linear", "factor": 8.0}})"},
    {"qwen1.5-0.5b", "qwen2",   151936, 1024,  2816,  24,    16,   16, 32768, 1e-6, 1e6, true,  {},   {}, {}, "bfloat16"},
    {"qwen1.5-1.8b", "qwen2",   151936, 2048,  5504,  24,    16,   16, 32768, 1e-6, 1e6, false, {},   {}, {}, "bfloat16"},
    {"qwen1.5-4b",   "qwen2",   151936, 2560,  6912,  40,    20,   20, 32768, 1e-6, 5e6, false, {},   {}, {}, "bfloat16"},
    {"qwen1.5-14b",  "qwen2",   152064, 5120,  13696, 40,    40,   40, 32768, 1e-6, 1e6, false, {},   {}, {}, "bfloat16"},
    {"mistral-7b",   "mistral", 32000,  4096,  14336, 32,    32,   8,  32768, 1e-5, 1e4, false, 4096, 1,  2,  "bfloat16"},
    {"llama-2-7b",   "llama",   32000,  4096,  11008, 32,    32,   32, 4096,  1e-5, 1e4, false, {},   1,  2,  "float16"},
    {"llama-3.1-8b", "llama",   128256, 4096,  14336, 32,    32,   8,  131072, 1e-5, 5e5, false, {},  128000, 128001, "bfloat16",
     R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
         "original_max_position_embeddings": 8192}})"},
    {"llama-3.2-1b", "llama",   128256, 2048,  8192,  16,    32,   8,  131072, 1e-5, 5e5, true,  {},  128000, 128001, "bfloat16",
     R"({"rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
         "original_max_position_embeddings": 8192}})"},
    {"qwen2.5-7b",   "qwen2",   152064, 3584,  18944, 28,    28,   4,  131072, 1e-6, 1e6, false, {},  {}, {}, "bfloat16"},
    {"qwen3-8b",     "qwen3",   151936, 4096,  12288, 36,    32,   8,  40960, 1e-6, 1e6, false, {},   {}, {}, "bfloat16",
     R"({"head_dim": 128})"},
    {"gemma-2-9b",   "gemma2",  256000, 3584,  14336, 42,    16,   8,  8192,  1e-6, 1e4, true,  4096, 2,  1,  "float32",
     R"({"head_dim": 256, "query_pre_attn_scalar": 256, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0})"},
    {"gemma-3-12b",  "gemma3_text", 262208, 3840, 15360, 48, 16,   8,  131072, 1e-6, 1e6, true, 1024, 2,  1,  "bfloat16",
     R"({"head_dim": 256, "query_pre_attn_scalar": 256, "rope_local_base_freq": 10000.0, "sliding_window_pattern": 6,
         "attn_logit_softcapping": null, "final_logit_softcapping": null,
         "rope_scaling": {"rope_type": "linear", "factor": 8.0}})"},
};

// The config a preset row stands for, read as its config.json would be.
ModelConfig config_of(const PresetShape& shape) {
  io::Json json = io::Json::parse(shape.family_json);
  json.update({{"model_type", shape.model_type},
               // The tiny presets' vocabulary is set later; 1 stands in for the reader's check.
               {"vocab_size", shape.vocab_size > 0 ? shape.vocab_size : 1},
               {"hidden_size", shape.hidden_size},
               {"intermediate_size", shape.intermediate_size},
               {"num_hidden_layers", shape.layers},
               {"num_attention_heads", shape.heads},
               {"num_key_value_heads", shape.kv_heads},
               {"max_position_embeddings", shape.max_positions},
               {"rms_norm_eps", shape.rms_norm_eps},
               {"rope_theta", shape.rope_theta},
               {"tie_word_embeddings", shape.tied},
               {"torch_dtype", shape.torch_dtype}});
  if (shape.sliding_window) json["sliding_window"] = *shape.sliding_window;
  if (shape.bos_token_id) json["bos_token_id"] = *shape.bos_token_id;
  if (shape.eos_token_id) json["eos_token_id"] = *shape.eos_token_id;
  ModelConfig config = model_config_from_json(json, std::string("preset ") + shape.name);
  config.vocab_size = shape.vocab_size;
  return config;
}

}  // namespace

Model make_random_model(const ModelConfig& config, uint64_t seed, at::ScalarType dtype, at::Device device) {
  RandomTensors random{at::make_generator<at::CPUGeneratorImpl>(seed), dtype, device,
                       config.norm_weight_offset ? 0.0 : 1.0};
  Model model;
  model.config = config;
  model.layers.resize(static_cast<size_t>(config.num_hidden_layers));
  visit_weights(model, [&](const std::string& name, at::Tensor& slot, const std::vector<int64_t>& shape) {
    slot = random.weight(name, shape);
  });
  if (config.tie_word_embeddings) model.lm_head = model.embed_tokens;
  return model;
}

int64_t write_random_checkpoint(const ModelConfig& config, uint64_t seed, at::ScalarType dtype,
                                const std::filesystem::path& directory, uint64_t max_shard_bytes) {
  RandomTensors random{at::make_generator<at::CPUGeneratorImpl>(seed), dtype, at::kCPU,
                       config.norm_weight_offset ? 0.0 : 1.0};
  int64_t parameters = 0;
  // save_weights asks in state-dict order, the order make_random_model draws in: the same weights.
  save_weights(config, directory, dtype,
               [&](const std::string& name, const std::vector<int64_t>& shape) {
                 at::Tensor weight = random.weight(name, shape);
                 parameters += weight.numel();
                 return weight;
               },
               max_shard_bytes);
  return parameters;
}

ModelConfig tiny_qwen2_config(int64_t vocab_size) {
  ModelConfig config = preset_config("tiny");
  config.vocab_size = vocab_size;
  return config;
}

ModelConfig qwen1_5_0_5b_shape_config() { return preset_config("qwen1.5-0.5b"); }

ModelConfig qwen1_5_1_8b_shape_config() { return preset_config("qwen1.5-1.8b"); }

ModelConfig preset_config(const std::string& name) {
  for (const PresetShape& preset : kPresets)
    if (name == preset.name) return config_of(preset);
  throw Error(fmt::format("unknown preset '{}' (expected one of: {})", name, fmt::join(preset_names(), ", ")));
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const PresetShape& preset : kPresets) names.push_back(preset.name);
  return names;
}

}  // namespace qtalign::model
