#include "model/config.h"

#include <algorithm>

#include "io/error.h"
#include "io/input_path.h"

namespace qtalign::model {
namespace {

using io::Json;

// Defaults of the Hugging Face config classes, for the fields a config.json may leave out.
struct ArchitectureDefaults {
  const char* model_type;
  const char* architecture;
  int64_t num_key_value_heads;  // 0 = as many as attention heads
  int64_t max_position_embeddings;
  bool attention_bias;
};

constexpr ArchitectureDefaults kArchitectures[] = {
    {"qwen2", "Qwen2ForCausalLM", 32, 32768, true},
    {"llama", "LlamaForCausalLM", 0, 2048, false},
    {"mistral", "MistralForCausalLM", 8, 131072, false},
};

const ArchitectureDefaults* find_architecture(const std::string& model_type) {
  for (const auto& architecture : kArchitectures)
    if (model_type == architecture.model_type) return &architecture;
  return nullptr;
}

bool present(const Json& json, const char* key) { return json.contains(key) && !json[key].is_null(); }

// How deeply `value` nests containers, counted no further than `cap`.
int nesting_depth(const Json& value, int cap) {
  if (!value.is_structured() || cap == 0) return 0;
  int deepest = 0;
  for (const Json& element : value) deepest = std::max(deepest, nesting_depth(element, cap - 1));
  return deepest + 1;
}

// A refused option's value as the error quotes it: as written, unless it nests so deeply that
// printing it could exhaust the stack (a hostile config.json), then by its kind.
std::string quote_value(const Json& value) {
  constexpr int kMaxQuotedDepth = 8;
  if (nesting_depth(value, kMaxQuotedDepth + 1) > kMaxQuotedDepth) return std::string("(a deeply nested ") + value.type_name() + ")";
  return value.dump();
}

int64_t positive_int(const Json& json, const char* key, const std::filesystem::path& file) {
  const auto value = io::required_field<int64_t>(json, key, file);
  if (value <= 0) fail_at(file, std::string("'") + key + "' must be positive, got " + std::to_string(value));
  return value;
}

int64_t positive_int_or(const Json& json, const char* key, int64_t fallback, const std::filesystem::path& file) {
  return present(json, key) ? positive_int(json, key, file) : fallback;
}

double positive_number_or(const Json& json, const char* key, double fallback, const std::filesystem::path& file) {
  if (!present(json, key)) return fallback;
  if (!json[key].is_number()) fail_at(file, std::string("'") + key + "' must be a number");
  const double value = json[key].get<double>();
  if (!(value > 0)) fail_at(file, std::string("'") + key + "' must be positive");
  return value;
}

bool flag_or(const Json& json, const char* key, bool fallback, const std::filesystem::path& file) {
  if (!present(json, key)) return fallback;
  if (!json[key].is_boolean()) fail_at(file, std::string("'") + key + "' must be true or false");
  return json[key].get<bool>();
}

// Token ids may be a single id or (Llama 3, generation configs) a list; the first one is kept.
std::optional<int64_t> token_id(const Json& json, const char* key, const std::filesystem::path& file) {
  if (!present(json, key)) return std::nullopt;
  const Json& value = json[key].is_array() && !json[key].empty() ? json[key][0] : json[key];
  if (!value.is_number_integer() || value.get<int64_t>() < 0)
    fail_at(file, std::string("'") + key + "' must be a non-negative token id");
  return value.get<int64_t>();
}

void refuse(const std::filesystem::path& file, const std::string& model_type, const std::string& option) {
  fail_at(file, model_type + " option " + option + " is not supported by qtalign");
}

}  // namespace

ModelConfig read_model_config(const std::filesystem::path& config_json) {
  io::require_file(config_json, "not a Hugging Face checkpoint?");
  return model_config_from_json(io::read_json_file(config_json), config_json);
}

ModelConfig model_config_from_json(const Json& json, const std::filesystem::path& file) {
  if (!json.is_object()) fail_at(file, "expected a JSON object");
  ModelConfig config;
  config.model_type = io::required_field<std::string>(json, "model_type", file);
  const ArchitectureDefaults* architecture = find_architecture(config.model_type);
  if (!architecture)
    fail_at(file, "unsupported model_type '" + config.model_type + "' (qtalign runs qwen2, llama and mistral)");
  const std::string& type = config.model_type;

  config.vocab_size = positive_int(json, "vocab_size", file);
  config.hidden_size = positive_int(json, "hidden_size", file);
  config.intermediate_size = positive_int(json, "intermediate_size", file);
  config.num_hidden_layers = positive_int(json, "num_hidden_layers", file);
  config.num_attention_heads = positive_int(json, "num_attention_heads", file);
  // As in transformers: absent = the class default, null = one key/value head per attention head.
  const int64_t default_kv_heads = architecture->num_key_value_heads && !json.contains("num_key_value_heads")
                                       ? architecture->num_key_value_heads
                                       : config.num_attention_heads;
  config.num_key_value_heads = positive_int_or(json, "num_key_value_heads", default_kv_heads, file);
  if (present(json, "head_dim")) {
    config.head_dim = positive_int(json, "head_dim", file);
  } else {
    if (config.hidden_size % config.num_attention_heads != 0)
      fail_at(file, "hidden_size " + std::to_string(config.hidden_size) + " is not divisible by num_attention_heads " +
                        std::to_string(config.num_attention_heads));
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  if (config.head_dim % 2 != 0) fail_at(file, "head_dim " + std::to_string(config.head_dim) + " must be even for RoPE");
  if (config.num_attention_heads % config.num_key_value_heads != 0)
    fail_at(file, "num_attention_heads " + std::to_string(config.num_attention_heads) +
                      " is not a multiple of num_key_value_heads " + std::to_string(config.num_key_value_heads));
  config.max_position_embeddings =
      positive_int_or(json, "max_position_embeddings", architecture->max_position_embeddings, file);
  config.rms_norm_eps = positive_number_or(json, "rms_norm_eps", 1e-6, file);
  config.rope_theta = positive_number_or(json, "rope_theta", 10000.0, file);
  config.tie_word_embeddings = flag_or(json, "tie_word_embeddings", false, file);
  config.bos_token_id = token_id(json, "bos_token_id", file);
  config.eos_token_id = token_id(json, "eos_token_id", file);
  // transformers writes "torch_dtype"; its newest versions write "dtype".
  for (const char* key : {"torch_dtype", "dtype"})
    if (present(json, key) && json[key].is_string()) config.torch_dtype = json[key].get<std::string>();

  // Options that change the computation and that the forward pass does not implement.
  const std::string activation = present(json, "hidden_act") ? quote_value(json["hidden_act"]) : "\"silu\"";
  if (activation != "\"silu\"") refuse(file, type, "hidden_act " + activation + " (only silu)");
  if (present(json, "rope_scaling")) {
    const Json& scaling = json["rope_scaling"];
    const auto is_default = [&](const char* key) { return scaling.contains(key) && scaling[key] == "default"; };
    const bool plain = scaling.is_object() && (is_default("rope_type") || is_default("type"));
    if (!plain) refuse(file, type, "rope_scaling " + quote_value(scaling));
  }
  if (present(json, "partial_rotary_factor") && json["partial_rotary_factor"] != Json(1.0))
    refuse(file, type, "partial_rotary_factor " + quote_value(json["partial_rotary_factor"]));
  config.attention_bias = architecture->attention_bias;
  if (type == "llama") {
    // Llama's attention_bias also adds a bias to o_proj, which this model layout does not carry.
    if (flag_or(json, "attention_bias", false, file)) refuse(file, type, "attention_bias true");
    if (flag_or(json, "mlp_bias", false, file)) refuse(file, type, "mlp_bias true");
  }
  if (type == "qwen2" && flag_or(json, "use_sliding_window", false, file))
    refuse(file, type, "use_sliding_window true");
  if (type == "mistral" && present(json, "sliding_window"))
    config.sliding_window = positive_int(json, "sliding_window", file);
  return config;
}

Json model_config_to_json(const ModelConfig& config) {
  const ArchitectureDefaults* architecture = find_architecture(config.model_type);
  if (!architecture) throw Error("cannot write a config for model_type '" + config.model_type + "'");
  Json json = {
      {"architectures", {architecture->architecture}},
      {"model_type", config.model_type},
      {"vocab_size", config.vocab_size},
      {"hidden_size", config.hidden_size},
      {"intermediate_size", config.intermediate_size},
      {"num_hidden_layers", config.num_hidden_layers},
      {"num_attention_heads", config.num_attention_heads},
      {"num_key_value_heads", config.num_key_value_heads},
      {"head_dim", config.head_dim},
      {"hidden_act", "silu"},
      {"max_position_embeddings", config.max_position_embeddings},
      {"rms_norm_eps", config.rms_norm_eps},
      {"rope_theta", config.rope_theta},
      {"rope_scaling", nullptr},
      {"tie_word_embeddings", config.tie_word_embeddings},
      {"attention_dropout", 0.0},
      {"use_cache", true},
  };
  if (config.model_type == "qwen2") json["use_sliding_window"] = false;
  if (config.model_type == "llama") {
    json["attention_bias"] = false;
    json["mlp_bias"] = false;
  }
  if (config.model_type == "mistral")
    json["sliding_window"] = config.sliding_window ? Json(*config.sliding_window) : Json(nullptr);
  if (config.bos_token_id) json["bos_token_id"] = *config.bos_token_id;
  if (config.eos_token_id) json["eos_token_id"] = *config.eos_token_id;
  if (!config.torch_dtype.empty()) json["torch_dtype"] = config.torch_dtype;
  return json;
}

}  // namespace qtalign::model
