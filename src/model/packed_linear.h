#pragma once
// Linear layers whose weights are packed once per model into the blocked layout oneDNN's matmul reads
// on this CPU (AMX tiles for bf16). libtorch 1.13 hands oneDNN the plain [out, in] weight (as oneDNN's
// sgemm takes it for fp32), which oneDNN re-lays on every call: at the evaluation's 100-250 rows that
// costs about as much as the product itself.
#include <ATen/ATen.h>

#include <memory>

#include "model/quantization.h"

namespace qtalign::model {

struct Linear;
struct Model;

// x W^T + bias for one layer through a oneDNN matmul whose weight was laid out for it once. The
// bias is folded into the product. Thread-safe: the matmul primitives made for each row count met
// are kept here (oneDNN builds kernels per shape).
class PackedLinear {
 public:
  // Packs a dense CPU weight [out, in] (bf16 or fp32) and its bias (may be undefined) into a copy in
  // the packed layout; keeps no reference to `weight`, so the caller may release it.
  PackedLinear(const at::Tensor& weight, const at::Tensor& bias);
  // For a 4-bit weight computed in `dtype`: nothing is kept dense; each forward dequantizes the
  // weight straight into the packed layout, into a buffer of the calling thread that the next layer
  // reuses (so memory stays near the 4-bit size).
  PackedLinear(std::shared_ptr<const QuantizedWeight> weight, const at::Tensor& bias, at::ScalarType dtype);
  ~PackedLinear();
  PackedLinear(const PackedLinear&) = delete;
  PackedLinear& operator=(const PackedLinear&) = delete;

  // Whether forward(x) may stand for `layer`'s product: the layer's weight is this packed one (dense:
  // `layer.weight` released, as pack_for_inference leaves it; 4-bit: the same QuantizedWeight), its bias
  // is the one packed (unmodified since), x is a CPU tensor of the packed dtype with `in` features, and
  // no gradient is to be recorded (none of x and the bias requires one while autograd records).
  bool serves(const at::Tensor& x, const Linear& layer) const;

  // x [..., in] -> [..., out]: x W^T + bias, as at::linear computes it up to float rounding.
  at::Tensor forward(const at::Tensor& x) const;

  // W [out, in] in the plain layout, a new tensor each call (reordered back exactly, or dequantized):
  // for the rare uses that need plain values once the plain weight is released.
  at::Tensor unpacked() const;

  int64_t out_features() const;
  int64_t in_features() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Whether layers computed in `dtype` are worth packing on this CPU: bf16, whose plain weight oneDNN
// re-lays into its AMX/AVX512-BF16 tiles on every call, and fp32, whose sgemm (dense_linear) packs the
// weight on every call too and, at the evaluation's 64-256 rows, gains little from a second thread
// (the packed matmul ran 1.1-1.5x sgemm's rate on one thread, up to 3.4x on two; BENCHMARKS.md).
// Not fp16.
bool packing_pays(at::ScalarType dtype);

// Packs, for inference, every linear layer of a CPU model computed in a dtype packing_pays for and at
// least kOneDnnMinimumWidth wide both ways, dense or 4-bit, and the unembedding of dense layers
// (Linear::packed, Model::packed_lm_head), and releases each dense weight it packs (Linear::weight and
// Model::lm_head left undefined, memory-mapped pages handed back), so memory stays that of one copy.
// Not packed: a tied unembedding (it is the embedding, which stays), a 4-bit model's unembedding,
// tiny models.
// Training never calls it. A layer whose weight is set again later runs unpacked (PackedLinear::serves).
void pack_for_inference(Model& model);

// `layer`'s dense weight [out, in]: `weight`, or, where packing released it, unpacked (a new tensor
// each call). Not for 4-bit layers.
at::Tensor plain_weight(const Linear& layer);

}  // namespace qtalign::model
