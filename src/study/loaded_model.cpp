#include "study/loaded_model.h"

#include "eval/provenance.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/lora.h"

namespace qtalign::study {

LoadedModel load_model_for_analysis(const std::filesystem::path& model_dir, const std::filesystem::path& adapter_dir,
                                    at::ScalarType dtype, at::Device device) {
  model::LoadOptions options;
  options.dtype = dtype;
  options.device = device;
  model::Model model = model::load_model(model_dir, options);
  const std::filesystem::path tokenizer_file = model_dir / "tokenizer.json";
  tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(tokenizer_file);
  io::Json provenance = {
      {"qtalign_version", QTALIGN_VERSION},
      {"date", eval::utc_timestamp()},
      {"model",
       {{"path", std::filesystem::absolute(model_dir).string()},
        {"config_sha1", eval::file_sha1(model_dir / "config.json")},
        {"model_type", model.config.model_type},
        {"num_hidden_layers", model.config.num_hidden_layers},
        {"hidden_size", model.config.hidden_size}}},
      {"adapter", nullptr},
      {"tokenizer",
       {{"path", std::filesystem::absolute(tokenizer_file).string()}, {"sha1", eval::file_sha1(tokenizer_file)}}},
      {"runtime", {{"device", device.str()}, {"dtype", model::dtype_name(dtype)}}}};
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
                                  {"config_sha1", eval::file_sha1(adapter_dir / "adapter_config.json")},
                                  {"weights_sha1", eval::file_sha1(adapter_dir / "adapter_model.safetensors")},
                                  {"r", lora.r},
                                  {"lora_alpha", lora.alpha},
                                  {"target_modules", lora.target_modules}};
}

}  // namespace qtalign::study
