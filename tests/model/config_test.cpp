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
  EXPECT_EQ(refusal(minimal("gpt2")), "m/config.json: unsupported model_type 'gpt2' (qtalign runs qwen2, llama, mistral, qwen3, gemma2 and gemma3_text)");
  EXPECT_EQ(refusal(with("llama", "rope_scaling", {{"type", "yarn"}, {"factor", 2.0}})),
            R"(m/config.json: llama option rope_scaling {"factor":2.0,"type":"yarn"} (qtalign implements linear, dynamic and llama3) is not supported by qtalign)");
  EXPECT_EQ(refusal(with("llama", "rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}})),
            "m/config.json: rope_scaling of type llama3 needs 'low_freq_factor'");
  EXPECT_EQ(refusal(with("llama", "hidden_act", "gelu")),
            R"(m/config.json: llama option hidden_act "gelu" (only silu and gelu_pytorch_tanh) is not supported by qtalign)");
  Json nested = Json::array();
  for (int depth = 0; depth < 100000; ++depth) {
    Json outer = Json::array();
    outer.push_back(std::move(nested));
    nested = std::move(outer);
  }
  EXPECT_EQ(refusal(with("llama", "hidden_act", std::move(nested))),
            "m/config.json: llama option hidden_act (a deeply nested array) is not supported by qtalign");
  Json one_type = with("gemma2", "layer_types", {"sliding_attention"});
  one_type["num_key_value_heads"] = 4;
  EXPECT_EQ(refusal(one_type),
            "m/config.json: 'layer_types' must list one type per layer (2)");
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

// Configs as the hub's checkpoints carry them (meta-llama/Llama-3.1-8B, Qwen/Qwen3-8B, google/gemma-2-9b,
// google/gemma-3-1b-it), trimmed of fields qtalign does not read.
constexpr const char* kLlama31Config = R"({"architectures": ["LlamaForCausalLM"], "attention_bias": false,
  "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0,
  "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256})";
constexpr const char* kQwen3Config = R"({"architectures": ["Qwen3ForCausalLM"], "attention_bias": false,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
  "intermediate_size": 12288, "max_position_embeddings": 40960, "max_window_layers": 36, "model_type": "qwen3",
  "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
  "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "use_sliding_window": false, "vocab_size": 151936})";
constexpr const char* kGemma2Config = R"({"architectures": ["Gemma2ForCausalLM"], "attention_bias": false,
  "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": 1,
  "final_logit_softcapping": 30.0, "head_dim": 256, "hidden_act": "gelu_pytorch_tanh",
  "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 3584, "intermediate_size": 14336,
  "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": 16, "num_hidden_layers": 42,
  "num_key_value_heads": 8, "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06,
  "rope_theta": 10000.0, "sliding_window": 4096, "sliding_window_size": 4096, "torch_dtype": "float32",
  "vocab_size": 256000})";
constexpr const char* kGemma3Config = R"({"architectures": ["Gemma3ForCausalLM"], "attention_bias": false,
  "attn_logit_softcapping": null, "bos_token_id": 2, "eos_token_id": [1, 106], "final_logit_softcapping": null,
  "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 1152, "intermediate_size": 6912,
  "max_position_embeddings": 32768, "model_type": "gemma3_text", "num_attention_heads": 4, "num_hidden_layers": 26,
  "num_key_value_heads": 1, "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06,
  "rope_local_base_freq": 10000, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": 512,
  "sliding_window_pattern": 6, "torch_dtype": "bfloat16", "vocab_size": 262144})";

