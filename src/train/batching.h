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

// The micro-batches `chosen` (indices into `micro_batches`) grouped, in order, into forward passes of
// at most `pass_positions` padded token positions (a micro-batch above that runs alone); 0 = one
// micro-batch per pass. Matmuls on a few hundred tokens run at half the rate of larger ones on CPU,
// so running a step's micro-batches together is faster; the results stay the same (collate_pass).
std::vector<std::vector<size_t>> group_passes(const std::vector<std::vector<int64_t>>& micro_batches,
                                              const std::vector<size_t>& chosen,
                                              const std::vector<TokenizedExample>& examples, int64_t pass_positions);

// Micro-batches as tensors for one forward pass: each micro-batch right-padded to its longest example,
// the micro-batches side by side along the token axis as independent blocks (ForwardInput::block_lengths).
struct Batch {
  at::Tensor input_ids;       // [rows, tokens] int64
  at::Tensor attention_mask;  // [rows, tokens] 1 = real token
  at::Tensor loss_positions;  // [targets] flat indices row * tokens + t of positions that predict a target token
  at::Tensor loss_targets;    // [targets] the token each of those positions must predict
  std::vector<int64_t> block_lengths;  // one block per micro-batch
  int64_t tokens = 0;         // real tokens
};

// The micro-batches (example indices each) as one Batch on `device`.
Batch collate_pass(const std::vector<TokenizedExample>& examples, const std::vector<std::vector<int64_t>>& micro_batches,
                   at::Device device);

// The summed (not averaged) fp32 cross-entropy of the batch's target tokens; `training` turns on
// LoRA dropout, block b's masks drawn from dropout_seeds[b] (ForwardOptions::dropout_seeds; empty:
// the default generator as it stands). Logits are computed only at the positions that predict a
// target, a few rows at a time (chunked_cross_entropy_sum).
at::Tensor summed_target_loss(const model::Model& model, const Batch& batch, bool training,
                              const std::vector<uint64_t>& dropout_seeds = {});

}  // namespace qtalign::train
