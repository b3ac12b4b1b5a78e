// The fused elementwise kernels against the libtorch operator chains they replace (the chains
// transformer.cpp runs for training and for tiny models), in fp32 and bf16, on sizes that are and are
// not multiples of the kernels' 16 lanes; and a wide model's inference pass (fused) against the same
// pass with autograd recording (the operator chains).
#include "model/fused_elementwise.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <vector>

#include "model/dense_linear.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

using testing::relative_difference;

// Rounding to fp32 or to bf16 (8 bits of mantissa), with room for one step of rounding apart.
double tolerance(at::ScalarType dtype) { return dtype == at::kFloat ? 1e-6 : 1.0 / 128; }

class FusedElementwise : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(FusedElementwise, RmsNormMatchesTheOperatorChain) {
  const at::ScalarType dtype = GetParam();
  const c10::InferenceMode inference;
  at::manual_seed(1);
  for (const int64_t n : {256, 72, 1030}) {
    const at::Tensor x = (at::randn({3, 5, n}) * 3).to(dtype);
    const at::Tensor weight = (at::rand({n}) + 0.5).to(dtype);
    const at::Tensor x32 = x.to(at::kFloat);
    const at::Tensor normalized = x32 * at::rsqrt(x32.pow(2).mean(-1, true) + 1e-6);
    const at::Tensor plain = weight * normalized.to(dtype);
    const at::Tensor offset = (normalized * (weight.to(at::kFloat) + 1.0)).to(dtype);
    ASSERT_TRUE(fused_elementwise_applies(x));
    EXPECT_LE(relative_difference(fused_rms_norm(x, weight, 1e-6, false), plain), tolerance(dtype)) << n;
    EXPECT_LE(relative_difference(fused_rms_norm(x, weight, 1e-6, true), offset), tolerance(dtype)) << n;
  }
}

TEST_P(FusedElementwise, RotaryMatchesTheOperatorChainHeadsFirst) {
  const at::ScalarType dtype = GetParam();
  const c10::InferenceMode inference;
  at::manual_seed(2);
  for (const int64_t d : {64, 24}) {
    const int64_t batch = 2, tokens = 7, heads = 3;
    const at::Tensor x = at::randn({batch, tokens, heads, d}).to(dtype);
    const at::Tensor angles = at::rand({batch, 1, tokens, d}) * 6;
    const at::Tensor cos = angles.cos().to(dtype), sin = angles.sin().to(dtype);
    const at::Tensor heads_first = x.transpose(1, 2);
    const at::Tensor rotated_half =
        at::cat({-heads_first.narrow(-1, d / 2, d / 2), heads_first.narrow(-1, 0, d / 2)}, -1);
    const at::Tensor expected = heads_first * cos + rotated_half * sin;
    const at::Tensor y = fused_rotary(x, cos, sin);
    EXPECT_EQ(y.sizes(), expected.sizes());
    EXPECT_TRUE(y.is_contiguous());
    EXPECT_LE(relative_difference(y, expected), tolerance(dtype)) << d;
    // One table row serves every batch row when it is given once.
    const at::Tensor shared = fused_rotary(x, cos.narrow(0, 0, 1), sin.narrow(0, 0, 1));
    EXPECT_LE(relative_difference(shared.narrow(0, 1, 1),
                             (heads_first * cos.narrow(0, 0, 1) + rotated_half * sin.narrow(0, 0, 1)).narrow(0, 1, 1)),
              tolerance(dtype));
  }
}

TEST_P(FusedElementwise, SiluGateMatchesTheOperatorChain) {
  const at::ScalarType dtype = GetParam();
  const c10::InferenceMode inference;
  at::manual_seed(3);
  const at::Tensor gate = (at::randn({4, 9, 333}) * 4).to(dtype), up = at::randn({4, 9, 333}).to(dtype);
  EXPECT_LE(relative_difference(fused_silu_mul(gate, up), at::silu(gate) * up), tolerance(dtype));
  // Far out in both tails: silu(x) -> x above, -> 0 below.
  const at::Tensor tails = at::tensor({-120.0f, -60.0f, 0.0f, 60.0f, 120.0f}).to(dtype);
  const at::Tensor ones = at::ones({5}).to(dtype);
  EXPECT_LE((fused_silu_mul(tails, ones) - at::silu(tails)).abs().max().item<double>(), 1e-6 * 120);
}

