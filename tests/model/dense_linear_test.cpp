// dense_linear and batched_matmul against products computed in float64: layers wide enough for oneDNN's
// sgemm (the evaluation path) and narrow ones, with and without bias, non-contiguous, transposed and
// expanded operands, bf16 attention in parts against one product over the joined keys, and a gradient
// still recorded when autograd needs one.
#include "model/dense_linear.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

namespace qtalign::model {
namespace {

// x W^T + b in float64, the independent expectation.
at::Tensor reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  at::Tensor y = at::matmul(x.to(at::kDouble), weight.to(at::kDouble).t());
  return bias.defined() ? y + bias.to(at::kDouble) : y;
}

// The largest difference from the float64 product, relative to its largest magnitude.
double relative_error(const at::Tensor& y, const at::Tensor& expected) {
  return (y.to(at::kDouble) - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

TEST(DenseLinear, WideLayersMatchTheProductInFloat64) {
  at::manual_seed(5);
  const at::NoGradGuard no_grad;
  const int64_t in = kOneDnnMinimumWidth + 44, out = kOneDnnMinimumWidth + 17;
  const at::Tensor x = at::randn({3, 37, in});
  const at::Tensor weight = at::randn({out, in}) * 0.05;
  const at::Tensor bias = at::randn({out});
  for (const at::Tensor& b : {bias, at::Tensor()}) {
    const at::Tensor y = dense_linear(x, weight, b);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 37, out}));
    EXPECT_EQ(y.scalar_type(), at::kFloat);
    EXPECT_LT(relative_error(y, reference(x, weight, b)), 1e-6);
  }
  // A transposed (non-contiguous) input and a single row.
  const at::Tensor transposed = at::randn({in, 5}).t();
  EXPECT_LT(relative_error(dense_linear(transposed, weight, bias), reference(transposed, weight, bias)), 1e-6);
  const at::Tensor one = at::randn({in});
  const at::Tensor y = dense_linear(one, weight, bias);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{out}));
  EXPECT_LT(relative_error(y, reference(one, weight, bias)), 1e-6);
}

TEST(DenseLinear, NarrowLayersAndOtherDtypesAreAtLinearExactly) {
  at::manual_seed(6);
  const at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({4, 9, 64});
  const at::Tensor weight = at::randn({kOneDnnMinimumWidth + 8, 64});
  const at::Tensor bias = at::randn({kOneDnnMinimumWidth + 8});
  EXPECT_TRUE(at::equal(dense_linear(x, weight, bias), at::linear(x, weight, bias)));
  const at::Tensor wide = at::randn({300, 300}).to(at::kBFloat16);
  const at::Tensor wide_x = at::randn({2, 300}).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(dense_linear(wide_x, wide), at::linear(wide_x, wide)));
}

TEST(DenseLinear, RecordsTheGradientWhenAutogradNeedsOne) {
  at::manual_seed(7);
  const at::Tensor x = at::randn({6, 300}).requires_grad_(true);
  const at::Tensor weight = at::randn({280, 300}) * 0.05;
  const at::Tensor y = dense_linear(x, weight);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  // d sum(x W^T) / dx = the column sums of W, in every row.
  const at::Tensor expected = weight.to(at::kDouble).sum(0).expand({6, 300});
  EXPECT_LT((x.grad().to(at::kDouble) - expected).abs().max().item<double>(), 1e-4);
}

TEST(BatchedMatmul, StridedOperandsMatchTheProductInFloat64) {
  at::manual_seed(8);
  const at::NoGradGuard no_grad;
  const at::Tensor a = at::randn({2, 3, 40, 64});
  // Keys as attention reads them: transposed views, and one batch row expanded to two.
  const at::Tensor keys = at::randn({1, 3, 50, 64}).expand({2, 3, 50, 64});
  const at::Tensor b = keys.transpose(-1, -2);
  const at::Tensor expected = at::matmul(a.to(at::kDouble), b.to(at::kDouble));
  const at::Tensor y = batched_matmul(a, b);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 40, 50}));
  EXPECT_LT(relative_error(y, expected), 1e-6);
  // A left operand laid out neither in rows nor in columns (every other column) is copied first.
  const at::Tensor wide = at::randn({2, 3, 40, 128});
  const at::Tensor every_other = wide.slice(-1, 0, 128, 2);
  EXPECT_LT(relative_error(batched_matmul(every_other, b), at::matmul(every_other.to(at::kDouble), b.to(at::kDouble))),
            1e-6);
  // Probabilities times values, the second product of attention.
  const at::Tensor p = at::softmax(at::randn({2, 3, 40, 50}), -1);
  const at::Tensor v = at::randn({2, 50, 3, 64}).transpose(1, 2);
  EXPECT_LT(relative_error(batched_matmul(p, v), at::matmul(p.to(at::kDouble), v.to(at::kDouble))), 1e-6);
}

