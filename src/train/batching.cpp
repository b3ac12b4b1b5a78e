#include "train/batching.h"

#include <algorithm>

#include "model/transformer.h"
#include "train/chunked_cross_entropy.h"

namespace qtalign::train {

std::vector<int64_t> epoch_order(const BatchLayout& layout, int64_t epoch) {
  // One generator per epoch, so any step's examples follow from (seed, step) alone (resume needs no state).
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(layout.seed * 1000003ULL + uint64_t(epoch) + 1);
  const at::Tensor order = at::randperm(layout.examples, generator, at::kLong);
  return std::vector<int64_t>(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + layout.examples);
}

std::vector<std::vector<int64_t>> step_micro_batches(const BatchLayout& layout,
                                                     const std::vector<TokenizedExample>& examples, int64_t step) {
  const int64_t steps_per_epoch = layout.steps_per_epoch();
  const std::vector<int64_t> order = epoch_order(layout, step / steps_per_epoch);
  const int64_t begin = (step % steps_per_epoch) * layout.global_batch();
  const int64_t end = std::min<int64_t>(begin + layout.global_batch(), layout.examples);
  std::vector<int64_t> chosen(order.begin() + begin, order.begin() + end);
  // Similar lengths in a micro-batch waste less on padding; the step's gradient does not depend on
  // how its examples are grouped.
  std::sort(chosen.begin(), chosen.end(), [&](int64_t a, int64_t b) {
    const size_t length_a = examples[a].input_ids.size(), length_b = examples[b].input_ids.size();
    return length_a != length_b ? length_a > length_b : a < b;
  });
  std::vector<std::vector<int64_t>> micro_batches;
  for (size_t start = 0; start < chosen.size(); start += layout.micro_batch) {
    const size_t stop = std::min(chosen.size(), start + size_t(layout.micro_batch));
    micro_batches.emplace_back(chosen.begin() + start, chosen.begin() + stop);
  }
  return micro_batches;
}

namespace {

// Padded positions of a micro-batch: its examples times its longest.
int64_t padded_positions(const std::vector<TokenizedExample>& examples, const std::vector<int64_t>& indices) {
  size_t longest = 0;
  for (const int64_t index : indices) longest = std::max(longest, examples[index].input_ids.size());
  return static_cast<int64_t>(longest * indices.size());
}

}  // namespace

std::vector<std::vector<size_t>> group_passes(const std::vector<std::vector<int64_t>>& micro_batches,
                                              const std::vector<size_t>& chosen,
                                              const std::vector<TokenizedExample>& examples, int64_t pass_positions) {
  std::vector<std::vector<size_t>> passes;
  int64_t used = 0;
  for (const size_t j : chosen) {
    const int64_t positions = padded_positions(examples, micro_batches[j]);
    if (passes.empty() || pass_positions <= 0 || used + positions > pass_positions) {
      passes.emplace_back();
      used = 0;
    }
    passes.back().push_back(j);
    used += positions;
  }
  return passes;
}

Batch collate_pass(const std::vector<TokenizedExample>& examples, const std::vector<std::vector<int64_t>>& micro_batches,
                   at::Device device) {
  Batch batch;
  int64_t rows = 0, width = 0;
  for (const std::vector<int64_t>& indices : micro_batches) {
    int64_t longest = 0;
    for (const int64_t index : indices) longest = std::max<int64_t>(longest, examples[index].input_ids.size());
    batch.block_lengths.push_back(longest);
    rows = std::max<int64_t>(rows, indices.size());
    width += longest;
  }
  at::Tensor ids = at::zeros({rows, width}, at::kLong);
  at::Tensor mask = at::zeros({rows, width}, at::kLong);
  std::vector<int64_t> positions, targets;
  auto ids_view = ids.accessor<int64_t, 2>();
  auto mask_view = mask.accessor<int64_t, 2>();
  int64_t block_start = 0;
  for (size_t block = 0; block < micro_batches.size(); ++block) {
    for (size_t row = 0; row < micro_batches[block].size(); ++row) {
      const TokenizedExample& example = examples[micro_batches[block][row]];
      const int64_t length = static_cast<int64_t>(example.input_ids.size());
      for (int64_t t = 0; t < length; ++t) {
        ids_view[row][block_start + t] = example.input_ids[t];
        mask_view[row][block_start + t] = 1;
      }
      // Position t predicts token t + 1: the targets start at prompt_length, so the first predicting
      // position is prompt_length - 1 (a target with no prompt before its first token cannot be predicted).
      for (int64_t t = std::max<int64_t>(1, example.prompt_length); t < length; ++t) {
        positions.push_back(int64_t(row) * width + block_start + t - 1);
        targets.push_back(example.input_ids[t]);
      }
      batch.tokens += length;
    }
    block_start += batch.block_lengths[block];
  }
  batch.input_ids = ids.to(device);
  batch.attention_mask = mask.to(device);
  batch.loss_positions = at::tensor(positions, at::kLong).to(device);
  batch.loss_targets = at::tensor(targets, at::kLong).to(device);
  return batch;
}

at::Tensor summed_target_loss(const model::Model& model, const Batch& batch, bool training,
                              const std::vector<uint64_t>& dropout_seeds) {
  model::ForwardOptions options;
  options.training = training;
  options.dropout_seeds = dropout_seeds;
  model::ForwardInput input{batch.input_ids, batch.attention_mask};
  if (batch.block_lengths.size() > 1) input.block_lengths = batch.block_lengths;
  const model::ForwardOutput output = model::forward(model, input, options);
  const at::Tensor hidden = output.final_hidden.reshape({-1, output.final_hidden.size(-1)});
  return chunked_cross_entropy_sum(hidden.index_select(0, batch.loss_positions), model.lm_head, batch.loss_targets);
}

}  // namespace qtalign::train
