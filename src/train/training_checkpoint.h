#pragma once
// The state a LoRA training run resumes from, in one safetensors file written atomically: the
// adapter, the AdamW moments, and (as JSON in the metadata) the step reached, the best validation
// loss so far, the log, and the settings the run depends on. The data position and the random
// state follow from the step: example order and dropout masks are drawn from (seed, step).
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/json_file.h"

namespace qtalign::train {

struct TrainingCheckpoint {
  int64_t step = 0;                       // optimizer steps completed
  std::optional<double> best_validation_loss;
  int64_t best_step = 0;
  io::Json settings;                      // what must not change between the run and its resumption
  std::vector<io::Json> log;              // the log records up to `step`
  std::vector<std::pair<std::string, at::Tensor>> adapter;    // LoRA tensors by PEFT name
  std::vector<std::pair<std::string, at::Tensor>> optimizer;  // AdamW moments
};

// Writes the checkpoint atomically.
void save_training_checkpoint(const TrainingCheckpoint& checkpoint, const std::filesystem::path& file);

// Reads a checkpoint save_training_checkpoint wrote; throws Error naming the file otherwise.
TrainingCheckpoint load_training_checkpoint(const std::filesystem::path& file);

// Throws Error naming `file` and every differing setting when a checkpoint's settings differ from
// this run's.
void check_resume_settings(const io::Json& saved, const io::Json& current, const std::filesystem::path& file);

}  // namespace qtalign::train
