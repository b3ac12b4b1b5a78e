#include "study/loaded_model.h"

#include "io/provenance.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/lora.h"
#include "model/vocabulary_check.h"

namespace qtalign::study {

LoadedModel load_model_for_analysis(const std::filesystem::path& model_dir, const std::filesystem::path& adapter_dir,
                                    at::ScalarType dtype, at::Device device,
                                    const model::QuantizationOptions& quantization) {
  // The cheap inputs before the weights: a wrong tokenizer or adapter fails before a long load.
  const std::filesystem::path tokenizer_file = model_dir / "tokenizer.json";
  tokenizer::Tokenizer tokenizer = model::read_checked_tokenizer(model_dir / "config.json", tokenizer_file);
  if (!adapter_dir.empty()) model::read_lora_config(adapter_dir / "adapter_config.json");
  model::LoadOptions options;
  options.dtype = dtype;
  options.device = device;
  options.quantization = quantization;
  model::Model model = model::load_model(model_dir, options);
  io::Json provenance = {
      {"qtalign_version", QTALIGN_VERSION},
      {"model",
       {{"path", std::filesystem::absolute(model_dir).string()},
        {"config_sha1", io::file_sha1(model_dir / "config.json")},
        {"weights", io::weights_fingerprint(model_dir, false)},
        {"model_type", model.config.model_type},
        {"num_hidden_layers", model.config.num_hidden_layers},
        {"hidden_size", model.config.hidden_size}}},
      {"adapter", nullptr},
      {"tokenizer",
       {{"path", std::filesystem::absolute(tokenizer_file).string()}, {"sha1", io::file_sha1(tokenizer_file)}}},
      {"runtime",
       {{"device", device.str()},
        {"dtype", model::dtype_name(dtype)},
        {"quantization", model::describe_quantization(model.quantization)}}}};
  provenance.update(io::run_provenance(device));
  LoadedModel loaded{std::move(model), std::move(tokenizer), std::move(provenance)};
  use_adapter(loaded, adapter_dir);
  return loaded;
}

void use_adapter(LoadedModel& loaded, const std::filesystem::path& adapter_dir) {
  model::detach_lora(loaded.model);
  loaded.provenance["adapter"] = nullptr;
  if (adapter_dir.empty()) return;
  const model::LoraConfig lora = model::load_lora_adapter(loaded.model, adapter_dir);
  loaded.provenance["adapter"] = {{"path", std::filesystem::absolute(adapter_dir).string()},
                                  {"config_sha1", io::file_sha1(adapter_dir / "adapter_config.json")},
                                  {"weights_sha1", io::file_sha1(adapter_dir / "adapter_model.safetensors")},
                                  {"r", lora.r},
                                  {"lora_alpha", lora.alpha},
                                  {"target_modules", lora.target_modules}};
}

}  // namespace qtalign::study
