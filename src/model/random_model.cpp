#include "model/random_model.h"

#include <fmt/format.h>

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

struct Preset {
  const char* name;
  ModelConfig (*config)();
};

ModelConfig tiny_architecture(const char* model_type) {
  ModelConfig config = tiny_qwen2_config(0);
  config.model_type = model_type;
  config.attention_bias = config.model_type == "qwen2";
  if (config.model_type == "mistral") config.sliding_window = 4096;
  return config;
}

// Published configs (config.json of each model on the Hugging Face hub).
ModelConfig qwen1_5_4b() {
  ModelConfig config = qwen1_5_1_8b_shape_config();
  config.hidden_size = 2560;
  config.intermediate_size = 6912;
  config.num_hidden_layers = 40;
  config.num_attention_heads = 20;
  config.num_key_value_heads = 20;
  config.rope_theta = 5000000.0;
  return config;
}

ModelConfig qwen1_5_14b() {
  ModelConfig config = qwen1_5_1_8b_shape_config();
  config.vocab_size = 152064;
  config.hidden_size = 5120;
  config.intermediate_size = 13696;
  config.num_hidden_layers = 40;
  config.num_attention_heads = 40;
  config.num_key_value_heads = 40;
  return config;
}

ModelConfig llama_7b_family(const char* model_type) {
  ModelConfig config;
  config.model_type = model_type;
  config.vocab_size = 32000;
  config.hidden_size = 4096;
  config.num_hidden_layers = 32;
  config.num_attention_heads = 32;
  config.head_dim = 128;
  config.rms_norm_eps = 1e-5;
  config.rope_theta = 10000.0;
  config.tie_word_embeddings = false;
  config.attention_bias = false;
  config.bos_token_id = 1;
  config.eos_token_id = 2;
  config.torch_dtype = "bfloat16";
  return config;
}

ModelConfig mistral_7b() {
  ModelConfig config = llama_7b_family("mistral");
  config.intermediate_size = 14336;
  config.num_key_value_heads = 8;
  config.max_position_embeddings = 32768;
  config.sliding_window = 4096;
  return config;
}

ModelConfig llama_2_7b() {
  ModelConfig config = llama_7b_family("llama");
  config.intermediate_size = 11008;
  config.num_key_value_heads = 32;
  config.max_position_embeddings = 4096;
  config.torch_dtype = "float16";
  return config;
}

constexpr Preset kPresets[] = {
    {"tiny", [] { return tiny_architecture("qwen2"); }},
    {"tiny-llama", [] { return tiny_architecture("llama"); }},
    {"tiny-mistral", [] { return tiny_architecture("mistral"); }},
    {"qwen1.5-0.5b", qwen1_5_0_5b_shape_config},
    {"qwen1.5-1.8b", qwen1_5_1_8b_shape_config},
    {"qwen1.5-4b", qwen1_5_4b},
    {"qwen1.5-14b", qwen1_5_14b},
    {"mistral-7b", mistral_7b},
    {"llama-2-7b", llama_2_7b},
};

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
  ModelConfig config;
  config.model_type = "qwen2";
  config.vocab_size = vocab_size;
  config.hidden_size = 64;
  config.intermediate_size = 176;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = 16;
  config.max_position_embeddings = 4096;
  config.rms_norm_eps = 1e-6;
  config.rope_theta = 1000000.0;
  config.tie_word_embeddings = true;
  config.attention_bias = true;
  config.torch_dtype = "float32";
  return config;
}

ModelConfig qwen1_5_0_5b_shape_config() {
  ModelConfig config;
  config.model_type = "qwen2";
  config.vocab_size = 151936;
  config.hidden_size = 1024;
  config.intermediate_size = 2816;
  config.num_hidden_layers = 24;
  config.num_attention_heads = 16;
  config.num_key_value_heads = 16;
  config.head_dim = 64;
  config.max_position_embeddings = 32768;
  config.rms_norm_eps = 1e-6;
  config.rope_theta = 1000000.0;
  config.tie_word_embeddings = true;
  config.attention_bias = true;
  config.torch_dtype = "bfloat16";
  return config;
}

ModelConfig qwen1_5_1_8b_shape_config() {
  ModelConfig config = qwen1_5_0_5b_shape_config();
  config.hidden_size = 2048;
  config.intermediate_size = 5504;
  config.head_dim = 128;
  config.tie_word_embeddings = false;
  return config;
}

ModelConfig preset_config(const std::string& name) {
  for (const Preset& preset : kPresets)
    if (name == preset.name) return preset.config();
  throw Error(fmt::format("unknown preset '{}' (expected one of: {})", name, fmt::join(preset_names(), ", ")));
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const Preset& preset : kPresets) names.push_back(preset.name);
  return names;
}

}  // namespace qtalign::model
