#pragma once
// The decoder's elementwise chains (RMSNorm, RoPE, the SiLU gate, the scaled and masked softmax of the
// attention scores), each as one pass over memory for inference on the CPU. libtorch runs each as a chain
// of operators, every one reading and writing the whole tensor (and, in bf16, converting to fp32 and back
// around the reductions); next to AMX or AVX-512 matmuls that traffic is most of a bf16 forward pass.
// Each function computes what its composite computes, rounding to the input's dtype at the same steps, so
// results differ from the composite's only where a sum or an exponential is evaluated in another order.
#include <ATen/ATen.h>

#include <vector>

namespace qtalign::model {

// Whether the functions below take x: a CPU tensor in fp32 or bf16, with no gradient to record.
bool fused_elementwise_applies(const at::Tensor& x);

// RMSNorm over the last dimension of x [..., n] with weight [n] (x's dtype), as
// weight * (x32 * rsqrt(mean(x32^2) + eps)).to(dtype) or, with weight_offset (Gemma),
// (x32 * rsqrt(mean(x32^2) + eps) * (weight32 + 1)).to(dtype), where x32 is x in fp32.
at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool weight_offset);

// RoPE of x [B, T, heads, d] with cos and sin [B or 1, 1, T, d] (x's dtype), returned as
// [B, heads, T, d] contiguous: x * cos + rotate_half(x) * sin with rotate_half(x) = [-x2, x1], both
// products and their sum rounded to x's dtype.
at::Tensor fused_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// silu(gate) * up (same shapes and dtype), silu rounded to the dtype before the product.
at::Tensor fused_silu_mul(const at::Tensor& gate, const at::Tensor& up);

// Attention probabilities from scores [B, heads, T, S] given in parts along the key axis (each
// [B, heads, T, S_i], e.g. a cached prefix's keys and the pass's own; one part for scores in one piece),
// without joining them: softmax over S, in fp32, of (scores * scale rounded to the scores' dtype) + bias,
// rounded to the scores' dtype, in the same parts, each equal to its columns of the softmax of the joined
// scores; bias [B, 1, T, S] fp32 (0 where a key may be seen, the lowest float where not).
std::vector<at::Tensor> fused_masked_softmax(const std::vector<at::Tensor>& scores, double scale,
                                             const at::Tensor& bias);

}  // namespace qtalign::model
