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
#include <optional>
#include <vector>

#include "model/lora.h"
#include "model/model.h"
#include "train/adamw.h"
#include "distributed/process_group.h"
#include "train/training_data.h"

namespace qtalign::train {

constexpr int64_t kModelScaledPassPositions = -1;

// Padded positions per forward pass for `config` when not set: 2048 on the Qwen1.5-0.5B shape (24
// layers x hidden 1024), fewer in proportion to layers x hidden on larger models (activation memory
// grows with both), so a 14B model runs one micro-batch of the study's questions at a time.
int64_t default_pass_positions(const model::ModelConfig& config);

struct TrainingOptions {
  int64_t epochs = 3;
  int64_t micro_batch = 4;     // examples per forward/backward pass, per process
  int64_t grad_accum = 4;      // micro-batches per optimizer step, per process
  // A process runs its micro-batches of a step together in forward passes of up to this many padded
  // token positions: faster, more activation memory, same results. 0 = one micro-batch per pass;
  // kModelScaledPassPositions = default_pass_positions(model).
  int64_t pass_positions = kModelScaledPassPositions;
  double lr = 5e-5;            // peak learning rate
  double warmup_ratio = 0.1;   // fraction of the steps with linear warmup
  double max_grad_norm = 1.0;  // global gradient-norm clipping (0 = none)
  AdamWOptions adamw;
  int64_t eval_every = 50;     // validation every N steps (and at the end); 0 = only at the end
  int64_t save_every = 100;    // checkpoint every N steps (and at the end); 0 = only at the end
  uint64_t seed = 0;           // adapter init, example order and dropout masks
  bool resume = false;         // continue from the output directory's checkpoint when there is one
  bool show_progress = true;   // progress bar on rank 0
};

struct TrainingSummary {
  int64_t steps = 0;
  double first_loss = 0.0;  // training loss of the first step
  double last_loss = 0.0;   // training loss of the last step
  std::optional<double> best_validation_loss;
  int64_t best_step = 0;
};

// The name of the checkpoint file in an output directory.
std::filesystem::path training_checkpoint_path(const std::filesystem::path& output_dir);

// Attaches a fresh adapter of `lora` to `model` (which must have none) and trains it on `train_set`,
// validating on `validation_set` (may be empty), writing to `output_dir`. With options.resume and a
// checkpoint in output_dir it continues from it and ends with the adapter an uninterrupted run ends
// with. Throws Error for empty data, a checkpoint found without resume, a checkpoint whose
// settings differ, and a non-finite loss. On return the model carries the final adapter.
TrainingSummary train_lora(model::Model& model, const model::LoraConfig& lora,
                           const std::vector<TokenizedExample>& train_set,
                           const std::vector<TokenizedExample>& validation_set, const TrainingOptions& options,
                           distributed::ProcessGroup& group, const std::filesystem::path& output_dir);

// The mean cross-entropy per target token over `examples`, in micro-batches of `micro_batch`,
// sharded over the group (every rank gets the same value); dropout off, no gradients.
double validation_loss(const model::Model& model, const std::vector<TokenizedExample>& examples,
                       int64_t micro_batch, distributed::ProcessGroup& group);

}  // namespace qtalign::train
