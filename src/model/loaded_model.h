#pragma once
// The one way a command loads a model for inference: the checkpoint, its tokenizer (checked against
// config.json) and an optional PEFT adapter, with the provenance record of all three that every
// output made with them carries.
#include <filesystem>
#include <optional>

#include "io/json_file.h"
#include "model/compute_settings.h"
#include "model/lora.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::model {

// Where a model comes from.
struct ModelSource {
  std::filesystem::path model_dir;
  std::filesystem::path tokenizer_file;  // empty: model_dir/tokenizer.json
  std::filesystem::path adapter_dir;     // empty: no adapter
  bool hash_weights = false;             // fingerprint the weights by their full content (default: headers)
};

// --model, the checkpoint directory, as the commands that load one list it.
inline io::OptionInfo model_option() { return io::option("--model", "Hugging Face checkpoint directory").mandatory(); }

// --adapter, a PEFT LoRA adapter directory to attach, as the commands that load a model list it.
inline io::OptionInfo adapter_option() { return io::option("--adapter", "PEFT LoRA adapter directory to attach"); }

struct LoadedModel {
  Model model;
  tokenizer::Tokenizer tokenizer;
  std::optional<LoraConfig> adapter;
  // {"model": {path, config_sha1, model_type, num_hidden_layers, hidden_size, weights}, "adapter",
  //  "tokenizer": {path, sha1}, "runtime": {device, dtype, quantization}}
  io::Json provenance;
};

// The tokenizer file a source names (its own, or the model's tokenizer.json).
std::filesystem::path tokenizer_file_of(const ModelSource& source);

// The absolute path without "." and ".." (how provenance names files).
std::string canonical_path(const std::filesystem::path& path);

// Loads the source's checkpoint with `settings`, its tokenizer and adapter. The cheap inputs come
// first: config.json, the tokenizer (checked against config.json) and adapter_config.json are read
// and checked before any weight, so a wrong path fails at once, not after minutes of loading a large
// model. Throws Error naming the file that is missing or wrong.
LoadedModel load_model_with_tokenizer(const ModelSource& source, const ComputeSettings& settings);

// load_model_with_tokenizer for inference only (evaluation, analyses, generation; never training): the
// linear layers are then packed for this CPU's matrix multiplies (pack_for_inference).
LoadedModel load_model_for_inference(const ModelSource& source, const ComputeSettings& settings);

// Replaces the attached adapter (if any) by the one in `adapter_dir` (none when empty) and updates
// the provenance: one loaded base model serves the base and the tuned runs in turn.
void use_adapter(LoadedModel& loaded, const std::filesystem::path& adapter_dir);

}  // namespace qtalign::model
