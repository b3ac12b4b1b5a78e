#include "cli/common.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "io/error.h"
#include "model/quantization.h"

namespace qtalign::cli {
namespace {

template <class Number>
void add_setting_option(CLI::App* command, const std::string& option, const char* help, Number& field) {
  command->add_option(option, field, help)->capture_default_str();
}

void add_setting_option(CLI::App* command, const std::string& option, const char* help,
                        std::vector<std::string>& field) {
  const auto joined = [](const std::vector<std::string>& targets) { return fmt::format("{}", fmt::join(targets, ",")); };
  add_parsed_option(command, option, field, model::parse_lora_targets, joined, help);
}

void add_setting_option(CLI::App* command, const std::string& option, const char* help,
                        train::PromptTemplate& field) {
  add_parsed_option(command, option, field, train::parse_prompt_template, train::prompt_template_name, help);
}

}  // namespace

CLI::Validator at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& input) {
        double value = 0;
        // NaN compares false: refused too.
        if (CLI::detail::lexical_cast(input, value) && value >= static_cast<double>(minimum)) return std::string();
        return "must be at least " + std::to_string(minimum) + ", not " + input;
      },
      "at least " + std::to_string(minimum));
}

void refuse_options_without_effect(const CLI::App& command, const std::vector<std::string>& options,
                                   const std::string& why) {
  for (const std::string& option : options)
    if (command.count(option) > 0) throw Error(option + " has no effect here: " + why);
}

void add_model_source_options(CLI::App* command, model::ModelSource& source) {
  command->add_option("--model", source.model_dir, "Hugging Face checkpoint directory")->required();
  command->add_option("--adapter", source.adapter_dir, "PEFT LoRA adapter directory to attach");
}

void add_runtime_options(CLI::App* command, model::ComputeRequest& options) {
  command->add_option("--threads", options.threads, "CPU threads (0 = all cores)")
      ->check(at_least(0));
  command->add_option("--device", options.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--dtype", options.dtype, "compute dtype: auto, fp32, bf16, fp16")
      ->capture_default_str();
  command->add_option("--quantize", options.quantize,
                      "load the decoder's linear weights in 4 bits as bitsandbytes does: none, nf4 or fp4")
      ->check(CLI::IsMember({"none", "nf4", "fp4"}))
      ->capture_default_str();
  command->add_option("--quant-blocksize", options.quant_blocksize,
                      "values per absmax block with --quantize (default: " +
                          std::to_string(model::QuantizationOptions().blocksize) + ")")
      ->check(CLI::IsMember({32, 64, 128, 256, 512, 1024, 2048, 4096}));
  command->add_flag("--double-quant", options.double_quant,
                    "with --quantize, 8-bit quantize the absmax values too, as bitsandbytes' "
                    "bnb_4bit_use_double_quant does");
}

void add_data_dir_option(CLI::App* command, std::filesystem::path& data_dir) {
  command->add_option("--data-dir", data_dir, "benchmark data (default: $QTALIGN_DATA, then built-in)");
}

void add_tasks_dir_option(CLI::App* command, std::filesystem::path& tasks_dir) {
  command->add_option("--tasks-dir", tasks_dir,
                      "task files (*.json) beside the study's tasks (default: $QTALIGN_TASKS, then <data-dir>/tasks)");
}

void add_item_limit_options(CLI::App* command, ItemLimitOptions& options, const std::string& what) {
  CLI::Option* limit =
      command
          ->add_option("--limit", options.limit,
                       "N items " + what + ": a label-balanced sample drawn with --seed, the same items in every "
                       "language (0 = all)")
          ->capture_default_str()
          ->check(at_least(0));
  command->add_option("--first", options.first, "the first N items " + what + " instead of a balanced sample")
      ->check(at_least(1))
      ->excludes(limit);
}

data::ItemLimit item_limit(const ItemLimitOptions& options, uint64_t seed) {
  if (options.first > 0) return {static_cast<size_t>(options.first), data::ItemPick::first, seed};
  return {static_cast<size_t>(options.limit), data::ItemPick::balanced, seed};
}

void add_training_options(CLI::App* command, train::TrainingSettings& settings, TrainingOptionNames names) {
  const bool study = names == TrainingOptionNames::study_command;
  train::for_each_setting(settings, [&](const train::SettingNames& setting, auto& field) {
    if (study && std::strcmp(setting.key, "seed") == 0) return;
    const bool targets = std::strcmp(setting.key, "lora_targets") == 0;
    add_setting_option(command, study && targets ? "--lora-targets" : setting.option, setting.help, field);
  });
}

void parse_command_words(CLI::App& app, const std::vector<std::string>& words) {
  app.require_subcommand(1);
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 consumes from the back
  app.parse(reversed);
}

ProcessRuntime join_processes(model::ComputeRequest options, double timeout_seconds) {
  if (!(timeout_seconds > 0)) throw Error("--dist-timeout must be positive");
  const distributed::DistributedEnv env = distributed::distributed_env_from_environment();
  options.threads = distributed::threads_per_process(env, options.threads);
  ProcessRuntime runtime;
  runtime.device = distributed::device_for_process(env, model::apply_threads_and_device(options));
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  runtime.group = distributed::ProcessGroup::join(env, runtime.device, timeout);
  return runtime;
}

void add_dist_timeout_option(CLI::App* command, double& timeout_seconds) {
  command->add_option("--dist-timeout", timeout_seconds,
                      "seconds before a silent or dead process is an error (under qtalign launch or torchrun)")
      ->capture_default_str();
}

}  // namespace qtalign::cli
