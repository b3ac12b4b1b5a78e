#include "model/merge.h"

#include "io/atomic_file.h"
#include "io/error.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/dtype.h"
#include "model/finite.h"

namespace qtalign::model {
namespace {

// Files of a checkpoint directory besides config.json and the weights, copied as they are.
const char* const kCopiedFiles[] = {"tokenizer.json",     "tokenizer_config.json", "special_tokens_map.json",
                                    "generation_config.json", "vocab.json",        "merges.txt",
                                    "tokenizer.model",    "added_tokens.json"};

// A NaN anywhere would spread through every merged weight it touches into a checkpoint that loads.
void require_finite_adapter(const Model& model, const std::filesystem::path& adapter_dir) {
  const std::string weights = (adapter_dir / "adapter_model.safetensors").string();
  for (const NamedLora& layer : attached_lora(model)) {
    require_finite(layer.weights->a, weights + ": tensor '" + peft_tensor_name(layer.module, 'A') + "'");
    require_finite(layer.weights->b, weights + ": tensor '" + peft_tensor_name(layer.module, 'B') + "'");
  }
}

}  // namespace

MergeSummary merge_adapter(const MergeSpec& spec) {
  std::error_code ignored;
  if (std::filesystem::weakly_canonical(spec.out_dir, ignored) ==
      std::filesystem::weakly_canonical(spec.model_dir, ignored))
    throw Error("--out must differ from --model (the base weights are read while the merged ones are written)");
  io::remove_abandoned_temporaries(spec.out_dir);
  const ModelConfig config = read_model_config(spec.model_dir / "config.json");
  // Merging in the checkpoint's own dtype keeps untouched weights memory-mapped.
  const at::ScalarType disk_dtype = config.torch_dtype.empty() ? at::kFloat : parse_dtype(config.torch_dtype);
  LoadOptions load_options;
  load_options.dtype = disk_dtype;
  load_options.check_finite = true;
  Model model = load_model(spec.model_dir, load_options);
  MergeSummary summary;
  summary.lora = load_lora_adapter(model, spec.adapter_dir);
  require_finite_adapter(model, spec.adapter_dir);
  summary.adapted_layers = attached_lora(model).size();
  summary.save_dtype = spec.save_dtype.value_or(disk_dtype);
  merge_lora(model);
  save_model(model, spec.out_dir, summary.save_dtype);
  for (const char* name : kCopiedFiles) {
    const std::filesystem::path source = spec.model_dir / name;
    if (std::filesystem::exists(source)) io::write_file_atomically(spec.out_dir / name, io::read_file(source));
  }
  return summary;
}

std::optional<at::ScalarType> parse_save_dtype(const std::string& name) {
  if (name == "auto") return std::nullopt;
  return parse_dtype(name);
}

std::string save_dtype_name(const std::optional<at::ScalarType>& dtype) {
  return dtype ? dtype_name(*dtype) : "auto";
}

}  // namespace qtalign::model
