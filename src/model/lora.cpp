#include "model/lora.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cmath>
#include <map>
#include <set>
#include <string_view>

#include "io/error.h"
#include "io/input_path.h"
#include "io/safetensors.h"

namespace qtalign::model {
namespace {

const std::vector<std::string>& valid_targets() {
  static const std::vector<std::string> names = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return names;
}

const char* const kPeftPrefix = "base_model.model.";

// for_each_linear visits mutable layers; reading them through a const model is safe.
template <typename Fn>
void for_each_linear_const(const Model& model, Fn&& fn) {
  for_each_linear(const_cast<Model&>(model), [&](const std::string& name, const Linear& linear) { fn(name, linear); });
}

// A PEFT tensor name split into its module and matrix ('A' or 'B'); PEFT also accepts the
// adapter name ("default") before ".weight" in files some versions wrote. Plain string work: names
// come from the file, and std::regex recurses once per character (a long name overflowed the stack).
bool parse_peft_tensor_name(const std::string& name, std::string& module, char& matrix) {
  const std::string_view text = name, prefix = kPeftPrefix, marker = ".lora_";
  if (text.substr(0, prefix.size()) != prefix) return false;
  for (const std::string_view tail : {".weight", ".default.weight"}) {
    if (text.size() < prefix.size() + 1 + marker.size() + 1 + tail.size() ||
        text.substr(text.size() - tail.size()) != tail)
      continue;
    const size_t matrix_at = text.size() - tail.size() - 1;
    if ((text[matrix_at] != 'A' && text[matrix_at] != 'B') ||
        text.substr(matrix_at - marker.size(), marker.size()) != marker)
      continue;
    module = name.substr(prefix.size(), matrix_at - marker.size() - prefix.size());
    matrix = text[matrix_at];
    return true;
  }
  return false;
}

// target_modules given as a string is a Python regular expression that PEFT applies with
// re.fullmatch. PCRE2 reads that syntax and, unlike std::regex, bounds the backtracking a hostile
// pattern can cost (an error instead of a hang) and does not recurse on the stack.
constexpr uint32_t kTargetPatternMatchLimit = 1000000;

using TargetPattern = std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)>;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

TargetPattern compile_target_pattern(const std::string& pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  TargetPattern code(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &error_code, &error_offset, nullptr),
                     &pcre2_code_free);
  if (!code)
    throw Error(fmt::format("target_modules '{}' is not a valid regular expression ({} at byte {})", pattern,
                            pcre2_message(error_code), error_offset));
  return code;
}

bool target_pattern_matches(const std::string& pattern, const std::string& module) {
  const TargetPattern code = compile_target_pattern(pattern);
  const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(code.get(), nullptr), &pcre2_match_data_free);
  const std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> limits(
      pcre2_match_context_create(nullptr), &pcre2_match_context_free);
  pcre2_set_match_limit(limits.get(), kTargetPatternMatchLimit);
  const int rc = pcre2_match(code.get(), reinterpret_cast<PCRE2_SPTR>(module.data()), module.size(), 0, 0,
                             match.get(), limits.get());
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  throw Error(fmt::format("target_modules '{}' cannot be matched against '{}': {}", pattern, module, pcre2_message(rc)));
}

template <typename T>
T optional_field(const io::Json& json, const std::string& key, T fallback, const std::filesystem::path& file) {
  if (!json.contains(key) || json[key].is_null()) return fallback;
  try {
    return json[key].get<T>();
  } catch (const io::Json::exception&) {
    fail_at(file, fmt::format("field '{}' has the wrong type ({})", key, json[key].type_name()));
  }
}

void refuse_option(bool present, const std::filesystem::path& file, const std::string& option) {
  if (present) fail_at(file, option + " is not supported by qtalign");
}

}  // namespace

double LoraConfig::scale() const { return use_rslora ? alpha / std::sqrt(double(r)) : alpha / double(r); }

