#include "model/config.h"

#include <gtest/gtest.h>

#include <functional>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

using testing::error_of;

using io::Json;

// Qwen1.5-0.5B's config.json as published on the Hugging Face Hub.
const char* kQwen15Config = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
  "intermediate_size": 2816, "max_position_embeddings": 32768, "max_window_layers": 21,
  "model_type": "qwen2", "num_attention_heads": 16, "num_hidden_layers": 24, "num_key_value_heads": 16,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "transformers_version": "4.37.0", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936})";

// Mistral-7B-v0.1's config.json as published.
const char* kMistralConfig = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
  "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000})";

TEST(ModelConfig, ReadsQwen15) {
  const ModelConfig config = model_config_from_json(Json::parse(kQwen15Config), "config.json");
  EXPECT_EQ(config.model_type, "qwen2");
  EXPECT_EQ(config.vocab_size, 151936);
  EXPECT_EQ(config.hidden_size, 1024);
  EXPECT_EQ(config.intermediate_size, 2816);
  EXPECT_EQ(config.num_hidden_layers, 24);
  EXPECT_EQ(config.num_attention_heads, 16);
  EXPECT_EQ(config.num_key_value_heads, 16);
  EXPECT_EQ(config.head_dim, 64);
  EXPECT_EQ(config.max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_TRUE(config.attention_bias);
  EXPECT_FALSE(config.sliding_window) << "qwen2's window is off unless use_sliding_window";
  EXPECT_EQ(config.bos_token_id, 151643);
  EXPECT_EQ(config.eos_token_id, 151643);
  EXPECT_EQ(config.torch_dtype, "bfloat16");
}

TEST(ModelConfig, ReadsMistral7B) {
  const ModelConfig config = model_config_from_json(Json::parse(kMistralConfig), "config.json");
  EXPECT_EQ(config.num_key_value_heads, 8);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_FALSE(config.attention_bias);
  EXPECT_EQ(config.sliding_window, 4096);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-5);
  EXPECT_FALSE(config.tie_word_embeddings);
}

Json minimal(const std::string& model_type) {
  return {{"model_type", model_type}, {"vocab_size", 100},      {"hidden_size", 64},
          {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 8}};
}

