#include "model/random_model.h"

#include <fmt/format.h>

#include <optional>

#include "io/error.h"
#include "model/checkpoint.h"

namespace qtalign::model {
namespace {

// Draws every tensor from one seeded CPU generator so a seed gives the same model on any device.
struct RandomTensors {
  at::Generator generator;
  at::ScalarType dtype;
  at::Device device;

  // A weight of this name: norms scatter around 1 (they scale), everything else around 0.
  at::Tensor weight(const std::string& name, at::IntArrayRef shape) {
    const bool norm = name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    at::Tensor values = at::empty(shape, at::kFloat);
    values.normal_(norm ? 1.0 : 0.0, norm ? 0.1 : 0.02, generator);
    return values.to(device, dtype);
  }
};

// A preset: an architecture and its shape, one row of kPresets. attention_bias follows the type (qwen2
// only) and head_dim is hidden_size / heads, as in every model here.
struct PresetShape {
  const char* name;
  const char* model_type;
  int64_t vocab_size, hidden_size, intermediate_size, layers, heads, kv_heads, max_positions;
  double rms_norm_eps, rope_theta;
  bool tied;
  std::optional<int64_t> sliding_window, bos_token_id, eos_token_id;
  const char* torch_dtype;
};

// The published shapes are those of each model's config.json on the Hugging Face hub (Qwen/Qwen1.5-*,
// mistralai/Mistral-7B-v0.1, meta-llama/Llama-2-7b-hf); Qwen's bos/eos are left to the tokenizer that
// init-model copies in. The tiny ones are small test models of each architecture, vocabulary to be set.
const PresetShape kPresets[] = {
    // name         type       vocab   hidden inter  layers heads kv positions eps   rope tied   window bos eos dtype
    {"tiny",         "qwen2",   0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  {},   {}, {}, "float32"},
    {"tiny-llama",   "llama",   0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  {},   {}, {}, "float32"},
    {"tiny-mistral", "mistral", 0,      64,    176,   2,     4,    2,  4096,  1e-6, 1e6, true,  4096, {}, {}, "float32"},
    {"qwen1.5-0.5b", "qwen2",   151936, 1024,  2816,  24,    16,   16, 32768, 1e-6, 1e6, true,  {},   {}, {}, "bfloat16"},
    {"qwen1.5-1.8b", "qwen2",   151936, 2048,  5504,  24,    16,   16, 32768, 1e-6, 1e6, false, {},   {}, {}, "bfloat16"},
    {"qwen1.5-4b",   "qwen2",   151936, 2560,  6912,  40,    20,   20, 32768, 1e-6, 5e6, false, {},   {}, {}, "bfloat16"},
    {"qwen1.5-14b",  "qwen2",   152064, 5120,  13696, 40,    40,   40, 32768, 1e-6, 1e6, false, {},   {}, {}, "bfloat16"},
    {"mistral-7b",   "mistral", 32000,  4096,  14336, 32,    32,   8,  32768, 1e-5, 1e4, false, 4096, 1,  2,  "bfloat16"},
    {"llama-2-7b",   "llama",   32000,  4096,  11008, 32,    32,   32, 4096,  1e-5, 1e4, false, {},   1,  2,  "float16"},
};

// The config.json fields of a preset row.
ModelConfig config_of(const PresetShape& shape) {
  ModelConfig config;
  config.model_type = shape.model_type;
  config.vocab_size = shape.vocab_size;
  config.hidden_size = shape.hidden_size;
  config.intermediate_size = shape.intermediate_size;
  config.num_hidden_layers = shape.layers;
  config.num_attention_heads = shape.heads;
  config.num_key_value_heads = shape.kv_heads;
  config.head_dim = shape.hidden_size / shape.heads;
  config.max_position_embeddings = shape.max_positions;
  config.rms_norm_eps = shape.rms_norm_eps;
  config.rope_theta = shape.rope_theta;
  config.tie_word_embeddings = shape.tied;
  config.attention_bias = config.model_type == "qwen2";
  config.sliding_window = shape.sliding_window;
  config.bos_token_id = shape.bos_token_id;
  config.eos_token_id = shape.eos_token_id;
  config.torch_dtype = shape.torch_dtype;
  return config;
}

}  // namespace

Model make_random_model(const ModelConfig& config, uint64_t seed, at::ScalarType dtype, at::Device device) {
  RandomTensors random{at::make_generator<at::CPUGeneratorImpl>(seed), dtype, device};
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
  RandomTensors random{at::make_generator<at::CPUGeneratorImpl>(seed), dtype, at::kCPU};
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