std::vector<std::string> parse_lora_targets(const std::string& list) {
  std::vector<std::string> targets;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    start = comma + 1;
    if (name.empty()) continue;
    if (std::find(valid_targets().begin(), valid_targets().end(), name) == valid_targets().end())
      throw Error(fmt::format("unknown LoRA target module '{}' (valid: {})", name, fmt::join(valid_targets(), ", ")));
    if (std::find(targets.begin(), targets.end(), name) == targets.end()) targets.push_back(name);
  }
  if (targets.empty())
    throw Error(fmt::format("no LoRA target modules given (valid: {})", fmt::join(valid_targets(), ", ")));
  return targets;
}

bool lora_targets_module(const LoraConfig& config, const std::string& module) {
  if (!config.target_regex.empty()) return target_pattern_matches(config.target_regex, module);
  for (const std::string& target : config.target_modules) {
    if (module == target) return true;
    if (module.size() > target.size() && module.compare(module.size() - target.size(), target.size(), target) == 0 &&
        module[module.size() - target.size() - 1] == '.')
      return true;
  }
  return false;
}

void attach_new_lora(Model& model, const LoraConfig& config, uint64_t seed) {
  if (config.r <= 0) throw Error(fmt::format("LoRA rank must be positive, got {}", config.r));
  if (!attached_lora(model).empty()) throw Error("the model already has a LoRA adapter attached");
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  int attached = 0;
  for_each_linear(model, [&](const std::string& name, Linear& linear) {
    if (!lora_targets_module(config, name)) return;
    const int64_t out = linear.out_features(), in = linear.in_features();
    auto lora = std::make_shared<LoraWeights>();
    const double bound = 1.0 / std::sqrt(double(in));
    lora->a = at::empty({config.r, in}, at::kFloat).uniform_(-bound, bound, generator).to(model.device());
    lora->b = at::zeros({out, config.r}, at::TensorOptions().dtype(at::kFloat).device(model.device()));
    lora->scale = config.scale();
    lora->dropout = config.dropout;
    linear.lora = std::move(lora);
    ++attached;
  });
  if (attached == 0) throw Error("no linear layer of the model matches the LoRA target modules");
}

std::vector<NamedLora> attached_lora(const Model& model) {
  std::vector<NamedLora> adapters;
  for_each_linear_const(model, [&](const std::string& name, const Linear& linear) {
    if (linear.lora) adapters.push_back({name, linear.lora});
  });
  return adapters;
}

void detach_lora(Model& model) {
  for_each_linear(model, [](const std::string&, Linear& linear) { linear.lora.reset(); });
}

void merge_lora(Model& model) {
  if (model.quantization.type)
    throw Error("cannot merge an adapter into a " + quant_type_name(*model.quantization.type) +
                "-quantized base: the sum would be rounded to 4 bits again; merge into the original "
                "(unquantized) checkpoint instead");
  at::NoGradGuard no_grad;
  for_each_linear(model, [](const std::string&, Linear& linear) {
    if (!linear.lora) return;
    const LoraWeights& lora = *linear.lora;
    const at::Tensor delta = at::matmul(lora.b.to(at::kFloat), lora.a.to(at::kFloat)) * lora.scale;
    // A new tensor: the base weight may view a read-only memory-mapped file.
    const at::Tensor weight = plain_weight(linear);  // unpacked if packing released it
    linear.weight = (weight.to(at::kFloat) + delta.to(weight.device())).to(weight.scalar_type());
    linear.packed.reset();  // it holds the weight before the merge
    linear.lora.reset();
  });
}

std::string peft_tensor_name(const std::string& module, char matrix) {
  return fmt::format("{}{}.lora_{}.weight", kPeftPrefix, module, matrix);
}

