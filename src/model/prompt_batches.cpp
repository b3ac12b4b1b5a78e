#include "model/prompt_batches.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "io/error.h"

namespace qtalign::model {

std::vector<PromptBatch> make_prompt_batches(const std::vector<std::vector<int64_t>>& prompts, int64_t batch_size) {
  if (batch_size < 1) throw Error("batch size must be at least 1");
  std::vector<size_t> order(prompts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t index : order)
    if (prompts[index].empty()) throw Error(fmt::format("prompt {} has no tokens", index));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return prompts[a].size() < prompts[b].size(); });

  std::vector<PromptBatch> batches;
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(batch_size));
    PromptBatch batch;
    batch.prompt_indices.assign(order.begin() + start, order.begin() + end);
    int64_t width = 0;
    for (size_t index : batch.prompt_indices) width = std::max<int64_t>(width, prompts[index].size());
    const int64_t rows = static_cast<int64_t>(batch.prompt_indices.size());
    batch.input_ids = at::zeros({rows, width}, at::TensorOptions().dtype(at::kLong));
    batch.attention_mask = at::zeros({rows, width}, at::TensorOptions().dtype(at::kLong));
    auto ids = batch.input_ids.accessor<int64_t, 2>();
    auto mask = batch.attention_mask.accessor<int64_t, 2>();
    for (int64_t row = 0; row < rows; ++row) {
      const std::vector<int64_t>& prompt = prompts[batch.prompt_indices[row]];
      for (size_t column = 0; column < prompt.size(); ++column) {
        ids[row][column] = prompt[column];
        mask[row][column] = 1;
      }
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

at::Tensor last_real_positions(const at::Tensor& attention_mask) {
  const at::Tensor real = attention_mask.to(at::kLong).ne(0);
  const at::Tensor columns = at::arange(attention_mask.size(1), real.options().dtype(at::kLong));
  // The largest column index holding a real token (rows without one would give 0).
  return (real.to(at::kLong) * (columns + 1)).amax(1).sub(1).clamp_min(0);
}

}  // namespace qtalign::model
