#include "model/dense_linear.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <tuple>
#include <utility>
#include <vector>

#include "io/error.h"

namespace qtalign::model {
namespace {

// oneDNN's C BLAS-like entry point (dnnl.h, stable since oneDNN 1.0): row-major
// C = alpha op(A) op(B) + beta C; returns dnnl_success (0) or an error status.
using SgemmFunction = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// oneDNN's sgemm when libtorch loaded oneDNN as a shared library (Debian's libtorch links libdnnl.so.2;
// builds that link it statically hide the symbol, and keep at::linear).
SgemmFunction onednn_sgemm() {
  static const SgemmFunction function = reinterpret_cast<SgemmFunction>(::dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
  return function;
}

// Whether oneDNN's sgemm may take these operands: it is loaded, no gradient is recorded, and every
// operand is an fp32 CPU tensor.
bool onednn_may_run(std::initializer_list<at::Tensor> operands) {
  return onednn_sgemm() != nullptr && !at::GradMode::is_enabled() &&
         std::all_of(operands.begin(), operands.end(), [](const at::Tensor& tensor) {
           return tensor.device().is_cpu() && tensor.scalar_type() == at::kFloat;
         });
}

bool runs_on_onednn(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return onednn_may_run({x, weight}) && weight.dim() == 2 &&
         (!bias.defined() || (bias.scalar_type() == at::kFloat && bias.dim() == 1)) && x.dim() >= 1 &&
         x.size(-1) == weight.size(1) && weight.size(0) >= kOneDnnMinimumWidth &&
         weight.size(1) >= kOneDnnMinimumWidth;
}

// How sgemm reads the matrices [rows, columns] of a tensor's last two dimensions: 'N' with leading
// dimension stride(-2) when their columns are adjacent, 'T' with stride(-1) when their rows are;
// {0, 0} otherwise.
std::pair<char, int64_t> sgemm_layout(const at::Tensor& t) {
  const int64_t rows = t.size(-2), columns = t.size(-1);
  if (t.stride(-1) == 1 && t.stride(-2) >= std::max<int64_t>(columns, 1)) return {'N', t.stride(-2)};
  if (t.stride(-2) == 1 && t.stride(-1) >= std::max<int64_t>(rows, 1)) return {'T', t.stride(-1)};
  return {0, 0};
}

}  // namespace

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!onednn_may_run({a, b}) || a.dim() < 3 || a.dim() != b.dim() ||
      a.sizes().slice(0, a.dim() - 2) != b.sizes().slice(0, b.dim() - 2) || a.size(-1) != b.size(-2))
    return at::matmul(a, b);
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1), dims = a.dim() - 2;
  std::vector<int64_t> sizes = a.sizes().vec();
  sizes.back() = n;
  at::Tensor c = at::empty(sizes, a.options().memory_format(at::MemoryFormat::Contiguous));
  if (c.numel() == 0) return c;
  if (k == 0) return c.zero_();
  int64_t batches = 1;
  for (int64_t d = 0; d < dims; ++d) batches *= a.size(d);
  // Matrices whose elements lie neither in rows nor in columns are copied once.
  at::Tensor left = a, right = b;
  auto [trans_a, lda] = sgemm_layout(left);
  if (trans_a == 0) std::tie(left, trans_a, lda) = std::make_tuple(a.contiguous(), 'N', k);
  auto [trans_b, ldb] = sgemm_layout(right);
  if (trans_b == 0) std::tie(right, trans_b, ldb) = std::make_tuple(b.contiguous(), 'N', n);
  // The offset of matrix `index` (row-major over the batch dimensions) in a tensor of these strides.
  const auto offset = [dims, &a](int64_t index, at::IntArrayRef strides) {
    int64_t at = 0;
    for (int64_t d = dims - 1; d >= 0; --d) {
      at += (index % a.size(d)) * strides[d];
      index /= a.size(d);
    }
    return at;
  };
  const float* a_data = left.data_ptr<float>();
  const float* b_data = right.data_ptr<float>();
  float* c_data = c.data_ptr<float>();
  const SgemmFunction sgemm = onednn_sgemm();
  std::atomic<int> failure{0};
  // One sgemm per matrix; inside libtorch's parallel region oneDNN runs each on the calling thread.
  at::parallel_for(0, batches, 1, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      const int status = sgemm(trans_a, trans_b, m, n, k, 1.0f, a_data + offset(index, left.strides()), lda,
                               b_data + offset(index, right.strides()), ldb, 0.0f, c_data + index * m * n, n);
      if (status != 0) failure = status;
    }
  });
  if (failure != 0)
    throw Error(fmt::format("oneDNN's sgemm failed (status {}) on {} products [{}, {}] x [{}, {}]", failure.load(),
                            batches, m, k, k, n));
  return c;
}

at::Tensor dense_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!runs_on_onednn(x, weight, bias)) return at::linear(x, weight, bias);
  const int64_t in = weight.size(1), out = weight.size(0);
  const at::Tensor input = x.contiguous();
  const at::Tensor w = weight.contiguous();
  const int64_t rows = input.numel() / in;
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = out;
  at::Tensor y = at::empty(sizes, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (rows == 0) return y;
  float beta = 0.0f;
  if (bias.defined()) {
    y.view({rows, out}).copy_(bias.contiguous().view({1, out}).expand({rows, out}));
    beta = 1.0f;
  }
  const int status = onednn_sgemm()('N', 'T', rows, out, in, 1.0f, input.data_ptr<float>(), in, w.data_ptr<float>(), in,
                                    beta, y.data_ptr<float>(), out);
  if (status != 0)
    throw Error(fmt::format("oneDNN's sgemm failed (status {}) on [{}, {}] x [{}, {}]^T", status, rows, in, out, in));
  return y;
}

}  // namespace qtalign::model