io::Json lora_config_to_json(const LoraConfig& config) {
  io::Json json = {
      {"alpha_pattern", io::Json::object()},
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", config.base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
      {"lora_alpha", config.alpha},
      {"lora_dropout", config.dropout},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", config.r},
      {"rank_pattern", io::Json::object()},
      {"revision", nullptr},
      {"task_type", "CAUSAL_LM"},
      {"use_dora", false},
      {"use_rslora", config.use_rslora},
  };
  // PEFT writes integral alphas as integers (lora_alpha: 16).
  if (config.alpha == std::floor(config.alpha)) json["lora_alpha"] = static_cast<int64_t>(config.alpha);
  if (config.target_regex.empty()) json["target_modules"] = config.target_modules;
  else json["target_modules"] = config.target_regex;
  return json;
}

LoraConfig read_lora_config(const std::filesystem::path& adapter_config_json) {
  const std::filesystem::path& file = adapter_config_json;
  io::require_file(file, "not a PEFT adapter directory?");
  const io::Json json = io::read_json_file(file);
  if (!json.is_object()) fail_at(file, "expected a JSON object");
  const std::string peft_type = optional_field<std::string>(json, "peft_type", "", file);
  if (peft_type != "LORA") fail_at(file, fmt::format("peft_type is '{}', expected 'LORA'", peft_type));
  const std::string task_type = optional_field<std::string>(json, "task_type", "CAUSAL_LM", file);
  if (task_type != "CAUSAL_LM") fail_at(file, fmt::format("task_type is '{}', expected 'CAUSAL_LM'", task_type));

  LoraConfig config;
  config.r = io::required_field<int64_t>(json, "r", file);
  if (config.r <= 0) fail_at(file, fmt::format("r must be positive, got {}", config.r));
  config.alpha = io::required_field<double>(json, "lora_alpha", file);
  config.dropout = optional_field<double>(json, "lora_dropout", 0.0, file);
  if (!(config.dropout >= 0.0 && config.dropout < 1.0))
    fail_at(file, fmt::format("lora_dropout must be in [0, 1), got {}", config.dropout));
  config.use_rslora = optional_field<bool>(json, "use_rslora", false, file);
  config.base_model_name_or_path = optional_field<std::string>(json, "base_model_name_or_path", "", file);

  if (!json.contains("target_modules")) fail_at(file, "missing field 'target_modules'");
  const io::Json& targets = json["target_modules"];
  if (targets.is_string()) {
    config.target_regex = targets.get<std::string>();
    config.target_modules.clear();
    try {
      compile_target_pattern(config.target_regex);
    } catch (const Error& e) {
      fail_at(file, e.what());
    }
  } else if (targets.is_array() && !targets.empty() &&
             std::all_of(targets.begin(), targets.end(), [](const io::Json& t) { return t.is_string(); })) {
    config.target_modules = targets.get<std::vector<std::string>>();
  } else {
    fail_at(file, "target_modules must be a non-empty list of module names or a regular expression");
  }

  refuse_option(optional_field<bool>(json, "use_dora", false, file), file, "use_dora (DoRA)");
  refuse_option(optional_field<bool>(json, "fan_in_fan_out", false, file), file, "fan_in_fan_out");
  const std::string bias = optional_field<std::string>(json, "bias", "none", file);
  refuse_option(bias != "none", file, fmt::format("bias '{}' (trained biases)", bias));
  for (const char* pattern : {"rank_pattern", "alpha_pattern"})
    refuse_option(json.contains(pattern) && !json[pattern].is_null() && !json[pattern].empty(), file, pattern);
  for (const char* option : {"layers_to_transform", "modules_to_save"})
    refuse_option(json.contains(option) && !json[option].is_null() && !json[option].empty(), file, option);
  return config;
}

void save_lora_adapter(const Model& model, const LoraConfig& config, const std::filesystem::path& directory) {
  const std::vector<NamedLora> adapters = attached_lora(model);
  if (adapters.empty()) throw Error(fmt::format("{}: no LoRA adapter attached to save", directory.string()));
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const NamedLora& adapter : adapters) {
    tensors.emplace_back(peft_tensor_name(adapter.module, 'A'), adapter.weights->a.detach().to(at::kFloat).contiguous());
    tensors.emplace_back(peft_tensor_name(adapter.module, 'B'), adapter.weights->b.detach().to(at::kFloat).contiguous());
  }
  std::filesystem::create_directories(directory);
  io::write_safetensors(directory / "adapter_model.safetensors", tensors, {{"format", "pt"}});
  io::write_json_file(directory / "adapter_config.json", lora_config_to_json(config));
}

