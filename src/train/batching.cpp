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

Batch collate_batch(const std::vector<TokenizedExample>& examples, const std::vector<int64_t>& indices,
                    at::Device device) {
  int64_t width = 0;
  for (int64_t index : indices) width = std::max<int64_t>(width, examples[index].input_ids.size());
  const int64_t rows = static_cast<int64_t>(indices.size());
  at::Tensor ids = at::zeros({rows, width}, at::kLong);
  at::Tensor mask = at::zeros({rows, width}, at::kLong);
  std::vector<int64_t> positions, targets;
  Batch batch;
  auto ids_view = ids.accessor<int64_t, 2>();
  auto mask_view = mask.accessor<int64_t, 2>();
  for (int64_t row = 0; row < rows; ++row) {
    const TokenizedExample& example = examples[indices[row]];
    const int64_t length = static_cast<int64_t>(example.input_ids.size());
    for (int64_t t = 0; t < length; ++t) {
      ids_view[row][t] = example.input_ids[t];
      mask_view[row][t] = 1;
    }
    // Position t predicts token t + 1: the targets start at prompt_length, so the first predicting
    // position is prompt_length - 1 (a target with no prompt before its first token cannot be predicted).
    for (int64_t t = std::max<int64_t>(1, example.prompt_length); t < length; ++t) {
      positions.push_back(row * width + t - 1);
      targets.push_back(example.input_ids[t]);
    }
    batch.tokens += length;
  }
  batch.input_ids = ids.to(device);
  batch.attention_mask = mask.to(device);
  batch.loss_positions = at::tensor(positions, at::kLong).to(device);
  batch.loss_targets = at::tensor(targets, at::kLong).to(device);
  return batch;
}

at::Tensor summed_target_loss(const model::Model& model, const Batch& batch, bool training) {
  model::ForwardOptions options;
  options.training = training;
  const model::ForwardOutput output = model::forward(model, {batch.input_ids, batch.attention_mask}, options);
  const at::Tensor hidden = output.final_hidden.reshape({-1, output.final_hidden.size(-1)});
  return chunked_cross_entropy_sum(hidden.index_select(0, batch.loss_positions), model.lm_head, batch.loss_targets);
}

}  // namespace qtalign::train
