#include "model/random_model.h"

namespace qtalign::model {
namespace {

// Draws every tensor from one seeded CPU generator so a seed gives the same model on any device.
struct RandomTensors {
  at::Generator generator;
  at::ScalarType dtype;
  at::Device device;

  at::Tensor normal(at::IntArrayRef shape, double mean, double std) {
    at::Tensor values = at::empty(shape, at::kFloat);
    values.normal_(mean, std, generator);
    return values.to(device, dtype);
  }

  Linear linear(int64_t out, int64_t in, bool with_bias) {
    Linear layer;
    layer.weight = normal({out, in}, 0.0, 0.02);
    if (with_bias) layer.bias = normal({out}, 0.0, 0.02);
    return layer;
  }
};

}  // namespace

Model make_random_model(const ModelConfig& config, uint64_t seed, at::ScalarType dtype, at::Device device) {
  RandomTensors random{at::make_generator<at::CPUGeneratorImpl>(seed), dtype, device};
  const int64_t hidden = config.hidden_size;
  const int64_t q_width = config.num_attention_heads * config.head_dim;
  const int64_t kv_width = config.num_key_value_heads * config.head_dim;
  Model model;
  model.config = config;
  model.embed_tokens = random.normal({config.vocab_size, hidden}, 0.0, 0.02);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    DecoderLayer layer;
    layer.input_layernorm = random.normal({hidden}, 1.0, 0.1);
    layer.q_proj = random.linear(q_width, hidden, config.attention_bias);
    layer.k_proj = random.linear(kv_width, hidden, config.attention_bias);
    layer.v_proj = random.linear(kv_width, hidden, config.attention_bias);
    layer.o_proj = random.linear(hidden, q_width, false);
    layer.post_attention_layernorm = random.normal({hidden}, 1.0, 0.1);
    layer.gate_proj = random.linear(config.intermediate_size, hidden, false);
    layer.up_proj = random.linear(config.intermediate_size, hidden, false);
    layer.down_proj = random.linear(hidden, config.intermediate_size, false);
    model.layers.push_back(std::move(layer));
  }
  model.norm = random.normal({hidden}, 1.0, 0.1);
  model.lm_head = config.tie_word_embeddings ? model.embed_tokens
                                             : random.normal({config.vocab_size, hidden}, 0.0, 0.02);
  return model;
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

}  // namespace qtalign::model