LoraConfig load_lora_adapter(Model& model, const std::filesystem::path& directory) {
  const std::filesystem::path config_file = directory / "adapter_config.json";
  const std::filesystem::path weights_file = directory / "adapter_model.safetensors";
  io::require_directory(directory, "adapter directory");
  io::require_file(config_file, "not a PEFT adapter directory?");
  io::require_file(weights_file, "not a PEFT adapter directory?");
  if (!attached_lora(model).empty()) fail_at(directory, "the model already has a LoRA adapter attached");
  const LoraConfig config = read_lora_config(config_file);

  std::map<std::string, Linear*> targeted;
  std::set<std::string> all_modules;
  try {
    for_each_linear(model, [&](const std::string& name, Linear& linear) {
      all_modules.insert(name);
      if (lora_targets_module(config, name)) targeted[name] = &linear;
    });
  } catch (const Error& e) {
    fail_at(config_file, e.what());
  }
  if (targeted.empty())
    fail_at(config_file, "target_modules match none of the model's linear layers");

  const auto file = io::SafetensorsFile::open(weights_file);
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> loaded;  // module -> (A, B)
  for (const io::TensorRecord& record : file->header().tensors) {
    std::string module;
    char matrix = 0;
    if (!parse_peft_tensor_name(record.name, module, matrix))
      fail_at(weights_file, fmt::format("tensor '{}' is not a LoRA A/B weight (expected names like '{}')",
                                        record.name, peft_tensor_name("model.layers.0.self_attn.q_proj", 'A')));
    if (!all_modules.count(module))
      fail_at(weights_file, fmt::format("tensor '{}' names module '{}', which the model does not have", record.name, module));
    const auto layer = targeted.find(module);
    if (layer == targeted.end())
      fail_at(weights_file, fmt::format("tensor '{}' is for module '{}', which target_modules in {} does not cover",
                                        record.name, module, config_file.filename().string()));
    const Linear& base = *layer->second;
    const std::vector<int64_t> expected = matrix == 'A' ? std::vector<int64_t>{config.r, base.in_features()}
                                                        : std::vector<int64_t>{base.out_features(), config.r};
    if (record.shape != expected)
      fail_at(weights_file, fmt::format("tensor '{}' has shape {}, expected {} (r = {}, layer weight {})", record.name,
                                        io::shape_text(record.shape), io::shape_text(expected), config.r,
                                        io::shape_text({base.out_features(), base.in_features()})));
    if (!at::isFloatingType(record.dtype))
      fail_at(weights_file, fmt::format("tensor '{}' is not a floating-point tensor", record.name));
    auto& slot = loaded[module];
    at::Tensor& destination = matrix == 'A' ? slot.first : slot.second;
    if (destination.defined()) fail_at(weights_file, fmt::format("module '{}' has two lora_{} tensors", module, matrix));
    destination = file->tensor(record.name).to(model.device(), at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  }
  for (const auto& [module, linear] : targeted) {
    const auto found = loaded.find(module);
    if (found == loaded.end() || !found->second.first.defined() || !found->second.second.defined())
      fail_at(weights_file, fmt::format("no lora_A/lora_B tensors for targeted module '{}'", module));
  }
  for (auto& [module, pair] : loaded) {
    auto lora = std::make_shared<LoraWeights>();
    lora->a = pair.first;
    lora->b = pair.second;
    lora->scale = config.scale();
    lora->dropout = config.dropout;
    targeted[module]->lora = std::move(lora);
  }
  return config;
}

}  // namespace qtalign::model
