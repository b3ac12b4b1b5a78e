// dense_linear against the product computed in float64: layers wide enough for oneDNN's sgemm (the
// evaluation path) and narrow ones, with and without bias, a non-contiguous input, and a gradient still
// recorded when autograd needs one.
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

}  // namespace
}  // namespace qtalign::model
