#pragma once
// Tokenized prompts of different lengths grouped into padded batches for one forward pass each.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qtalign::model {

// Prompts of similar length padded together: right padding (id 0, mask 0).
struct PromptBatch {
  at::Tensor input_ids;       // [batch, tokens] int64
  at::Tensor attention_mask;  // [batch, tokens] int64, 1 = real token
  std::vector<size_t> prompt_indices;  // which prompt each row is
};

// Groups the prompts into batches of at most batch_size, ordered by length to limit padding; every
// prompt appears in exactly one row. Throws Error for an empty prompt or batch_size < 1.
std::vector<PromptBatch> make_prompt_batches(const std::vector<std::vector<int64_t>>& prompts, int64_t batch_size);

// The position of the last real token of each row of an attention mask [batch, tokens] (padding on
// either side): an int64 [batch] tensor on the mask's device.
at::Tensor last_real_positions(const at::Tensor& attention_mask);

}  // namespace qtalign::model
