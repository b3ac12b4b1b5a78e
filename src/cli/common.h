#pragma once
// What several subcommands share, declared once: option checks, the model and its adapter, the runtime
// options (threads, device, dtype, 4-bit loading), the data options, the item limits, the training
// settings, and one process's share of a command started torchrun-style (qtalign launch, torchrun, or
// RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set by hand).
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/sampling.h"
#include "distributed/process_group.h"
#include "model/compute_settings.h"
#include "model/loaded_model.h"
#include "train/training_settings.h"

namespace qtalign::cli {

// A check of an option's value: a number of at least `minimum`, refused with "must be at least
// <minimum>" (CLI11's own range checks print their bound, a number of 309 digits).
CLI::Validator at_least(int64_t minimum);

// Throws Error when one of `options` was given on `command`: in the combination `why` describes it
// would have no effect, which the user should hear rather than find out from the results.
void refuse_options_without_effect(const CLI::App& command, const std::vector<std::string>& options,
                                   const std::string& why);

// Adds an option that parse(text) reads into `field` as it is parsed (an Error naming a bad value ends
// the parse), its default shown as name(field).
template <class Field, class Parse, class Name>
CLI::Option* add_parsed_option(CLI::App* command, const std::string& option, Field& field, Parse parse, Name name,
                               const std::string& help) {
  return command
      ->add_option_function<std::string>(
          option, [&field, parse](const std::string& text) { field = parse(text); }, help)
      ->default_str(name(field));
}

// Adds --model (required) and --adapter, the checkpoint and the LoRA adapter to attach, to a subcommand.
void add_model_source_options(CLI::App* command, model::ModelSource& source);

// Adds --threads, --device, --dtype, --quantize, --quant-blocksize and --double-quant to a subcommand.
void add_runtime_options(CLI::App* command, model::ComputeRequest& options);

// Adds --data-dir, the benchmark data, to a subcommand.
void add_data_dir_option(CLI::App* command, std::filesystem::path& data_dir);

// Adds --tasks-dir, the directory of task files read beside the study's tasks (every command that
// takes --task names its tasks by it).
void add_tasks_dir_option(CLI::App* command, std::filesystem::path& tasks_dir);

struct ItemLimitOptions {
  int64_t limit = 0;  // a label-balanced seeded sample of this many items (0 = all)
  int64_t first = 0;  // instead, the first this many items
};

// Adds --limit N (the balanced sample, the same items in every language) and --first N to a command;
// `what` says per what ("per language").
void add_item_limit_options(CLI::App* command, ItemLimitOptions& options, const std::string& what);

// The pick the options ask for, the sample drawn with `seed`.
data::ItemLimit item_limit(const ItemLimitOptions& options, uint64_t seed);

// Which command the training options are for: `train` names them as it always has; `run` and
// `study`, whose --seed and --targets are the study's seed and translation targets, name the LoRA
// modules --lora-targets and leave the seed to their own --seed.
enum class TrainingOptionNames { train_command, study_command };

// Adds an option for every training setting (train/training_settings.h) to `command`, writing into
// `settings` when parsed (whose values the help shows as the defaults). --targets / --lora-targets and
// --template are checked as they are parsed (Error naming the bad value); ranges are train::validate's.
void add_training_options(CLI::App* command, train::TrainingSettings& settings,
                          TrainingOptionNames names = TrainingOptionNames::train_command);

// Parses a command's words ({"eval", "--model", ...}) with the options on `app`, as main parses argv
// (CLI::ParseError for words the options refuse).
void parse_command_words(CLI::App& app, const std::vector<std::string>& words);

struct ProcessRuntime {
  // A group of one without the variables.
  std::shared_ptr<distributed::ProcessGroup> group;
  at::Device device = at::kCPU;
};

// Applies the runtime options with the machine's cores split among the processes on it (when all
// cores were asked for) and CUDA on the GPU of LOCAL_RANK, then joins the process group, waiting at
// most timeout_seconds for the others.
ProcessRuntime join_processes(model::ComputeRequest options, double timeout_seconds);

// Adds --dist-timeout (seconds) to a subcommand whose work join_processes shares.
void add_dist_timeout_option(CLI::App* command, double& timeout_seconds);

}  // namespace qtalign::cli
