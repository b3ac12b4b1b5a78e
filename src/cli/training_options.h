#pragma once
// The command-line options of the training settings (train/training_settings.h), declared once for
// every command that trains.
#include <CLI/CLI.hpp>

#include "train/training_settings.h"

namespace qtalign::cli {

// Which command the options are for: `train` names them as it always has; `run` and `study`, whose
// --seed and --targets are the study's seed and translation targets, name the LoRA modules
// --lora-targets and leave the seed to their own --seed.
enum class TrainingOptionNames { train_command, study_command };

// Adds an option for every training setting to `command`, writing into `settings` when parsed (whose
// values the help shows as the defaults). --targets / --lora-targets and --template are checked as
// they are parsed (Error naming the bad value); ranges are train::validate's.
void add_training_options(CLI::App* command, train::TrainingSettings& settings,
                          TrainingOptionNames names = TrainingOptionNames::train_command);

}  // namespace qtalign::cli
