#pragma once
// The training loss over a vocabulary of ~150k tokens without its [rows, vocab] fp32 logits: the
// unembedding, log-softmax and cross-entropy run a few rows at a time, and the gradient with respect
// to the hidden states is computed along (the unembedding is frozen, so nothing else is needed), so
// neither the logits nor their gradient ever exist for all rows at once.
#include <ATen/ATen.h>

#include <cstdint>

namespace qtalign::train {

// The summed cross-entropy of logits = hidden weight^T (the product in weight's dtype, the softmax in
// fp32, as model::logits computes them) against `targets`, `rows_per_chunk` rows at a time.
// hidden: [rows, in], weight: [vocab, in] (frozen: it gets no gradient), targets: [rows] int64.
// Differentiable with respect to `hidden` when it requires a gradient and grad mode is on. The default
// chunk: at a 151,936-token vocabulary, 128 rows hold 78 MB of fp32 logits and run their matmuls at
// about 1.5x the rate of 32 rows on CPU.
at::Tensor chunked_cross_entropy_sum(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                     int64_t rows_per_chunk = 128);

}  // namespace qtalign::train