TEST(ModelConfig, AppliesTheDefaultsOfTransformers) {
  const ModelConfig llama = model_config_from_json(minimal("llama"), "config.json");
  EXPECT_EQ(llama.num_key_value_heads, 8);  // LlamaConfig: None -> num_attention_heads
  EXPECT_EQ(llama.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(llama.rope_theta, 10000.0);
  EXPECT_FALSE(llama.attention_bias);
  EXPECT_FALSE(llama.tie_word_embeddings);

  Json qwen = minimal("qwen2");
  qwen["num_attention_heads"] = 32;
  qwen["hidden_size"] = 128;
  EXPECT_EQ(model_config_from_json(qwen, "config.json").num_key_value_heads, 32);  // Qwen2Config default
  qwen["num_key_value_heads"] = nullptr;
  EXPECT_EQ(model_config_from_json(qwen, "config.json").num_key_value_heads, 32);

  const ModelConfig mistral = model_config_from_json(minimal("mistral"), "config.json");
  EXPECT_EQ(mistral.num_key_value_heads, 8);
  EXPECT_FALSE(mistral.sliding_window);

  Json explicit_head_dim = minimal("llama");
  explicit_head_dim["head_dim"] = 16;  // 8 heads x 16 = 128, wider than hidden_size
  EXPECT_EQ(model_config_from_json(explicit_head_dim, "config.json").head_dim, 16);

  Json llama3_eos = minimal("llama");
  llama3_eos["eos_token_id"] = {128001, 128009};
  EXPECT_EQ(model_config_from_json(llama3_eos, "config.json").eos_token_id, 128001);
}

TEST(ModelConfig, RefusesUnknownTypesAndUnsupportedOptionsNamingTheFile) {
  const auto refusal = [](Json json) { return error_of([&] { model_config_from_json(json, "m/config.json"); }); };
  const auto with = [](const std::string& type, const std::string& key, Json value) {
    Json json = minimal(type);
    json[key] = std::move(value);
    return json;
  };
  EXPECT_EQ(refusal(minimal("gpt2")), "m/config.json: unsupported model_type 'gpt2' (qtalign runs qwen2, llama and mistral)");
  EXPECT_EQ(refusal(with("llama", "rope_scaling", {{"type", "linear"}, {"factor", 2.0}})),
            R"(m/config.json: llama option rope_scaling {"factor":2.0,"type":"linear"} is not supported by qtalign)");
  EXPECT_NE(refusal(with("llama", "rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}})).find("rope_scaling"),
            std::string::npos);
  EXPECT_EQ(refusal(with("llama", "hidden_act", "gelu")),
            R"(m/config.json: llama option hidden_act "gelu" (only silu) is not supported by qtalign)");
  Json nested = Json::array();
  for (int depth = 0; depth < 100000; ++depth) {
    Json outer = Json::array();
    outer.push_back(std::move(nested));
    nested = std::move(outer);
  }
  EXPECT_EQ(refusal(with("llama", "hidden_act", std::move(nested))),
            "m/config.json: llama option hidden_act (a deeply nested array) (only silu) is not supported by qtalign");
  Json sliding_qwen = with("qwen2", "use_sliding_window", true);
  sliding_qwen["num_key_value_heads"] = 4;
  EXPECT_EQ(refusal(sliding_qwen),
            "m/config.json: qwen2 option use_sliding_window true is not supported by qtalign");
  EXPECT_EQ(refusal(with("llama", "attention_bias", true)),
            "m/config.json: llama option attention_bias true is not supported by qtalign");
  EXPECT_EQ(refusal(with("llama", "mlp_bias", true)),
            "m/config.json: llama option mlp_bias true is not supported by qtalign");
  EXPECT_EQ(refusal(with("llama", "num_key_value_heads", 3)),
            "m/config.json: num_attention_heads 8 is not a multiple of num_key_value_heads 3");
  EXPECT_EQ(refusal(with("llama", "hidden_size", 60)),
            "m/config.json: hidden_size 60 is not divisible by num_attention_heads 8");
  EXPECT_EQ(refusal(with("llama", "vocab_size", 0)), "m/config.json: 'vocab_size' must be positive, got 0");
  EXPECT_EQ(refusal(with("llama", "vocab_size", "100")),
            "m/config.json: field 'vocab_size' has the wrong type (string)");
  Json no_layers = minimal("qwen2");
  no_layers.erase("num_hidden_layers");
  EXPECT_EQ(refusal(no_layers), "m/config.json: missing field 'num_hidden_layers'");
  // The identity rope_scaling is no scaling at all.
  EXPECT_NO_THROW(model_config_from_json(with("llama", "rope_scaling", {{"rope_type", "default"}}), "m/config.json"));
}

TEST(ModelConfig, ReadsTheFileAndNamesItInErrors) {
  testing::TempDir dir;
  EXPECT_EQ(error_of([&] { read_model_config(dir / "config.json"); }),
            (dir / "config.json").string() + ": no such file (not a Hugging Face checkpoint?)");
  io::write_file_atomically(dir / "config.json", "{\"model_type\": \"llama\",");
  EXPECT_NE(error_of([&] { read_model_config(dir / "config.json"); }).find((dir / "config.json").string() + ": invalid JSON"),
            std::string::npos);
  io::write_file_atomically(dir / "config.json", kMistralConfig);
  EXPECT_EQ(read_model_config(dir / "config.json").hidden_size, 4096);
}

TEST(ModelConfig, RoundTripsThroughJson) {
  for (const char* text : {kQwen15Config, kMistralConfig}) {
    const ModelConfig original = model_config_from_json(Json::parse(text), "config.json");
    const Json written = model_config_to_json(original);
    const ModelConfig again = model_config_from_json(written, "written.json");
    EXPECT_EQ(written, model_config_to_json(again));
    EXPECT_EQ(again.head_dim, original.head_dim);
    EXPECT_EQ(again.num_key_value_heads, original.num_key_value_heads);
    EXPECT_EQ(again.sliding_window, original.sliding_window);
    EXPECT_EQ(again.tie_word_embeddings, original.tie_word_embeddings);
    EXPECT_EQ(again.attention_bias, original.attention_bias);
    EXPECT_DOUBLE_EQ(again.rope_theta, original.rope_theta);
    EXPECT_DOUBLE_EQ(again.rms_norm_eps, original.rms_norm_eps);
    EXPECT_EQ(again.bos_token_id, original.bos_token_id);
    EXPECT_EQ(again.eos_token_id, original.eos_token_id);
    EXPECT_EQ(again.torch_dtype, original.torch_dtype);
    EXPECT_EQ(written["architectures"][0], Json::parse(text)["architectures"][0]);
  }
}

}  // namespace
}  // namespace qtalign::model
