// qtalign merge: add a LoRA adapter into the base weights and write a plain Hugging Face checkpoint.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/dtype.h"
#include "model/merge.h"

namespace qtalign::cli {
namespace {

struct MergeArguments {
  std::filesystem::path model_dir, adapter_dir, out_dir;
  std::string save_dtype = "auto";
  model::ComputeRequest runtime;
};

void run_merge(const MergeArguments& arguments) {
  model::apply_threads_and_device(arguments.runtime);
  model::MergeSpec spec{arguments.model_dir, arguments.adapter_dir, arguments.out_dir, std::nullopt};
  if (arguments.save_dtype != "auto") spec.save_dtype = model::parse_dtype(arguments.save_dtype);
  const model::MergeSummary merged = model::merge_adapter(spec);
  std::printf("merged %zu LoRA layers (r = %lld, alpha = %g) into %s (%s)\n", merged.adapted_layers,
              static_cast<long long>(merged.lora.r), merged.lora.alpha, arguments.out_dir.string().c_str(),
              model::dtype_name(merged.save_dtype).c_str());
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
