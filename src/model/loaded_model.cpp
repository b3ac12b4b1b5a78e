#include "model/loaded_model.h"

#include "io/provenance.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/packed_linear.h"
#include "model/vocabulary_check.h"

namespace qtalign::model {

std::filesystem::path tokenizer_file_of(const ModelSource& source) {
  return source.tokenizer_file.empty() ? source.model_dir / "tokenizer.json" : source.tokenizer_file;
}

std::string canonical_path(const std::filesystem::path& path) {
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path)).string();
}

LoadedModel load_model_with_tokenizer(const ModelSource& source, const ComputeSettings& settings) {
  const std::filesystem::path tokenizer_file = tokenizer_file_of(source);
  tokenizer::Tokenizer tokenizer = read_checked_tokenizer(source.model_dir / "config.json", tokenizer_file);
  if (!source.adapter_dir.empty()) read_lora_config(source.adapter_dir / "adapter_config.json");
  Model model = load_model(source.model_dir, load_options(settings));
  io::Json provenance = {
      {"model",
       {{"path", canonical_path(source.model_dir)},
        {"config_sha1", io::file_sha1(source.model_dir / "config.json")},
        {"model_type", model.config.model_type},
        {"num_hidden_layers", model.config.num_hidden_layers},
        {"hidden_size", model.config.hidden_size},
        {"weights", io::weights_fingerprint(source.model_dir, source.hash_weights)}}},
      {"adapter", nullptr},
      {"tokenizer", {{"path", canonical_path(tokenizer_file)}, {"sha1", io::file_sha1(tokenizer_file)}}},
      {"runtime",
       {{"device", settings.device.str()},
        {"dtype", dtype_name(settings.dtype)},
        {"quantization", describe_quantization(model.quantization)}}}};
  LoadedModel loaded{std::move(model), std::move(tokenizer), std::nullopt, std::move(provenance)};
  use_adapter(loaded, source.adapter_dir);
  return loaded;
}

LoadedModel load_model_for_inference(const ModelSource& source, const ComputeSettings& settings) {
  LoadedModel loaded = load_model_with_tokenizer(source, settings);
  pack_for_inference(loaded.model);
  return loaded;
}

void use_adapter(LoadedModel& loaded, const std::filesystem::path& adapter_dir) {
  detach_lora(loaded.model);
  loaded.adapter.reset();
  loaded.provenance["adapter"] = nullptr;
  if (adapter_dir.empty()) return;
  loaded.adapter = load_lora_adapter(loaded.model, adapter_dir);
  loaded.provenance["adapter"] = {{"path", canonical_path(adapter_dir)},
                                  {"config_sha1", io::file_sha1(adapter_dir / "adapter_config.json")},
                                  {"weights_sha1", io::file_sha1(adapter_dir / "adapter_model.safetensors")},
                                  {"r", loaded.adapter->r},
                                  {"lora_alpha", loaded.adapter->alpha},
                                  {"target_modules", loaded.adapter->target_modules}};
}

}  // namespace qtalign::model
