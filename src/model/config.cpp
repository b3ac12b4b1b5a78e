#include "model/config.h"

#include <algorithm>

#include "io/error.h"
#include "io/input_path.h"

namespace qtalign::model {
namespace {

using io::Json;

// How each sliding-window family picks its sliding layers when config.json has no layer_types.
enum class WindowLayers {
  none,          // llama: no sliding window
  all,           // mistral: every layer, when sliding_window is set
  from_max_window_layers,  // qwen2/qwen3: layers >= max_window_layers, when use_sliding_window
  pattern,       // gemma: all but every sliding_window_pattern-th layer (gemma2: every other one)
};

// Defaults of the Hugging Face config classes, for the fields a config.json may leave out, and what
// each family always does.
struct ArchitectureDefaults {
  const char* model_type;
  const char* architecture;
  int64_t num_key_value_heads;  // 0 = as many as attention heads
  int64_t max_position_embeddings;
  bool fixed_qkv_bias;          // qwen2: q/k/v biases always, no attention_bias key
  int64_t head_dim;             // 0 = hidden_size / num_attention_heads
  bool tie_word_embeddings;
  bool gemma;                   // (1 + w) norms, scaled embeddings, four norms, gelu, soft-capping keys
  bool qk_norm;
  WindowLayers window_layers;
  int64_t window_pattern;       // for WindowLayers::pattern
  double attn_logit_softcapping;   // 0 = none
  double final_logit_softcapping;  // 0 = none
};

constexpr ArchitectureDefaults kArchitectures[] = {
    {"qwen2", "Qwen2ForCausalLM", 32, 32768, true, 0, false, false, false, WindowLayers::from_max_window_layers, 0, 0, 0},
    {"llama", "LlamaForCausalLM", 0, 2048, false, 0, false, false, false, WindowLayers::none, 0, 0, 0},
    {"mistral", "MistralForCausalLM", 8, 131072, false, 0, false, false, false, WindowLayers::all, 0, 0, 0},
    {"qwen3", "Qwen3ForCausalLM", 32, 32768, false, 128, false, false, true, WindowLayers::from_max_window_layers, 0, 0, 0},
    {"gemma2", "Gemma2ForCausalLM", 16, 8192, false, 256, true, true, false, WindowLayers::pattern, 2, 50.0, 30.0},
    {"gemma3_text", "Gemma3ForCausalLM", 4, 131072, false, 256, true, true, true, WindowLayers::pattern, 6, 0, 0},
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

// rope_scaling as transformers reads it: the kind under "rope_type" or the older "type"; null or
// "default" = none. Types other than linear, dynamic and llama3 (yarn, longrope, ...) are refused.
RopeScaling read_rope_scaling(const Json& json, const std::string& type, const std::filesystem::path& file) {
  RopeScaling scaling;
  if (!present(json, "rope_scaling")) return scaling;
  const Json& value = json["rope_scaling"];
  const char* kind_key = value.is_object() && value.contains("rope_type") ? "rope_type" : "type";
  if (!value.is_object() || !value.contains(kind_key) || !value[kind_key].is_string())
    refuse(file, type, "rope_scaling " + quote_value(value));
  scaling.type = value[kind_key].get<std::string>();
  if (scaling.type == "default") return scaling;
  if (scaling.type != "linear" && scaling.type != "dynamic" && scaling.type != "llama3")
    refuse(file, type, "rope_scaling " + quote_value(value) + " (qtalign implements linear, dynamic and llama3)");
  const auto number = [&](const char* key) {
    if (!present(value, key)) fail_at(file, std::string("rope_scaling of type ") + scaling.type + " needs '" + key + "'");
    return positive_number_or(value, key, 0, file);
  };
  scaling.factor = number("factor");
  if (scaling.type == "llama3") {
    scaling.low_freq_factor = number("low_freq_factor");
    scaling.high_freq_factor = number("high_freq_factor");
    if (!(scaling.high_freq_factor > scaling.low_freq_factor))
      fail_at(file, "rope_scaling's high_freq_factor must exceed its low_freq_factor");
    scaling.original_max_position_embeddings = positive_int(value, "original_max_position_embeddings", file);
  }
  return scaling;
}

// A soft-capping value: absent = the class default, null = off (as a Gemma 2 config.json may say).
std::optional<double> softcap(const Json& json, const char* key, double fallback, const std::filesystem::path& file) {
  if (!json.contains(key)) return fallback > 0 ? std::optional<double>(fallback) : std::nullopt;
  if (json[key].is_null()) return std::nullopt;
  return positive_number_or(json, key, 0, file);
}

// Which layers slide: layer_types when config.json lists them, else the family's rule.
std::vector<bool> read_sliding_layers(const Json& json, const ArchitectureDefaults& family, ModelConfig& config,
                                      const std::filesystem::path& file) {
  const auto layers = static_cast<size_t>(config.num_hidden_layers);
  std::vector<bool> sliding(layers, false);
  if (present(json, "layer_types")) {
    const Json& types = json["layer_types"];
    if (!types.is_array() || types.size() != layers)
      fail_at(file, "'layer_types' must list one type per layer (" + std::to_string(layers) + ")");
    for (size_t i = 0; i < layers; ++i) {
      if (types[i] != "sliding_attention" && types[i] != "full_attention")
        refuse(file, config.model_type, "layer_types entry " + quote_value(types[i]));
      sliding[i] = types[i] == "sliding_attention";
    }
    return sliding;
  }
  switch (family.window_layers) {
    case WindowLayers::none: break;
    case WindowLayers::all: sliding.assign(layers, true); break;
    case WindowLayers::from_max_window_layers: {
      if (!flag_or(json, "use_sliding_window", false, file)) break;
      const int64_t first = present(json, "max_window_layers") ? io::required_field<int64_t>(json, "max_window_layers", file) : 28;
      for (size_t i = 0; i < layers; ++i) sliding[i] = static_cast<int64_t>(i) >= first;
      break;
    }
    case WindowLayers::pattern: {
      const int64_t pattern = positive_int_or(json, "sliding_window_pattern", family.window_pattern, file);
      for (size_t i = 0; i < layers; ++i) sliding[i] = (static_cast<int64_t>(i) + 1) % pattern != 0;
      break;
    }
  }
  return sliding;
}

}  // namespace

ModelConfig read_model_config(const std::filesystem::path& config_json) {
  io::require_file(config_json, "not a Hugging Face checkpoint?");
  return model_config_from_json(io::read_json_file(config_json), config_json);
}

namespace {

// The sizes: vocabulary, hidden and MLP widths, layers, attention and key/value heads, head_dim.
void read_shape(const Json& json, const ArchitectureDefaults& architecture, ModelConfig& config,
                const std::filesystem::path& file) {
  config.vocab_size = positive_int(json, "vocab_size", file);
  config.hidden_size = positive_int(json, "hidden_size", file);
  config.intermediate_size = positive_int(json, "intermediate_size", file);
  config.num_hidden_layers = positive_int(json, "num_hidden_layers", file);
  config.num_attention_heads = positive_int(json, "num_attention_heads", file);
  // As in transformers: absent = the class default, null = one key/value head per attention head.
  const int64_t default_kv_heads = architecture.num_key_value_heads && !json.contains("num_key_value_heads")
                                       ? architecture.num_key_value_heads
                                       : config.num_attention_heads;
  config.num_key_value_heads = positive_int_or(json, "num_key_value_heads", default_kv_heads, file);
  if (present(json, "head_dim")) {
    config.head_dim = positive_int(json, "head_dim", file);
  } else if (architecture.head_dim) {
    config.head_dim = architecture.head_dim;
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
}

// What the family computes, read as transformers reads it; options the forward pass does not
// implement are refused.
void read_family_options(const Json& json, const ArchitectureDefaults& architecture, ModelConfig& config,
                         const std::filesystem::path& file) {
  const std::string& type = config.model_type;
  const bool gemma = architecture.gemma;
  const char* activation_key = gemma ? "hidden_activation" : "hidden_act";
  if (present(json, activation_key) && json[activation_key].is_string())
    config.hidden_activation = json[activation_key].get<std::string>();
  else if (present(json, activation_key))
    refuse(file, type, std::string(activation_key) + " " + quote_value(json[activation_key]));
  else
    config.hidden_activation = gemma ? "gelu_pytorch_tanh" : "silu";
  if (config.hidden_activation != "silu" && config.hidden_activation != "gelu_pytorch_tanh")
    refuse(file, type, std::string(activation_key) + " \"" + config.hidden_activation + "\" (only silu and gelu_pytorch_tanh)");
  config.rope_scaling = read_rope_scaling(json, type, file);
  if (present(json, "partial_rotary_factor") && json["partial_rotary_factor"] != Json(1.0))
    refuse(file, type, "partial_rotary_factor " + quote_value(json["partial_rotary_factor"]));
  if (architecture.fixed_qkv_bias) {
    config.attention_bias = true;
  } else if (type != "mistral") {
    // attention_bias puts a bias on all four projections (llama, qwen3, gemma).
    config.attention_bias = config.output_bias = flag_or(json, "attention_bias", false, file);
  }
  if (type == "llama" && flag_or(json, "mlp_bias", false, file)) refuse(file, type, "mlp_bias true");
  config.qk_norm = architecture.qk_norm;
  config.norm_weight_offset = config.scale_embeddings = config.sandwich_norms = gemma;
  if (gemma) {
    config.query_pre_attn_scalar = positive_number_or(json, "query_pre_attn_scalar", 256, file);
    config.attn_logit_softcapping = softcap(json, "attn_logit_softcapping", architecture.attn_logit_softcapping, file);
    config.final_logit_softcapping = softcap(json, "final_logit_softcapping", architecture.final_logit_softcapping, file);
  }
  if (type == "gemma3_text") config.rope_local_base_freq = positive_number_or(json, "rope_local_base_freq", 10000.0, file);
}

// The sliding-window layers and their window, in the plain form when every layer or none slides.
void read_sliding_window(const Json& json, const ArchitectureDefaults& architecture, ModelConfig& config,
                         const std::filesystem::path& file) {
  const bool gemma = architecture.gemma;
  // Gemma's classes default the window to 4096; the others have none unless config.json sets one.
  const std::optional<int64_t> window = present(json, "sliding_window")
                                            ? std::optional<int64_t>(positive_int(json, "sliding_window", file))
                                            : (gemma ? std::optional<int64_t>(4096) : std::nullopt);
  config.sliding_layers = read_sliding_layers(json, architecture, config, file);
  const bool any_sliding = std::find(config.sliding_layers.begin(), config.sliding_layers.end(), true) !=
                           config.sliding_layers.end();
  if (any_sliding && window) config.sliding_window = window;
  else config.sliding_layers.clear();
  if (config.sliding_window && std::find(config.sliding_layers.begin(), config.sliding_layers.end(), false) ==
                                   config.sliding_layers.end())
    config.sliding_layers.clear();  // every layer slides: the plain form
}

}  // namespace

ModelConfig model_config_from_json(const Json& json, const std::filesystem::path& file) {
  if (!json.is_object()) fail_at(file, "expected a JSON object");
  ModelConfig config;
  config.model_type = io::required_field<std::string>(json, "model_type", file);
  const ArchitectureDefaults* architecture = find_architecture(config.model_type);
  if (!architecture)
    fail_at(file, "unsupported model_type '" + config.model_type +
                      "' (qtalign runs qwen2, llama, mistral, qwen3, gemma2 and gemma3_text)");
  read_shape(json, *architecture, config, file);
  config.max_position_embeddings =
      positive_int_or(json, "max_position_embeddings", architecture->max_position_embeddings, file);
  config.rms_norm_eps = positive_number_or(json, "rms_norm_eps", 1e-6, file);
  config.rope_theta = positive_number_or(json, "rope_theta", 10000.0, file);
  config.tie_word_embeddings = flag_or(json, "tie_word_embeddings", architecture->tie_word_embeddings, file);
  config.bos_token_id = token_id(json, "bos_token_id", file);
  config.eos_token_id = token_id(json, "eos_token_id", file);
  // transformers writes "torch_dtype"; its newest versions write "dtype".
  for (const char* key : {"torch_dtype", "dtype"})
    if (present(json, key) && json[key].is_string()) config.torch_dtype = json[key].get<std::string>();
  read_family_options(json, *architecture, config, file);
  read_sliding_window(json, *architecture, config, file);
  return config;
}

bool layer_slides(const ModelConfig& config, size_t layer) {
  return config.sliding_window && (config.sliding_layers.empty() || config.sliding_layers.at(layer));
}

Json model_config_to_json(const ModelConfig& config) {
  const ArchitectureDefaults* architecture = find_architecture(config.model_type);
  if (!architecture) throw Error("cannot write a config for model_type '" + config.model_type + "'");
  const RopeScaling& rope = config.rope_scaling;
  Json rope_scaling = nullptr;
  if (rope.type != "default") {
    rope_scaling = {{"rope_type", rope.type}, {"factor", rope.factor}};
    if (rope.type == "llama3") {
      rope_scaling["low_freq_factor"] = rope.low_freq_factor;
      rope_scaling["high_freq_factor"] = rope.high_freq_factor;
      rope_scaling["original_max_position_embeddings"] = rope.original_max_position_embeddings;
    }
  }
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
      {"hidden_act", config.hidden_activation},
      {"max_position_embeddings", config.max_position_embeddings},
      {"rms_norm_eps", config.rms_norm_eps},
      {"rope_theta", config.rope_theta},
      {"rope_scaling", rope_scaling},
      {"tie_word_embeddings", config.tie_word_embeddings},
      {"attention_dropout", 0.0},
      {"use_cache", true},
  };
  const bool qwen = config.model_type == "qwen2" || config.model_type == "qwen3";
  if (qwen) {
    json["use_sliding_window"] = config.sliding_window.has_value();
    if (config.sliding_window) {
      json["sliding_window"] = *config.sliding_window;
      size_t first = 0;
      while (first < config.sliding_layers.size() && !config.sliding_layers[first]) ++first;
      json["max_window_layers"] = first;
    }
  }
  if (config.model_type != "qwen2" && config.model_type != "mistral") json["attention_bias"] = config.attention_bias;
  if (config.model_type == "llama") json["mlp_bias"] = false;
  if (config.model_type == "mistral" || architecture->gemma)
    json["sliding_window"] = config.sliding_window ? Json(*config.sliding_window) : Json(nullptr);
  if (architecture->gemma) {
    json["hidden_activation"] = config.hidden_activation;
    json["query_pre_attn_scalar"] = config.query_pre_attn_scalar;
    const auto cap = [](const std::optional<double>& value) { return value ? Json(*value) : Json(nullptr); };
    json["attn_logit_softcapping"] = cap(config.attn_logit_softcapping);
    json["final_logit_softcapping"] = cap(config.final_logit_softcapping);
  }
  if (config.rope_local_base_freq) json["rope_local_base_freq"] = *config.rope_local_base_freq;
  // transformers' newer configs list each layer's attention; older readers ignore the key.
  if (!config.sliding_layers.empty() || (config.sliding_window && config.model_type != "mistral")) {
    Json types = Json::array();
    for (size_t i = 0; i < static_cast<size_t>(config.num_hidden_layers); ++i)
      types.push_back(layer_slides(config, i) ? "sliding_attention" : "full_attention");
    json["layer_types"] = types;
  }
  if (config.bos_token_id) json["bos_token_id"] = *config.bos_token_id;
  if (config.eos_token_id) json["eos_token_id"] = *config.eos_token_id;
  if (!config.torch_dtype.empty()) json["torch_dtype"] = config.torch_dtype;
  return json;
}

}  // namespace qtalign::model
