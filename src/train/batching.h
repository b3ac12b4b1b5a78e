#pragma once
// Which examples each optimizer step sees, on which rank, as padded tensors, and their loss.
// Each epoch visits the examples in a seeded permutation, cut into global batches of
// micro_batch * grad_accum * world_size examples (the last one may be short). A global batch is
// sorted by length and cut into micro-batches; micro-batch j runs on rank j % world_size. So one
// process with grad_accum 4 and two with grad_accum 2 see the same micro-batches.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "model/model.h"
#include "train/training_data.h"

namespace qtalign::train {

struct BatchLayout {
  int64_t examples = 0;
  int64_t micro_batch = 4;
  int64_t grad_accum = 4;
  int64_t world_size = 1;
  uint64_t seed = 0;

  int64_t global_batch() const { return micro_batch * grad_accum * world_size; }
  int64_t steps_per_epoch() const { return (examples + global_batch() - 1) / global_batch(); }
};

// The order of the examples in an epoch (a seeded permutation, the same on every rank).
std::vector<int64_t> epoch_order(const BatchLayout& layout, int64_t epoch);

// All micro-batches of optimizer step `step` (counted from 0 across epochs), as example indices:
// the step's examples sorted by length (longest first, ties by index) and cut into micro_batch-sized
// pieces; rank r runs the pieces j with j % world_size == r.
std::vector<std::vector<int64_t>> step_micro_batches(const BatchLayout& layout,
                                                     const std::vector<TokenizedExample>& examples, int64_t step);

// A micro-batch as tensors, right-padded.
struct Batch {
  at::Tensor input_ids;       // [batch, tokens] int64
  at::Tensor attention_mask;  // [batch, tokens] 1 = real token
  at::Tensor loss_positions;  // [targets] flat indices b * tokens + t of positions that predict a target token
  at::Tensor loss_targets;    // [targets] the token each of those positions must predict
  int64_t tokens = 0;         // real tokens
};

// Pads the examples `indices` into a Batch on `device`.
Batch collate_batch(const std::vector<TokenizedExample>& examples, const std::vector<int64_t>& indices,
                    at::Device device);

// The summed (not averaged) fp32 cross-entropy of the batch's target tokens; `training` turns on
// LoRA dropout. Logits are computed only at the positions that predict a target, a few rows at a
// time (chunked_cross_entropy_sum).
at::Tensor summed_target_loss(const model::Model& model, const Batch& batch, bool training);

}  // namespace qtalign::train
