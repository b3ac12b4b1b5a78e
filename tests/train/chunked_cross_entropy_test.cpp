// The chunked loss against torch's cross-entropy over the full logits (the straightforward path).
#include "train/chunked_cross_entropy.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace qtalign::train {
namespace {

double max_abs(const at::Tensor& tensor) { return tensor.abs().max().item<double>(); }

struct Case {
  at::Tensor hidden, weight, targets;
};

Case random_case(at::ScalarType dtype) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  return {at::randn({37, 16}, generator).to(dtype), (at::randn({50, 16}, generator) * 0.5).to(dtype),
          at::randint(0, 50, {37}, generator, at::kLong)};
}

// The loss and d(scale * loss)/d hidden of torch's cross-entropy over all logits at once.
std::pair<at::Tensor, at::Tensor> reference(const Case& c, double scale) {
  const at::Tensor hidden = c.hidden.clone().requires_grad_(true);
  const at::Tensor loss =
      at::cross_entropy_loss(at::linear(hidden, c.weight).to(at::kFloat), c.targets, {}, at::Reduction::Sum);
  (loss * scale).backward();
  return {loss.detach(), hidden.grad()};
}

TEST(ChunkedCrossEntropy, EqualsTheFullCrossEntropyAndItsGradientForEveryChunking) {
  const Case c = random_case(at::kFloat);
  const auto [expected_loss, expected_gradient] = reference(c, 0.37);
  for (const int64_t rows_per_chunk : {1, 5, 36, 37, 100}) {
    const at::Tensor hidden = c.hidden.clone().requires_grad_(true);
    const at::Tensor loss = chunked_cross_entropy_sum(hidden, c.weight, c.targets, rows_per_chunk);
    (loss * 0.37).backward();
    EXPECT_NEAR(loss.item<double>(), expected_loss.item<double>(), 1e-5 * expected_loss.item<double>())
        << rows_per_chunk;
    EXPECT_LE(max_abs(hidden.grad() - expected_gradient), 1e-5 * max_abs(expected_gradient)) << rows_per_chunk;
    EXPECT_FALSE(c.weight.grad().defined());
    const at::NoGradGuard no_gradients;
    EXPECT_NEAR(chunked_cross_entropy_sum(hidden, c.weight, c.targets, rows_per_chunk).item<double>(),
                expected_loss.item<double>(), 1e-5 * expected_loss.item<double>());
  }
}

// In bf16 the product runs in bf16 and the softmax in fp32 on both paths: the loss agrees to fp32
// rounding, the gradient to bf16 rounding.
TEST(ChunkedCrossEntropy, FollowsTheSameArithmeticInBfloat16) {
  const Case c = random_case(at::kBFloat16);
  const auto [expected_loss, expected_gradient] = reference(c, 1.0 / 300);
  const at::Tensor hidden = c.hidden.clone().requires_grad_(true);
  const at::Tensor loss = chunked_cross_entropy_sum(hidden, c.weight, c.targets, 8);
  (loss / 300.0).backward();
  EXPECT_EQ(loss.scalar_type(), at::kFloat);
  EXPECT_EQ(hidden.grad().scalar_type(), at::kBFloat16);
  EXPECT_NEAR(loss.item<double>(), expected_loss.item<double>(), 1e-5 * expected_loss.item<double>());
  EXPECT_LE(max_abs(hidden.grad().to(at::kFloat) - expected_gradient.to(at::kFloat)),
            2e-2 * max_abs(expected_gradient.to(at::kFloat)));
}

TEST(ChunkedCrossEntropy, RejectsMismatchedShapes) {
  const Case c = random_case(at::kFloat);
  EXPECT_THROW(chunked_cross_entropy_sum(c.hidden, c.weight.t(), c.targets), Error);
  EXPECT_THROW(chunked_cross_entropy_sum(c.hidden, c.weight, c.targets.narrow(0, 0, 3)), Error);
  EXPECT_THROW(chunked_cross_entropy_sum(c.hidden, c.weight, c.targets, 0), Error);
}

}  // namespace
}  // namespace qtalign::train
