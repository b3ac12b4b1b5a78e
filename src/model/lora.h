#pragma once
// LoRA adapters in the PEFT format: adapter_config.json + adapter_model.safetensors with tensors
// named "base_model.model.<module>.lora_A.weight" [r, in] and "...lora_B.weight" [out, r].
// An attached adapter lives in the model (Linear::lora); the forward pass applies it.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "model/model.h"

namespace qtalign::model {

// The adapter hyperparameters adapter_config.json records.
struct LoraConfig {
  int64_t r = 8;
  double alpha = 16.0;
  double dropout = 0.1;
  // Module names as PEFT matches them: an entry matches a module whose name is the entry or ends
  // with "." + entry (q_proj, v_proj, ...). When target_regex is set it replaces the list: PEFT then
  // matches module names that the regular expression (Python syntax, read with PCRE2) matches in full.
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  std::string target_regex;
  bool use_rslora = false;  // scale alpha / sqrt(r) instead of alpha / r
  std::string base_model_name_or_path;

  double scale() const;
};

// One attached adapter with the module's Hugging Face name, e.g. "model.layers.0.self_attn.q_proj".
struct NamedLora {
  std::string module;
  std::shared_ptr<LoraWeights> weights;
};

// Splits "q_proj,v_proj" into module names, each one of q/k/v/o/gate/up/down_proj (repeats
// dropped); throws Error listing the valid names otherwise.
std::vector<std::string> parse_lora_targets(const std::string& list);

// True when PEFT would put a LoRA of `config` on the module named `module`; throws Error when
// target_regex needs more backtracking than a bounded budget to decide.
bool lora_targets_module(const LoraConfig& config, const std::string& module);

// Attaches a fresh adapter to every targeted linear layer, initialised as PEFT does (A from
// kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); B = 0), in fp32 on the model's
// device, deterministic for a seed. Throws Error when an adapter is already attached or nothing matches.
void attach_new_lora(Model& model, const LoraConfig& config, uint64_t seed);

// The attached adapters in module order (empty when none).
std::vector<NamedLora> attached_lora(const Model& model);

// Removes every attached adapter.
void detach_lora(Model& model);

// Adds each attached adapter into its base weight (W += scale * B A, computed in fp32, stored in
// W's dtype) and detaches it; the model then computes what it computed with the adapter attached.
// Throws Error for a 4-bit quantized model (its weights cannot hold the sum).
void merge_lora(Model& model);

// The PEFT tensor name of a module's A or B matrix: "base_model.model.<module>.lora_A.weight".
std::string peft_tensor_name(const std::string& module, char matrix);

// adapter_config.json as PEFT writes it for `config` (peft_type LORA, task_type CAUSAL_LM,
// bias "none", fan_in_fan_out false, inference_mode true, ...).
io::Json lora_config_to_json(const LoraConfig& config);

// Parses adapter_config.json; throws Error naming the file for another peft_type, missing or
// invalid fields, and options qtalign does not implement (DoRA, fan_in_fan_out, trained biases,
// rank/alpha patterns, layers_to_transform, modules_to_save).
LoraConfig read_lora_config(const std::filesystem::path& adapter_config_json);

// Writes the attached adapters as a PEFT adapter directory (both files atomically, tensors in fp32);
// throws Error when none is attached.
void save_lora_adapter(const Model& model, const LoraConfig& config, const std::filesystem::path& directory);

// Reads a PEFT adapter directory and attaches it (fp32, model's device) without merging, for
// eval/generate --adapter. Throws Error naming the file for a missing file, tensors that name no
// module of the model or an untargeted one, a targeted module without tensors, shapes that
// disagree with r and the layer, or an adapter already attached. Returns the adapter's config.
LoraConfig load_lora_adapter(Model& model, const std::filesystem::path& directory);

}  // namespace qtalign::model
