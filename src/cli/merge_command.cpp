// qtalign merge: add a LoRA adapter into the base weights and write a plain Hugging Face checkpoint.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/dtype.h"
#include "model/finite.h"
#include "model/lora.h"

namespace qtalign::cli {
namespace {

struct MergeArguments {
  std::filesystem::path model_dir, adapter_dir, out_dir;
  std::string save_dtype = "auto";
  RuntimeOptions runtime;
};

// Files of a checkpoint directory besides config.json and the weights, copied as they are.
const char* const kCopiedFiles[] = {"tokenizer.json",     "tokenizer_config.json", "special_tokens_map.json",
                                    "generation_config.json", "vocab.json",        "merges.txt",
                                    "tokenizer.model",    "added_tokens.json"};

void run_merge(const MergeArguments& arguments) {
  apply_runtime_options(arguments.runtime);
  std::error_code ignored;
  if (std::filesystem::weakly_canonical(arguments.out_dir, ignored) ==
      std::filesystem::weakly_canonical(arguments.model_dir, ignored))
    throw Error("--out must differ from --model (the base weights are read while the merged ones are written)");
  // A merge killed mid-write leaves only temporaries (possibly the size of the model) behind.
  io::remove_abandoned_temporaries(arguments.out_dir);
  const model::ModelConfig config = model::read_model_config(arguments.model_dir / "config.json");
  // Merging in the checkpoint's own dtype keeps untouched weights memory-mapped; each adapted
  // weight is merged in fp32 and rounded once.
  const at::ScalarType disk_dtype = config.torch_dtype.empty() ? at::kFloat : model::parse_dtype(config.torch_dtype);
  const at::ScalarType save_dtype = arguments.save_dtype == "auto" ? disk_dtype : model::parse_dtype(arguments.save_dtype);
  model::LoadOptions load_options;
  load_options.dtype = disk_dtype;
  // A NaN anywhere would spread through every merged weight it touches into a checkpoint that loads.
  load_options.check_finite = true;
  model::Model model = model::load_model(arguments.model_dir, load_options);
  const model::LoraConfig lora = model::load_lora_adapter(model, arguments.adapter_dir);
  const std::vector<model::NamedLora> attached = model::attached_lora(model);
  const std::filesystem::path adapter_weights = arguments.adapter_dir / "adapter_model.safetensors";
  for (const model::NamedLora& layer : attached) {
    model::require_finite(layer.weights->a, adapter_weights.string() + ": tensor '" + model::peft_tensor_name(layer.module, 'A') + "'");
    model::require_finite(layer.weights->b, adapter_weights.string() + ": tensor '" + model::peft_tensor_name(layer.module, 'B') + "'");
  }
  const size_t adapted = attached.size();
  model::merge_lora(model);
  model::save_model(model, arguments.out_dir, save_dtype);
  for (const char* name : kCopiedFiles) {
    const std::filesystem::path source = arguments.model_dir / name;
    if (std::filesystem::exists(source)) io::write_file_atomically(arguments.out_dir / name, io::read_file(source));
  }
  std::printf("merged %zu LoRA layers (r = %lld, alpha = %g) into %s (%s)\n", adapted, static_cast<long long>(lora.r),
              lora.alpha, arguments.out_dir.string().c_str(), model::dtype_name(save_dtype).c_str());
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto arguments = std::make_shared<MergeArguments>();
  CLI::App* command = app.add_subcommand(
      "merge", "Merge a PEFT LoRA adapter into a model and write a Hugging Face checkpoint (config, safetensors, "
               "tokenizer files)");
  command->add_option("--model", arguments->model_dir, "base model checkpoint directory")->required();
  command->add_option("--adapter", arguments->adapter_dir, "PEFT adapter directory")->required();
  command->add_option("--out", arguments->out_dir, "output checkpoint directory")->required();
  command->add_option("--save-dtype", arguments->save_dtype, "dtype of the written weights: auto (the base's), fp32, bf16, fp16")
      ->capture_default_str();
  command->add_option("--threads", arguments->runtime.threads, "CPU threads (0 = all cores)")->check(at_least(0));
  command->callback([arguments] { run_merge(*arguments); });
}

}  // namespace qtalign::cli