TEST_P(FusedElementwise, MaskedSoftmaxMatchesTheOperatorChain) {
  const at::ScalarType dtype = GetParam();
  const c10::InferenceMode inference;
  at::manual_seed(4);
  const int64_t batch = 2, heads = 3, tokens = 5;
  for (const int64_t keys : {5, 37, 64}) {
    const at::Tensor scores = (at::randn({batch, heads, tokens, keys}) * 20).to(dtype);
    // Causal over the last `tokens` keys, a padded first key in batch row 1, and one row that sees nothing.
    at::Tensor allowed = at::ones({batch, tokens, keys}, at::kBool).tril(keys - tokens);
    allowed.select(0, 1).select(1, 0).fill_(false);
    allowed.select(0, 1).select(0, 2).fill_(false);
    at::Tensor bias = at::zeros({batch, tokens, keys});
    bias.masked_fill_(allowed.logical_not(), std::numeric_limits<float>::lowest());
    bias = bias.unsqueeze(1);
    const double scale = 1.0 / 8.0;
    const at::Tensor expected = at::softmax((scores * scale).to(at::kFloat) + bias, -1).to(dtype);
    const at::Tensor y = fused_masked_softmax(std::vector<at::Tensor>{scores}, scale, bias).front();
    EXPECT_EQ(y.scalar_type(), dtype);
    EXPECT_LE((y.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>(), tolerance(dtype)) << keys;
    // Masked keys get exactly nothing; the row that sees nothing spreads evenly, as the chain does.
    EXPECT_EQ(y.masked_select(allowed.logical_not().unsqueeze(1).logical_and(allowed.any(-1, true).unsqueeze(1)))
                  .abs()
                  .max()
                  .item<double>(),
              0.0);
    EXPECT_TRUE(at::allclose(y.select(0, 1).select(1, 2).to(at::kFloat), expected.select(0, 1).select(1, 2).to(at::kFloat)));
    // Scores in parts along the key axis (split off the kernels' 16 lanes): each part's probabilities are
    // its columns of the joined softmax, bit for bit.
    const int64_t first = keys / 3 + 1;
    const std::vector<at::Tensor> parts =
        fused_masked_softmax({scores.narrow(-1, 0, first), scores.narrow(-1, first, keys - first)}, scale, bias);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_TRUE(at::equal(parts[0], y.narrow(-1, 0, first))) << keys;
    EXPECT_TRUE(at::equal(parts[1], y.narrow(-1, first, keys - first))) << keys;
  }
}

TEST_P(FusedElementwise, ApplyOnlyWithoutAGradientToRecord) {
  const at::Tensor x = at::randn({2, 3}).to(GetParam());
  {
    const c10::InferenceMode inference;
    EXPECT_TRUE(fused_elementwise_applies(x));
  }
  EXPECT_FALSE(fused_elementwise_applies(x));  // autograd on: training keeps the operator chains
  const c10::InferenceMode inference;
  EXPECT_FALSE(fused_elementwise_applies(x.to(at::kHalf)));
}

// at::parallel_for opens its OpenMP region in the calling code (ATen's header), so the kernels split
// their rows over libtorch's threads only where qtalign is compiled with OpenMP. Split or not, every row
// is one thread's: the results are those of one thread bit for bit.
TEST_P(FusedElementwise, SplitTheirRowsOverTheThreadsBitForBitAsOneThread) {
  const at::ScalarType dtype = GetParam();
  const c10::InferenceMode inference;
  at::manual_seed(5);
  const at::Tensor x = at::randn({4, 96, 1024}).to(dtype), weight = at::randn({1024}).to(dtype);
  const at::Tensor scores = at::randn({4, 8, 96, 200}).to(dtype), bias = at::zeros({4, 1, 96, 200});
  const auto run = [&] {
    return std::vector<at::Tensor>{fused_rms_norm(x, weight, 1e-6, false), fused_silu_mul(x, x * 2),
                                   fused_masked_softmax({scores}, 0.125, bias).front()};
  };
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const std::vector<at::Tensor> one = run();
  at::set_num_threads(2);
  std::vector<int> thread_of(64, -1);
  at::parallel_for(0, 64, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) thread_of[static_cast<size_t>(i)] = at::get_thread_num();
  });
  const std::vector<at::Tensor> two = run();
  at::set_num_threads(threads);
  EXPECT_EQ(std::set<int>(thread_of.begin(), thread_of.end()), (std::set<int>{0, 1}))
      << "a parallel loop of 64 tasks ran on one thread: qtalign built without OpenMP?";
  for (size_t k = 0; k < one.size(); ++k) EXPECT_TRUE(at::equal(one[k], two[k])) << "kernel " << k;
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedElementwise, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

// A model wide enough for the fused kernels, with a padded batch after a cached prefix (the evaluation's
// case): its inference pass equals the pass with autograd recording, which runs libtorch's operators.
TEST(FusedElementwise, AWideModelsInferenceEqualsTheOperatorChainPass) {
  const ModelConfig config = testing::wide_tiny_qwen2_config(50);
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const Model model = make_random_model(config, 6, dtype);
    const at::Tensor prefix_ids = at::randint(50, {1, 9});
    const at::Tensor ids = at::randint(50, {3, 6});
    at::Tensor mask = at::ones({3, 6}, at::kLong);
    mask.select(0, 1).narrow(0, 0, 2).zero_();  // left padding, as the evaluation batches
    const auto run = [&] {
      ForwardOptions keep_cache;
      keep_cache.return_cache = true;
      const ForwardOutput prefix = forward(model, {prefix_ids, at::Tensor()}, keep_cache);
      const at::Tensor hidden = forward(model, {ids, mask, &prefix.cache}).final_hidden;
      return logits(model, hidden.select(1, 5));
    };
    at::Tensor fused, chained;
    {
      const c10::InferenceMode inference;
      fused = run();
    }
    {
      const at::AutoGradMode recording(true);
      chained = run();
    }
    // bf16 rounds after every step of 2 layers: a few of its 8-bit steps apart at most.
    EXPECT_LE(relative_difference(fused, chained), dtype == at::kFloat ? 1e-5 : 0.05) << c10::toString(dtype);
  }
}

}  // namespace
}  // namespace qtalign::model