TEST(ModelConfig, ReadsTheNewFamiliesAsTransformersDoes) {
  const ModelConfig llama = model_config_from_json(Json::parse(kLlama31Config), "config.json");
  EXPECT_EQ(llama.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(llama.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(llama.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(llama.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(llama.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(llama.sliding_window);
  EXPECT_FALSE(llama.qk_norm || llama.norm_weight_offset || llama.attention_bias || llama.output_bias);

  // The older key "type" names the kind as "rope_type" does; attention_bias puts a bias on q/k/v/o.
  Json linear = Json::parse(kLlama31Config);
  linear["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  linear["attention_bias"] = true;
  const ModelConfig linear_config = model_config_from_json(linear, "config.json");
  EXPECT_EQ(linear_config.rope_scaling.type, "linear");
  EXPECT_TRUE(linear_config.attention_bias && linear_config.output_bias);

  const ModelConfig qwen3 = model_config_from_json(Json::parse(kQwen3Config), "config.json");
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_EQ(qwen3.head_dim, 128);
  EXPECT_FALSE(qwen3.attention_bias);
  EXPECT_FALSE(qwen3.sliding_window) << "use_sliding_window false";
  EXPECT_EQ(qwen3.hidden_activation, "silu");

  const ModelConfig gemma2 = model_config_from_json(Json::parse(kGemma2Config), "config.json");
  EXPECT_TRUE(gemma2.norm_weight_offset && gemma2.scale_embeddings && gemma2.sandwich_norms);
  EXPECT_FALSE(gemma2.qk_norm);
  EXPECT_TRUE(gemma2.tie_word_embeddings) << "Gemma's class default";
  EXPECT_EQ(gemma2.hidden_activation, "gelu_pytorch_tanh");
  EXPECT_DOUBLE_EQ(gemma2.query_pre_attn_scalar, 256);
  EXPECT_EQ(gemma2.attn_logit_softcapping, 50.0);
  EXPECT_EQ(gemma2.final_logit_softcapping, 30.0);
  EXPECT_EQ(gemma2.sliding_window, 4096);
  for (size_t i = 0; i < 42; ++i) EXPECT_EQ(layer_slides(gemma2, i), i % 2 == 0) << "layer " << i;

  const ModelConfig gemma3 = model_config_from_json(Json::parse(kGemma3Config), "config.json");
  EXPECT_TRUE(gemma3.qk_norm && gemma3.norm_weight_offset && gemma3.sandwich_norms);
  EXPECT_FALSE(gemma3.attn_logit_softcapping) << "null is off";
  EXPECT_FALSE(gemma3.final_logit_softcapping);
  EXPECT_EQ(gemma3.rope_local_base_freq, 10000.0);
  EXPECT_EQ(gemma3.sliding_window, 512);
  EXPECT_EQ(gemma3.eos_token_id, 1);
  for (size_t i = 0; i < 26; ++i) EXPECT_EQ(layer_slides(gemma3, i), (i + 1) % 6 != 0) << "layer " << i;
  // layer_types, when present, decides instead of the pattern.
  Json typed = Json::parse(kGemma3Config);
  typed["num_hidden_layers"] = 3;
  typed["layer_types"] = {"full_attention", "sliding_attention", "full_attention"};
  const ModelConfig typed_config = model_config_from_json(typed, "config.json");
  EXPECT_FALSE(layer_slides(typed_config, 0));
  EXPECT_TRUE(layer_slides(typed_config, 1));
  // Absent soft-capping is Gemma 2's default (50 / 30); null turns it off.
  Json defaults = Json::parse(kGemma2Config);
  defaults.erase("attn_logit_softcapping");
  defaults["final_logit_softcapping"] = nullptr;
  const ModelConfig defaults_config = model_config_from_json(defaults, "config.json");
  EXPECT_EQ(defaults_config.attn_logit_softcapping, 50.0);
  EXPECT_FALSE(defaults_config.final_logit_softcapping);

  // Qwen's use_sliding_window slides the layers from max_window_layers on.
  Json sliding_qwen = Json::parse(kQwen3Config);
  sliding_qwen["use_sliding_window"] = true;
  sliding_qwen["sliding_window"] = 4096;
  sliding_qwen["max_window_layers"] = 30;
  const ModelConfig sliding_qwen_config = model_config_from_json(sliding_qwen, "config.json");
  EXPECT_EQ(sliding_qwen_config.sliding_window, 4096);
  EXPECT_FALSE(layer_slides(sliding_qwen_config, 29));
  EXPECT_TRUE(layer_slides(sliding_qwen_config, 30));

  for (const char* text : {kLlama31Config, kQwen3Config, kGemma2Config, kGemma3Config}) {
    const ModelConfig original = model_config_from_json(Json::parse(text), "config.json");
    const Json written = model_config_to_json(original);
    const ModelConfig again = model_config_from_json(written, "written.json");
    EXPECT_EQ(written, model_config_to_json(again)) << text;
    for (size_t i = 0; i < static_cast<size_t>(original.num_hidden_layers); ++i)
      EXPECT_EQ(layer_slides(again, i), layer_slides(original, i));
    EXPECT_EQ(again.attn_logit_softcapping, original.attn_logit_softcapping);
    EXPECT_EQ(again.final_logit_softcapping, original.final_logit_softcapping);
    EXPECT_EQ(again.rope_scaling.type, original.rope_scaling.type);
    EXPECT_EQ(again.rope_local_base_freq, original.rope_local_base_freq);
    EXPECT_EQ(again.qk_norm, original.qk_norm);
    EXPECT_EQ(written["architectures"][0], Json::parse(text)["architectures"][0]);
  }
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
