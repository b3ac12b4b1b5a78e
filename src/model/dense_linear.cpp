#include "model/dense_linear.h"

#include <ATen/core/grad_mode.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdint>
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

bool runs_on_onednn(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return onednn_sgemm() != nullptr && x.device().is_cpu() && x.scalar_type() == at::kFloat &&
         weight.scalar_type() == at::kFloat && weight.dim() == 2 && weight.device().is_cpu() &&
         (!bias.defined() || (bias.scalar_type() == at::kFloat && bias.dim() == 1)) && x.dim() >= 1 &&
         x.size(-1) == weight.size(1) && weight.size(0) >= kOneDnnMinimumWidth &&
         weight.size(1) >= kOneDnnMinimumWidth && !at::GradMode::is_enabled();
}

}  // namespace

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
