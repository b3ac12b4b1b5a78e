#include "model/random_model.h"

#include <gtest/gtest.h>

#include "io/error.h"
#include "io/json_file.h"
#include "model/checkpoint.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

namespace fs = std::filesystem;

struct PublishedShape {
  const char* preset;
  const char* model_type;
  int64_t vocab, hidden, intermediate, layers, heads, kv_heads, max_positions;
  double rms_norm_eps, rope_theta;
  bool tied;
  int64_t head_dim = 0;  // 0 = hidden / heads
};

TEST(Presets, HaveThePublishedShapes) {
  // From each model's config.json on the Hugging Face hub (Qwen/Qwen1.5-*, mistralai/Mistral-7B-v0.1,
  // meta-llama/Llama-2-7b-hf, whose config leaves rope_theta at its default 10000).
  const PublishedShape shapes[] = {
      {"qwen1.5-0.5b", "qwen2", 151936, 1024, 2816, 24, 16, 16, 32768, 1e-6, 1e6, true},
      {"qwen1.5-1.8b", "qwen2", 151936, 2048, 5504, 24, 16, 16, 32768, 1e-6, 1e6, false},
      {"qwen1.5-4b", "qwen2", 151936, 2560, 6912, 40, 20, 20, 32768, 1e-6, 5e6, false},
      {"qwen1.5-14b", "qwen2", 152064, 5120, 13696, 40, 40, 40, 32768, 1e-6, 1e6, false},
      {"mistral-7b", "mistral", 32000, 4096, 14336, 32, 32, 8, 32768, 1e-5, 1e4, false},
      {"llama-2-7b", "llama", 32000, 4096, 11008, 32, 32, 32, 4096, 1e-5, 1e4, false},
      // meta-llama/Llama-3.1-8B, meta-llama/Llama-3.2-1B, Qwen/Qwen2.5-7B, Qwen/Qwen3-8B, google/gemma-2-9b,
      // google/gemma-3-12b-pt (its text_config).
      {"llama-3.1-8b", "llama", 128256, 4096, 14336, 32, 32, 8, 131072, 1e-5, 5e5, false},
      {"llama-3.2-1b", "llama", 128256, 2048, 8192, 16, 32, 8, 131072, 1e-5, 5e5, true},
      {"qwen2.5-7b", "qwen2", 152064, 3584, 18944, 28, 28, 4, 131072, 1e-6, 1e6, false},
      {"qwen3-8b", "qwen3", 151936, 4096, 12288, 36, 32, 8, 40960, 1e-6, 1e6, false, 128},
      {"gemma-2-9b", "gemma2", 256000, 3584, 14336, 42, 16, 8, 8192, 1e-6, 1e4, true, 256},
      {"gemma-3-12b", "gemma3_text", 262208, 3840, 15360, 48, 16, 8, 131072, 1e-6, 1e6, true, 256},
  };
  for (const PublishedShape& shape : shapes) {
    SCOPED_TRACE(shape.preset);
    const ModelConfig config = preset_config(shape.preset);
    EXPECT_EQ(config.model_type, shape.model_type);
    EXPECT_EQ(config.vocab_size, shape.vocab);
    EXPECT_EQ(config.hidden_size, shape.hidden);
    EXPECT_EQ(config.intermediate_size, shape.intermediate);
    EXPECT_EQ(config.num_hidden_layers, shape.layers);
    EXPECT_EQ(config.num_attention_heads, shape.heads);
    EXPECT_EQ(config.num_key_value_heads, shape.kv_heads);
    EXPECT_EQ(config.head_dim, shape.head_dim ? shape.head_dim : shape.hidden / shape.heads);
    EXPECT_EQ(config.max_position_embeddings, shape.max_positions);
    EXPECT_EQ(config.rms_norm_eps, shape.rms_norm_eps);
    EXPECT_EQ(config.rope_theta, shape.rope_theta);
    EXPECT_EQ(config.tie_word_embeddings, shape.tied);
    EXPECT_EQ(config.attention_bias, config.model_type == "qwen2");
    // Each preset survives config.json as transformers reads it back.
    const ModelConfig reread = model_config_from_json(model_config_to_json(config), "config.json");
    EXPECT_EQ(reread.num_key_value_heads, config.num_key_value_heads);
    EXPECT_EQ(model_config_to_json(reread), model_config_to_json(config));
  }
  const ModelConfig llama31 = preset_config("llama-3.1-8b");
  EXPECT_EQ(llama31.rope_scaling.type, "llama3");
  EXPECT_EQ(llama31.rope_scaling.factor, 8.0);
  EXPECT_EQ(llama31.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(preset_config("llama-3.2-1b").rope_scaling.factor, 32.0);
  EXPECT_EQ(preset_config("llama-3.1-8b").bos_token_id, 128000);
  EXPECT_FALSE(preset_config("qwen2.5-7b").sliding_window);
  const ModelConfig gemma2 = preset_config("gemma-2-9b");
  EXPECT_EQ(gemma2.sliding_window, 4096);
  EXPECT_EQ(gemma2.attn_logit_softcapping, 50.0);
  EXPECT_EQ(gemma2.final_logit_softcapping, 30.0);
  const ModelConfig gemma3 = preset_config("gemma-3-12b");
  EXPECT_EQ(gemma3.sliding_window, 1024);
  EXPECT_EQ(gemma3.rope_scaling.type, "linear");
  EXPECT_EQ(gemma3.rope_scaling.factor, 8.0);
  EXPECT_EQ(gemma3.rope_local_base_freq, 10000.0);
  EXPECT_FALSE(gemma3.final_logit_softcapping);
  EXPECT_TRUE(layer_slides(gemma3, 4));
  EXPECT_FALSE(layer_slides(gemma3, 5));
  for (const char* tiny : {"tiny-llama3", "tiny-qwen3", "tiny-gemma2", "tiny-gemma3"})
    EXPECT_EQ(preset_config(tiny).vocab_size, 0) << tiny;
  EXPECT_EQ(preset_config("mistral-7b").sliding_window, 4096);
  EXPECT_FALSE(preset_config("llama-2-7b").sliding_window.has_value());
  EXPECT_EQ(preset_config("llama-2-7b").eos_token_id, 2);
  EXPECT_EQ(preset_config("tiny-mistral").sliding_window, 4096);
  EXPECT_EQ(preset_config("tiny-llama").model_type, "llama");
  EXPECT_EQ(preset_config("tiny").vocab_size, 0);
  EXPECT_NE(testing::error_of([] { preset_config("gpt5"); }).find("unknown preset 'gpt5' (expected one of: tiny, "),
            std::string::npos);
}

TEST(WriteRandomCheckpoint, WritesWhatMakeRandomModelDrawsShardByShard) {
  testing::TempDir temp;
  ModelConfig config = preset_config("tiny-llama");
  config.vocab_size = 300;
  config.tie_word_embeddings = false;
  // Shards of at most 100 kB: the 300 x 64 fp32 embeddings alone take 76.8 kB.
  const int64_t parameters = write_random_checkpoint(config, 5, at::kFloat, temp / "m", 100000);
  EXPECT_TRUE(fs::exists(temp / "m/model.safetensors.index.json"));
  size_t shards = 0;
  for (const auto& entry : fs::directory_iterator(temp / "m"))
    shards += entry.path().filename().string().rfind("model-", 0) == 0;
  // About 520 kB of weights (each layer 183 kB) in shards of at most 100 kB, one tensor never split.
  EXPECT_GE(shards, 6u);
  const Model expected = make_random_model(config, 5);
  const Model loaded = load_model(temp / "m");
  int64_t counted = expected.embed_tokens.numel() + expected.lm_head.numel() + expected.norm.numel();
  for (size_t i = 0; i < expected.layers.size(); ++i) {
    const DecoderLayer& a = expected.layers[i];
    const DecoderLayer& b = loaded.layers[i];
    EXPECT_TRUE(at::equal(a.q_proj.weight, b.q_proj.weight)) << i;
    EXPECT_TRUE(at::equal(a.down_proj.weight, b.down_proj.weight)) << i;
    EXPECT_TRUE(at::equal(a.post_attention_layernorm, b.post_attention_layernorm)) << i;
    counted += a.input_layernorm.numel() + a.post_attention_layernorm.numel();
    for (const Linear* linear : {&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj, &a.gate_proj, &a.up_proj, &a.down_proj})
      counted += linear->weight.numel();
  }
  EXPECT_TRUE(at::equal(expected.embed_tokens, loaded.embed_tokens));
  EXPECT_TRUE(at::equal(expected.lm_head, loaded.lm_head));
  EXPECT_EQ(parameters, counted);
  // Norm weights scatter around 1, the rest around 0.
  EXPECT_NEAR(expected.norm.mean().item<double>(), 1.0, 0.05);
  EXPECT_NEAR(expected.embed_tokens.mean().item<double>(), 0.0, 0.005);
  EXPECT_EQ(loaded.config.model_type, "llama");
}

}  // namespace
}  // namespace qtalign::model
