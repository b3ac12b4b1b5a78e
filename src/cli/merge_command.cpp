// qtalign merge: add a LoRA adapter into the base weights and write a plain Hugging Face checkpoint.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/dtype.h"
#include "model/merge.h"

namespace qtalign::cli {
namespace {

struct MergeArguments {
  model::MergeSpec spec;
  model::ComputeRequest runtime;  // only its threads
};

void run_merge(const MergeArguments& arguments) {
  model::apply_threads_and_device(arguments.runtime);
  const model::MergeSummary merged = model::merge_adapter(arguments.spec);
  std::printf("merged %zu LoRA layers (r = %lld, alpha = %g) into %s (%s)\n", merged.adapted_layers,
              static_cast<long long>(merged.lora.r), merged.lora.alpha, arguments.spec.out_dir.string().c_str(),
              model::dtype_name(merged.save_dtype).c_str());
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto arguments = std::make_shared<MergeArguments>();
  CLI::App* command = app.add_subcommand(
      "merge", "Merge a PEFT LoRA adapter into a model and write a Hugging Face checkpoint (config, safetensors, "
               "tokenizer files)");
  add_listed_options(command, arguments->spec, {{"--threads", [command, arguments] {
                                                   command->add_option("--threads", arguments->runtime.threads,
                                                                       "CPU threads (0 = all cores)")
                                                       ->check(at_least(0));
                                                 }}});
  command->callback([arguments] { run_merge(*arguments); });
}

}  // namespace qtalign::cli
