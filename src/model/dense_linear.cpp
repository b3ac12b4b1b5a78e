#include "model/dense_linear.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.hpp>

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

// Whether a tensor's matrices are dense (rows or columns adjacent, no gaps) and lie one after another
// in batch order, batch dimensions of stride 0 (broadcast) aside: the operands oneDNN's AMX kernels
// read in place.
bool dense_matrices(const at::Tensor& t) {
  const auto [trans, ld] = sgemm_layout(t);
  if (trans == 0 || ld != (trans == 'N' ? t.size(-1) : t.size(-2))) return false;
  int64_t next = t.size(-1) * t.size(-2);
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    if (t.stride(d) == 0 || t.size(d) == 1) continue;
    if (t.stride(d) != next) return false;
    next *= t.size(d);
  }
  return true;
}

// The oneDNN descriptor of a tensor with dense_matrices: a broadcast batch dimension has size 1.
dnnl::memory::desc matmul_desc(const at::Tensor& t) {
  const int64_t rows = t.size(-2), columns = t.size(-1);
  dnnl::memory::dims sizes = t.sizes().vec(), strides(sizes.size());
  const bool transposed = sgemm_layout(t).first == 'T';
  strides.end()[-2] = transposed ? 1 : columns;
  strides.end()[-1] = transposed ? rows : 1;
  int64_t next = rows * columns;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    if (t.stride(d) == 0) sizes[d] = 1;
    strides[d] = next;
    next *= sizes[d];
  }
  const auto type = t.scalar_type() == at::kBFloat16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  return {sizes, type, strides};
}

// c (+= where `accumulate`) a b, a and b bf16 with equal batch sizes, c contiguous fp32 or bf16: one oneDNN
// matmul primitive (AMX on CPUs that have it), accumulating in fp32 and rounding to c's dtype once.
// Operands oneDNN's fast kernels cannot read in place are copied once; oneDNN caches the primitives.
void onednn_product(const at::Tensor& a, const at::Tensor& b, at::Tensor& c, bool accumulate) {
  const at::Tensor left = dense_matrices(a) ? a : a.contiguous();
  const at::Tensor right = dense_matrices(b) ? b : b.contiguous();
  const dnnl::memory::desc a_desc = matmul_desc(left), b_desc = matmul_desc(right), c_desc = matmul_desc(c);
  dnnl::primitive_attr attributes;
  if (accumulate) {
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    attributes.set_post_ops(sum);
  }
  try {
    const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const dnnl::matmul::primitive_desc description(dnnl::matmul::desc(a_desc, b_desc, c_desc), attributes, engine);
    const dnnl::matmul product(description);
    product.execute(stream, {{DNNL_ARG_SRC, dnnl::memory(a_desc, engine, left.data_ptr())},
                             {DNNL_ARG_WEIGHTS, dnnl::memory(b_desc, engine, right.data_ptr())},
                             {DNNL_ARG_DST, dnnl::memory(c_desc, engine, c.data_ptr())}});
    stream.wait();
  } catch (const dnnl::error& error) {
    throw Error(fmt::format("oneDNN's matmul failed ({}) on {} x {}", error.what(), c10::str(a.sizes()),
                            c10::str(b.sizes())));
  }
}

// c (+= where `accumulate`) a b for fp32 operands with equal batch sizes, c contiguous: one sgemm per
// matrix, the matrices spread over libtorch's threads, strided views read in place.
void sgemm_product(const at::Tensor& a, const at::Tensor& b, at::Tensor& c, bool accumulate) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1), dims = a.dim() - 2;
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
  const float beta = accumulate ? 1.0f : 0.0f;
  const SgemmFunction sgemm = onednn_sgemm();
  std::atomic<int> failure{0};
  // One sgemm per matrix; inside libtorch's parallel region oneDNN runs each on the calling thread.
  at::parallel_for(0, batches, 1, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index) {
      const int status = sgemm(trans_a, trans_b, m, n, k, 1.0f, a_data + offset(index, left.strides()), lda,
                               b_data + offset(index, right.strides()), ldb, beta, c_data + index * m * n, n);
      if (status != 0) failure = status;
    }
  });
  if (failure != 0)
    throw Error(fmt::format("oneDNN's sgemm failed (status {}) on {} products [{}, {}] x [{}, {}]", failure.load(),
                            batches, m, k, k, n));
}

// Whether this CPU has oneDNN bf16 matmuls (oneDNN 2.6 needs AVX-512 for them; AVX2-only CPUs have none).
bool onednn_has_bf16_matmul() {
  static const bool available = [] {
    try {
      const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
      const dnnl::memory::desc matrix({16, 16}, dnnl::memory::data_type::bf16, dnnl::memory::format_tag::ab);
      dnnl::matmul::primitive_desc(dnnl::matmul::desc(matrix, matrix, matrix), engine);
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return available;
}

// Whether batched_matmul_sum runs these parts on oneDNN: no gradient is recorded; all are CPU tensors of
// one dtype, bf16 (where the CPU has oneDNN's bf16 matmuls) or fp32 (where libtorch's process has
// oneDNN's sgemm); a_i [..., m, k_i] and b_i [..., k_i, n] with the batch sizes, m and n of the first.
bool products_on_onednn(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  if (a.empty() || a.size() != b.size() || at::GradMode::is_enabled()) return false;
  const at::Tensor& first = a.front();
  const at::ScalarType dtype = first.scalar_type();
  const bool supported = dtype == at::kBFloat16 ? onednn_has_bf16_matmul() : dtype == at::kFloat && onednn_sgemm();
  if (!supported || first.dim() < 3) return false;
  const auto batch_of = [](const at::Tensor& t) { return t.sizes().slice(0, t.dim() - 2); };
  for (size_t i = 0; i < a.size(); ++i) {
    for (const at::Tensor* operand : {&a[i], &b[i]})
      if (!operand->device().is_cpu() || operand->scalar_type() != dtype || operand->dim() != first.dim() ||
          batch_of(*operand) != batch_of(first))
        return false;
    if (a[i].size(-2) != first.size(-2) || a[i].size(-1) != b[i].size(-2) || b[i].size(-1) != b.front().size(-1))
      return false;
  }
  return true;
}

}  // namespace

at::Tensor batched_matmul_sum(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  if (!products_on_onednn(a, b)) {
    if (a.size() == 1 && b.size() == 1) return at::matmul(a.front(), b.front());
    if (!a.empty() && a.front().scalar_type() != at::kFloat) return at::matmul(at::cat(a, -1), at::cat(b, -2));
    at::Tensor sum = at::matmul(a.at(0), b.at(0));
    for (size_t i = 1; i < a.size(); ++i) sum = sum + at::matmul(a[i], b.at(i));
    return sum;
  }
  const at::ScalarType dtype = a.front().scalar_type();
  std::vector<int64_t> sizes = a.front().sizes().vec();
  sizes.back() = b.front().size(-1);
  // Several bf16 products are summed in fp32 and rounded once, as one product over the joined parts is.
  const at::ScalarType accumulator = a.size() > 1 ? at::kFloat : dtype;
  at::Tensor c = at::empty(sizes, a.front().options().dtype(accumulator).memory_format(at::MemoryFormat::Contiguous));
  if (c.numel() == 0) return c.to(dtype);
  bool accumulate = false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size(-1) == 0) continue;
    if (dtype == at::kFloat) sgemm_product(a[i], b[i], c, accumulate);
    else onednn_product(a[i], b[i], c, accumulate);
    accumulate = true;
  }
  if (!accumulate) c.zero_();
  return c.to(dtype);
}

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b) { return batched_matmul_sum({a}, {b}); }

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
