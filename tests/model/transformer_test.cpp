// Blocks side by side in one forward pass (ForwardInput::block_lengths) against the same batches run
// apart, the inputs a pass of blocks refuses, and a wide model's padded batch after a shared cache
// (attended in place, on oneDNN) against each sequence run whole, and a long prompt attended in causal
// chunks against all keys at once.
#include "model/transformer.h"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "io/error.h"
#include "model/dense_linear.h"
#include "model/random_model.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

// A right-padded batch: `lengths[r]` real tokens in row r, ids counting up from `first`.
std::pair<at::Tensor, at::Tensor> padded_batch(const std::vector<int64_t>& lengths, int64_t width, int64_t first) {
  at::Tensor ids = at::zeros({int64_t(lengths.size()), width}, at::kLong);
  at::Tensor mask = at::zeros_like(ids);
  for (size_t row = 0; row < lengths.size(); ++row)
    for (int64_t t = 0; t < lengths[row]; ++t) {
      ids[row][t] = (first + int64_t(row) * 7 + t) % 50;
      mask[row][t] = 1;
    }
  return {ids, mask};
}

// Batch A (2 rows, 5 wide) and batch B (1 real row, 3 wide) side by side give, at every real token,
// the hidden states each gives alone: attention and positions stay within a block.
TEST(Transformer, BlocksAreIndependentBatchesSideBySide) {
  const Model model = make_random_model(tiny_qwen2_config(50), 3);
  const auto [a_ids, a_mask] = padded_batch({5, 4}, 5, 1);
  const auto [b_ids, b_mask] = padded_batch({3, 0}, 3, 20);
  const at::Tensor a = forward(model, {a_ids, a_mask}).final_hidden;
  const at::Tensor b = forward(model, {b_ids.narrow(0, 0, 1), b_mask.narrow(0, 0, 1)}).final_hidden;
  ForwardInput packed{at::cat({a_ids, b_ids}, 1), at::cat({a_mask, b_mask}, 1)};
  packed.block_lengths = {5, 3};
  const at::Tensor both = forward(model, packed).final_hidden;
  for (int64_t row = 0; row < 2; ++row)
    for (int64_t t = 0; t < (row == 0 ? 5 : 4); ++t)
      EXPECT_LE((both[row][t] - a[row][t]).abs().max().item<double>(), 1e-5) << row << " " << t;
  for (int64_t t = 0; t < 3; ++t)
    EXPECT_LE((both[0][5 + t] - b[0][t]).abs().max().item<double>(), 1e-5) << t;
  // Without the blocks, B's tokens would see A's and sit at positions 5..7: another result.
  const at::Tensor unblocked = forward(model, {packed.input_ids, packed.attention_mask}).final_hidden;
  EXPECT_GT((unblocked[0][5] - b[0][0]).abs().max().item<double>(), 1e-3);
}

TEST(Transformer, RefusesBlocksThatDoNotCoverTheTokensOrComeWithACache) {
  const Model model = make_random_model(tiny_qwen2_config(50), 3);
  const auto [ids, mask] = padded_batch({4, 4}, 4, 1);
  ForwardInput input{ids, mask};
  input.block_lengths = {3, 2};
  EXPECT_THROW(forward(model, input), Error);
  input.block_lengths = {4, 0};
  EXPECT_THROW(forward(model, input), Error);
  input.block_lengths = {2, 2};
  ForwardOptions with_cache;
  with_cache.return_cache = true;
  EXPECT_THROW(forward(model, input, with_cache), Error);
  ForwardOptions seeds;
  seeds.dropout_seeds = {1, 2, 3};
  EXPECT_THROW(forward(model, input, seeds), Error);
  const ForwardOutput cached = forward(model, {ids, mask}, with_cache);
  ForwardInput after_cache{ids, mask, &cached.cache};
  after_cache.block_lengths = {2, 2};
  EXPECT_THROW(forward(model, after_cache), Error);
}