// Integers small enough that every fp32 sum of their products is exact: any fp32 accumulation gives
// the exact product, and one rounding to bf16 gives it rounded once.
at::Tensor small_integers(at::IntArrayRef sizes) { return at::randint(-6, 7, sizes).to(at::kBFloat16); }

TEST(BatchedMatmul, Bf16PartsAreOneProductOverTheJoinedKeys) {
  at::manual_seed(10);
  const at::NoGradGuard no_grad;
  // Attention after a cached prefix: queries [2, 3, 40, 64]; keys and values in two parts, the prefix's
  // (one batch row, broadcast) and the batch's own (values as transposed views of the projection).
  const at::Tensor q = small_integers({2, 3, 40, 64});
  const at::Tensor prefix_keys = small_integers({1, 3, 50, 64}).expand({2, 3, 50, 64});
  const at::Tensor own_keys = small_integers({2, 3, 30, 64});
  const at::Tensor joined_keys = at::cat({prefix_keys, own_keys}, 2);
  const at::Tensor exact_scores = at::matmul(q.to(at::kDouble), joined_keys.to(at::kDouble).transpose(-1, -2));
  const at::Tensor scores = at::cat({batched_matmul(q, prefix_keys.transpose(-1, -2)),
                                     batched_matmul(q, own_keys.transpose(-1, -2))}, -1);
  EXPECT_EQ(scores.scalar_type(), at::kBFloat16);
  // Each column of the scores is one key's: the parts are one bf16 product's columns, bit for bit.
  EXPECT_TRUE(at::equal(scores, exact_scores.to(at::kBFloat16)));
  EXPECT_TRUE(at::equal(scores, at::matmul(q, joined_keys.transpose(-1, -2))));
  const at::Tensor p_prefix = small_integers({2, 3, 40, 50}), p_own = small_integers({2, 3, 40, 30});
  const at::Tensor v_prefix = small_integers({1, 3, 50, 64}).expand({2, 3, 50, 64});
  const at::Tensor v_own = small_integers({2, 30, 3, 64}).transpose(1, 2);
  const at::Tensor exact_context = at::matmul(at::cat({p_prefix, p_own}, -1).to(at::kDouble),
                                              at::cat({v_prefix, v_own}, 2).to(at::kDouble));
  const at::Tensor context = batched_matmul_sum({p_prefix, p_own}, {v_prefix, v_own});
  EXPECT_EQ(context.scalar_type(), at::kBFloat16);
  // Summed in fp32 and rounded once: the joined product, where two bf16 products summed are not.
  EXPECT_TRUE(at::equal(context, exact_context.to(at::kBFloat16)));
  EXPECT_TRUE(at::equal(context, at::matmul(at::cat({p_prefix, p_own}, -1), at::cat({v_prefix, v_own}, 2))));
  EXPECT_FALSE(at::equal(context, at::matmul(p_prefix, v_prefix) + at::matmul(p_own, v_own)));
  // Where oneDNN does not run them (here: autograd records), the parts are joined for one product.
  const c10::AutoGradMode recording(true);
  EXPECT_TRUE(at::equal(batched_matmul_sum({p_prefix, p_own}, {v_prefix, v_own}), exact_context.to(at::kBFloat16)));
}

TEST(BatchedMatmul, Bf16PartsMatchTheProductInFloat64WithinBf16Rounding) {
  at::manual_seed(11);
  const at::NoGradGuard no_grad;
  const at::Tensor p = at::softmax(at::randn({2, 3, 40, 80}), -1).to(at::kBFloat16);
  const at::Tensor v = at::randn({2, 80, 3, 64}).to(at::kBFloat16).transpose(1, 2);
  const at::Tensor expected = at::matmul(p.to(at::kDouble), v.to(at::kDouble));
  const at::Tensor context = batched_matmul_sum({p.narrow(-1, 0, 50), p.narrow(-1, 50, 30)},
                                                {v.narrow(2, 0, 50), v.narrow(2, 50, 30)});
  EXPECT_LT(relative_error(context, expected), 1.0 / 256);
  EXPECT_LT(relative_error(batched_matmul(p, v), expected), 1.0 / 256);
  // fp32 parts are summed as the fp32 product is.
  const at::Tensor p32 = p.to(at::kFloat), v32 = v.to(at::kFloat);
  EXPECT_LT(relative_error(batched_matmul_sum({p32.narrow(-1, 0, 50), p32.narrow(-1, 50, 30)},
                                              {v32.narrow(2, 0, 50), v32.narrow(2, 50, 30)}),
                           expected),
            1e-6);
}

TEST(BatchedMatmul, RecordsTheGradientWhenAutogradNeedsOne) {
  at::manual_seed(9);
  const at::Tensor a = at::randn({2, 5, 7}).requires_grad_(true);
  const at::Tensor b = at::randn({2, 7, 3});
  const at::Tensor y = batched_matmul(a, b);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  const at::Tensor expected = b.to(at::kDouble).sum(-1).unsqueeze(1).expand({2, 5, 7});
  EXPECT_LT((a.grad().to(at::kDouble) - expected).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace qtalign::model
