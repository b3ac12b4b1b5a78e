#include "analysis/prompt_batches.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "io/error.h"

namespace qtalign::analysis {

std::vector<size_t> select_items(size_t item_count, const std::vector<size_t>& requested, int64_t limit,
                                 const std::string& context) {
  std::vector<size_t> selected = requested;
  if (selected.empty()) {
    selected.resize(item_count);
    std::iota(selected.begin(), selected.end(), size_t{0});
  }
  std::vector<bool> seen(item_count, false);
  for (size_t index : selected) {
    if (index >= item_count)
      throw Error(fmt::format("{}: item index {} is out of range (the set has {} items)", context, index, item_count));
    if (seen[index]) throw Error(fmt::format("{}: item index {} is requested twice", context, index));
    seen[index] = true;
  }
  if (limit > 0 && selected.size() > static_cast<size_t>(limit)) selected.resize(static_cast<size_t>(limit));
  if (selected.empty()) throw Error(fmt::format("{}: no items to analyse", context));
  return selected;
}

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

}  // namespace qtalign::analysis
