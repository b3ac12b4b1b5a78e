#include "train/chunked_cross_entropy.h"

#include <torch/csrc/autograd/custom_function.h>

#include "io/error.h"

namespace qtalign::train {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The loss and, when `with_gradient`, d loss / d hidden, chunk by chunk.
std::pair<at::Tensor, at::Tensor> loss_and_gradient(const at::Tensor& hidden, const at::Tensor& weight,
                                                    const at::Tensor& targets, int64_t rows_per_chunk,
                                                    bool with_gradient) {
  const int64_t rows = hidden.size(0);
  at::Tensor loss = at::zeros({}, hidden.options().dtype(at::kFloat));
  at::Tensor gradient = with_gradient ? at::empty_like(hidden) : at::Tensor();
  for (int64_t start = 0; start < rows; start += rows_per_chunk) {
    const int64_t count = std::min(rows_per_chunk, rows - start);
    const at::Tensor chunk_targets = targets.narrow(0, start, count).unsqueeze(1);
    at::Tensor logits = at::linear(hidden.narrow(0, start, count).to(weight.scalar_type()), weight).to(at::kFloat);
    const at::Tensor log_normalizer = at::logsumexp(logits, 1, /*keepdim=*/true);
    loss += (log_normalizer - logits.gather(1, chunk_targets)).sum();
    if (!with_gradient) continue;
    // d/d logits of (logsumexp - logit[target]) is softmax - one_hot(target); computed in place.
    logits.sub_(log_normalizer).exp_();
    logits.scatter_add_(1, chunk_targets, at::full({count, 1}, -1.0f, logits.options()));
    gradient.narrow(0, start, count).copy_(at::mm(logits.to(weight.scalar_type()), weight));
  }
  return {loss, gradient};
}

struct ChunkedCrossEntropy : public torch::autograd::Function<ChunkedCrossEntropy> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& hidden, const at::Tensor& weight,
                            const at::Tensor& targets, int64_t rows_per_chunk) {
    auto [loss, gradient] = loss_and_gradient(hidden, weight, targets, rows_per_chunk, /*with_gradient=*/true);
    context->save_for_backward({gradient});
    return loss;
  }

  static variable_list backward(AutogradContext* context, variable_list output_gradients) {
    const at::Tensor gradient = context->get_saved_variables()[0];
    // The product in fp32: the incoming gradient is a small scale (1 / target tokens) that bf16 would round.
    const at::Tensor scaled = (gradient.to(at::kFloat) * output_gradients[0]).to(gradient.scalar_type());
    return {scaled, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_cross_entropy_sum(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                     int64_t rows_per_chunk) {
  if (hidden.dim() != 2 || weight.dim() != 2 || hidden.size(1) != weight.size(1))
    throw Error("chunked_cross_entropy_sum: hidden must be [rows, in] and weight [vocab, in]");
  if (targets.dim() != 1 || targets.size(0) != hidden.size(0))
    throw Error("chunked_cross_entropy_sum: one target per row is needed");
  if (rows_per_chunk < 1) throw Error("chunked_cross_entropy_sum: rows_per_chunk must be positive");
  if (at::GradMode::is_enabled() && hidden.requires_grad())
    return ChunkedCrossEntropy::apply(hidden, weight, targets, rows_per_chunk);
  return loss_and_gradient(hidden, weight, targets, rows_per_chunk, /*with_gradient=*/false).first;
}

}  // namespace qtalign::train