// A model wide enough for dense_linear's and attention's oneDNN path (heads x head_dim = 256), with
// grouped-query attention, in `dtype`. In inference mode the continuation attends to the batch-1 prefix
// cache without joining it to its own keys; each row must equal its whole sequence run without a cache
// within `tolerance` of its scale.
void expect_wide_batch_after_a_shared_cache_equals_each_sequence_run_whole(at::ScalarType dtype, double tolerance) {
  const ModelConfig config = testing::wide_tiny_qwen2_config(50);
  ASSERT_GE(config.num_attention_heads * config.head_dim, kOneDnnMinimumWidth);
  const Model model = make_random_model(config, 4, dtype);
  const c10::InferenceMode inference;
  const auto [prefix_ids, prefix_mask] = padded_batch({6}, 6, 3);
  ForwardOptions keep_cache;
  keep_cache.return_cache = true;
  const ForwardOutput prefix = forward(model, {prefix_ids, at::Tensor()}, keep_cache);
  const std::vector<int64_t> lengths = {4, 2, 3};
  const auto [ids, mask] = padded_batch(lengths, 4, 11);
  const at::Tensor after_cache = forward(model, {ids, mask, &prefix.cache}).final_hidden;
  ASSERT_EQ(after_cache.scalar_type(), dtype);
  for (size_t row = 0; row < lengths.size(); ++row) {
    const int64_t length = lengths[row];
    const at::Tensor whole_ids = at::cat({prefix_ids, ids.narrow(0, int64_t(row), 1).narrow(1, 0, length)}, 1);
    const at::Tensor whole = forward(model, {whole_ids, at::Tensor()}).final_hidden;
    const double scale = whole.abs().max().item<double>();
    for (int64_t t = 0; t < length; ++t)
      EXPECT_LE((after_cache[int64_t(row)][t] - whole[0][6 + t]).to(at::kDouble).abs().max().item<double>(),
                tolerance * scale)
          << row << " " << t;
  }
}

TEST(Transformer, AWideBatchAfterASharedCacheEqualsEachSequenceRunWhole) {
  expect_wide_batch_after_a_shared_cache_equals_each_sequence_run_whole(at::kFloat, 1e-5);
}

// In bf16 (the evaluation's dtype) each key part's scores are their own oneDNN product and the context
// is summed in fp32 and rounded once: equal within bf16 rounding (a few 8-bit steps through 2 layers).
TEST(Transformer, AWideBf16BatchAfterASharedCacheEqualsEachSequenceRunWhole) {
  expect_wide_batch_after_a_shared_cache_equals_each_sequence_run_whole(at::kBFloat16, 2.0 / 128);
}

// A wide model's prompt of 300 tokens (query chunks of 128, 128 and 44) in inference, where each chunk's
// queries meet only the keys up to its last row, against the same pass with autograd recording (every
// key at once, libtorch's operators), at every real token of a full row and a right-padded one.
TEST(Transformer, AWideLongPromptAttendedInCausalChunksEqualsAllKeysAtOnce) {
  const ModelConfig config = testing::wide_tiny_qwen2_config(50);
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const Model model = make_random_model(config, 5, dtype);
    const std::vector<int64_t> lengths = {300, 170};
    const auto [ids, mask] = padded_batch(lengths, 300, 1);
    at::Tensor chunked;
    {
      const c10::InferenceMode inference;
      chunked = forward(model, {ids, mask}).final_hidden;
    }
    const at::Tensor whole = forward(model, {ids, mask}).final_hidden.detach();
    // bf16 rounds after every step of 2 layers: a few of its 8-bit steps apart at most.
    const double tolerance = dtype == at::kFloat ? 1e-5 : 0.05;
    for (size_t row = 0; row < lengths.size(); ++row) {
      const at::Tensor real_chunked = chunked[int64_t(row)].narrow(0, 0, lengths[row]);
      const at::Tensor real_whole = whole[int64_t(row)].narrow(0, 0, lengths[row]);
      EXPECT_LE(testing::relative_difference(real_chunked, real_whole), tolerance) << c10::toString(dtype) << " " << row;
    }
  }
}

}  // namespace
}  // namespace qtalign::model
