#pragma once
// LoRA tuning: AdamW on the adapter (fp32) with the base weights frozen, a cosine schedule with
// linear warmup, gradient accumulation and clipping, the loss on target tokens only, periodic
// validation keeping the best adapter, atomic checkpoints to resume from, and data parallelism
// over a ProcessGroup (gradients summed, data sharded by rank, only rank 0 writes).
//
// The loss of a step is the mean cross-entropy over all target tokens of its global batch (token-
// weighted across micro-batches and ranks), so the result does not depend on how the batch is
// divided among micro-batches and processes.
//
// Outputs in the output directory (rank 0):
//   adapter_config.json, adapter_model.safetensors  the adapter: the best by validation loss when
//                                                   there is a validation set, else the final one
//   final/                                          the final adapter (with a validation set)
//   training_log.jsonl, loss.png, loss.svg          the log and the loss curves
//   checkpoint.safetensors                          the state --resume continues from
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "model/model.h"
#include "train/training_data.h"
#include "train/training_log.h"
#include "train/training_settings.h"

namespace qtalign::train {

// Padded positions per forward pass for `config` when not set: 2048 on the Qwen1.5-0.5B shape (24
// layers x hidden 1024), fewer in proportion to layers x hidden on larger models (activation memory
// grows with both), so a 14B model runs one micro-batch of the study's questions at a time.
int64_t default_pass_positions(const model::ModelConfig& config);

// Where train_lora writes and how it goes, beside the settings that decide what it computes.
struct TrainingOutput {
  std::filesystem::path dir;
  std::string base_model;     // the base adapter_config.json names (base_model_name_or_path)
  bool resume = false;        // continue from dir's checkpoint when there is one
  bool show_progress = true;  // progress bar on rank 0
};

// The name of the checkpoint file in an output directory.
std::filesystem::path training_checkpoint_path(const std::filesystem::path& output_dir);

// Attaches a fresh adapter of `settings` to `model` (which must have none) and trains it on
// `train_set`, validating on `validation_set` (may be empty), writing to output.dir. With
// output.resume and a checkpoint there it continues from it and ends with the adapter and the summary
// an uninterrupted run ends with. Throws Error for invalid settings, empty data, a checkpoint found
// without resume, a checkpoint whose settings differ, and a non-finite loss. On return the model
// carries the final adapter.
TrainingSummary train_lora(model::Model& model, const TrainingSettings& settings,
                           const std::vector<TokenizedExample>& train_set,
                           const std::vector<TokenizedExample>& validation_set, const TrainingOutput& output,
                           distributed::ProcessGroup& group);

// The mean cross-entropy per target token over `examples`, in micro-batches of `micro_batch`,
// sharded over the group (every rank gets the same value); dropout off, no gradients.
double validation_loss(const model::Model& model, const std::vector<TokenizedExample>& examples,
                       int64_t micro_batch, distributed::ProcessGroup& group);

}  // namespace qtalign::train
