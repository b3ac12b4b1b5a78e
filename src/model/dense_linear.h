#pragma once
// x W^T + b for a dense weight, on the fastest matrix multiply at hand. libtorch sends fp32 CPU
// matmuls to the BLAS it was built with; Debian's OpenBLAS 0.3.21 picks its kernels from a table of
// CPUs it knows and falls back to SSE3 ("Prescott") kernels on newer ones (Sapphire and Emerald Rapids,
// for one), a fifth of the AVX-512 rate. oneDNN, which libtorch carries for its bf16 matmuls, builds
// its kernels for the CPU it runs on.
#include <ATen/ATen.h>

#include <vector>

namespace qtalign::model {

// x [..., in] W [out, in]^T + bias [out] (bias may be undefined), as at::linear computes it up to float
// rounding. fp32 on the CPU with no gradient to record and both dimensions at least
// kOneDnnMinimumWidth runs through oneDNN's sgemm when libtorch's process has it; everything else
// runs through at::linear.
at::Tensor dense_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

// a [..., m, k] @ b [..., k, n] -> [..., m, n] with equal batch sizes, as at::matmul computes it up to
// float rounding (bf16: accumulated in fp32, rounded once). On the CPU with no gradient to record, fp32
// runs one oneDNN sgemm per matrix, the matrices spread over libtorch's threads, reading strided views
// (expanded batches, transposed matrices) in place; bf16 runs one oneDNN matmul primitive (AMX where the
// CPU has it) reading dense transposed and batch-broadcast views in place; everything else runs
// through at::matmul.
at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b);

// sum_i a_i @ b_i (a_i [..., m, k_i], b_i [..., k_i, n], equal batch sizes): what one product of the a_i
// joined along k and the b_i joined along k computes, up to fp32 summation order, without joining them.
// Where batched_matmul runs on oneDNN the products accumulate in one fp32 destination and bf16 is rounded
// once; elsewhere fp32 sums at::matmul's products, and other dtypes join the parts for one at::matmul (two
// rounded products would each round before their sum).
at::Tensor batched_matmul_sum(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b);

// Below this many input or output features, layers keep at::linear: oneDNN's set-up costs more than it
// saves there, and the tiny test and demo models keep their results bit for bit.
constexpr int64_t kOneDnnMinimumWidth = 256;

}  // namespace qtalign::model
