#include "model/fused_elementwise.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "io/error.h"
#include "model/cpu_dispatch.h"

namespace qtalign::model {
namespace {

// 16 fp32 lanes (one AVX-512 register; two AVX2 or four SSE registers on the other builds), in GCC's
// vector extensions, which clang shares.
constexpr int64_t kLanes = 16;
using Floats = float __attribute__((vector_size(kLanes * sizeof(float))));
using Ints = int32_t __attribute__((vector_size(kLanes * sizeof(int32_t))));
using Words = uint32_t __attribute__((vector_size(kLanes * sizeof(uint32_t))));
using HalfWords = uint16_t __attribute__((vector_size(kLanes * sizeof(uint16_t))));

[[gnu::always_inline]] inline Floats splat(float value) { return Floats{} + value; }

template <typename To, typename From>
[[gnu::always_inline]] inline To bits_as(const From& from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// The lanes below `count`.
[[gnu::always_inline]] inline Ints active_lanes(int64_t count) {
  const Ints index = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return index < static_cast<int32_t>(count);
}

// Elements are fp32 (float) or bf16 bits (uint16_t). load reads `count` <= kLanes of them (the lanes
// beyond are 0), store writes `count`.
[[gnu::always_inline]] inline Floats load(const float* p, int64_t count) {
  Floats v = {};
  if (count == kLanes) std::memcpy(&v, p, sizeof v);
  else std::memcpy(&v, p, static_cast<size_t>(count) * sizeof(float));
  return v;
}
[[gnu::always_inline]] inline Floats load(const uint16_t* p, int64_t count) {
  HalfWords h = {};
  if (count == kLanes) std::memcpy(&h, p, sizeof h);
  else std::memcpy(&h, p, static_cast<size_t>(count) * sizeof(uint16_t));
  return bits_as<Floats>(__builtin_convertvector(h, Words) << 16);
}

// bf16 bits of each lane: rounded to nearest even, a NaN to the quiet NaN, as c10::BFloat16 converts.
[[gnu::always_inline]] inline Words bf16_bits(Floats v) {
  const Words bits = bits_as<Words>(v);
  const Words rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  const Words nan = bits_as<Words>((bits & 0x7FFFFFFFu) > 0x7F800000u);
  return (rounded & ~nan) | (0x7FC0u & nan);
}

[[gnu::always_inline]] inline void store(float* p, Floats v, int64_t count) {
  if (count == kLanes) std::memcpy(p, &v, sizeof v);
  else std::memcpy(p, &v, static_cast<size_t>(count) * sizeof(float));
}
[[gnu::always_inline]] inline void store(uint16_t* p, Floats v, int64_t count) {
  const HalfWords h = __builtin_convertvector(bf16_bits(v), HalfWords);
  if (count == kLanes) std::memcpy(p, &h, sizeof h);
  else std::memcpy(p, &h, static_cast<size_t>(count) * sizeof(uint16_t));
}

// v rounded to T's precision, in fp32.
template <typename T>
[[gnu::always_inline]] inline Floats rounded_to(Floats v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return bits_as<Floats>(bf16_bits(v) << 16);
}

// Calls body(i, count) over [0, n) in steps of kLanes, the last one of count < kLanes where n is not a
// multiple.
template <typename Body>
[[gnu::always_inline]] inline void for_lanes(int64_t n, const Body& body) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) body(i, kLanes);
  if (i < n) body(i, n - i);
}

[[gnu::always_inline]] inline float lane_sum(Floats v) {
  float sum = 0.0f;
  for (int64_t j = 0; j < kLanes; ++j) sum += v[j];
  return sum;
}

[[gnu::always_inline]] inline float lane_max(Floats v) {
  float largest = v[0];
  for (int64_t j = 1; j < kLanes; ++j) largest = v[j] > largest ? v[j] : largest;
  return largest;
}

// e^x to about 1 ulp (Cephes' polynomial on the reduced argument): 0 below -87.3, where e^x leaves the
// normal floats, and e^88.3 (about 2.1e38) above 88.3, short of the largest float.
[[gnu::always_inline]] inline Floats exp_lanes(Floats x) {
  const Floats low = splat(-87.3f), high = splat(88.3f);
  Floats c = x < low ? low : x;
  c = c > high ? high : c;
  const Floats n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // rounded to an integer
  Floats r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  Floats p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const Floats y = p * r * r + r + 1.0f;
  const Floats scale = bits_as<Floats>((__builtin_convertvector(n, Ints) + 127) << 23);
  return x < low ? splat(0.0f) : y * scale;
}

template <typename T>
[[gnu::always_inline]] inline void rms_norm_rows(const T* x, const T* weight, T* y, int64_t begin, int64_t end,
                                                 int64_t n, float eps, bool weight_offset) {
  for (int64_t row = begin; row < end; ++row) {
    const T* in = x + row * n;
    T* out = y + row * n;
    Floats squares = {};
    for_lanes(n, [&](int64_t i, int64_t count) __attribute__((always_inline)) {
      const Floats v = load(in + i, count);
      squares += v * v;
    });
    const float inverse = 1.0f / std::sqrt(lane_sum(squares) / static_cast<float>(n) + eps);
    for_lanes(n, [&](int64_t i, int64_t count) __attribute__((always_inline)) {
      const Floats v = load(in + i, count) * inverse, w = load(weight + i, count);
      store(out + i, weight_offset ? v * (w + 1.0f) : w * rounded_to<T>(v), count);
    });
  }
}

// Rows are (batch, token) pairs; each covers `heads` vectors of d in x and writes them head-major:
// out = x * cos + [-x2, x1] * sin.
template <typename T>
[[gnu::always_inline]] inline void rotary_rows(const T* x, const T* cos, const T* sin, T* out, int64_t begin,
                                               int64_t end, int64_t tokens, int64_t heads, int64_t d,
                                               int64_t table_batch_stride) {
  const int64_t half = d / 2;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t b = row / tokens, t = row % tokens;
    const T* c = cos + b * table_batch_stride + t * d;
    const T* s = sin + b * table_batch_stride + t * d;
    for (int64_t h = 0; h < heads; ++h) {
      const T* in = x + (row * heads + h) * d;
      T* o = out + ((b * heads + h) * tokens + t) * d;
      for_lanes(half, [&](int64_t i, int64_t count) __attribute__((always_inline)) {
        const Floats first = load(in + i, count), second = load(in + half + i, count);
        store(o + i,
              rounded_to<T>(first * load(c + i, count)) + rounded_to<T>(-second * load(s + i, count)), count);
        store(o + half + i,
              rounded_to<T>(second * load(c + half + i, count)) + rounded_to<T>(first * load(s + half + i, count)),
              count);
      });
    }
  }
}

template <typename T>
[[gnu::always_inline]] inline void silu_mul_range(const T* gate, const T* up, T* out, int64_t begin, int64_t end) {
  for_lanes(end - begin, [&](int64_t i, int64_t count) __attribute__((always_inline)) {
    const Floats g = load(gate + begin + i, count);
    store(out + begin + i, rounded_to<T>(g / (1.0f + exp_lanes(-g))) * load(up + begin + i, count), count);
  });
}

// Rows are (batch, head, query); each row's bias row is shared by the heads. A row's keys lie in `parts`
// consecutive stretches, stretch p in its own tensors (in[p], out[p], rows of lengths[p] keys).
template <typename T>
[[gnu::always_inline]] inline void masked_softmax_rows(const T* const* in, T* const* out, const int64_t* lengths,
                                                       int64_t parts, const float* bias, int64_t begin, int64_t end,
                                                       int64_t heads, int64_t tokens, int64_t keys, float scale) {
  // A row's values, padded to whole vectors with -inf (which adds nothing to the maximum or the sum); a
  // vector more, as a stretch's last vector may reach past the padding when the stretch starts unaligned.
  const int64_t padded = (keys + kLanes - 1) / kLanes * kLanes;
  std::vector<float> values(static_cast<size_t>(padded + kLanes));
  float* v = values.data();
  for (int64_t row = begin; row < end; ++row) {
    const int64_t b = row / (heads * tokens), t = row % tokens;
    const float* mask = bias + (b * tokens + t) * keys;
    Floats maxima = splat(-std::numeric_limits<float>::infinity());
    for (int64_t p = 0, at = 0; p < parts; at += lengths[p++]) {
      const T* scores = in[p] + row * lengths[p];
      for_lanes(lengths[p], [&](int64_t i, int64_t count) __attribute__((always_inline)) {
        Floats value = rounded_to<T>(load(scores + i, count) * scale) + load(mask + at + i, count);
        if (count < kLanes) value = active_lanes(count) ? value : splat(-std::numeric_limits<float>::infinity());
        store(v + at + i, value, kLanes);
        maxima = value > maxima ? value : maxima;
      });
    }
    for (int64_t i = keys; i < padded; ++i) v[i] = -std::numeric_limits<float>::infinity();
    const float largest = lane_max(maxima);
    Floats sums = {};
    for (int64_t i = 0; i < padded; i += kLanes) {
      const Floats e = exp_lanes(load(v + i, kLanes) - largest);
      store(v + i, e, kLanes);
      sums += e;
    }
    const float inverse = 1.0f / lane_sum(sums);
    for (int64_t p = 0, at = 0; p < parts; at += lengths[p++]) {
      T* o = out[p] + row * lengths[p];
      for_lanes(lengths[p], [&](int64_t i, int64_t count) __attribute__((always_inline)) {
        store(o + i, load(v + at + i, kLanes) * inverse, count);
      });
    }
  }
}

QTALIGN_DISPATCHED(rms_norm, rms_norm_rows,
                   (const T* x, const T* w, T* y, int64_t begin, int64_t end, int64_t n, float eps, bool offset),
                   (x, w, y, begin, end, n, eps, offset))
QTALIGN_DISPATCHED(rotary, rotary_rows,
                   (const T* x, const T* cos, const T* sin, T* out, int64_t begin, int64_t end, int64_t tokens,
                    int64_t heads, int64_t d, int64_t stride),
                   (x, cos, sin, out, begin, end, tokens, heads, d, stride))
QTALIGN_DISPATCHED(silu_mul, silu_mul_range, (const T* gate, const T* up, T* out, int64_t begin, int64_t end),
                   (gate, up, out, begin, end))
QTALIGN_DISPATCHED(masked_softmax, masked_softmax_rows,
                   (const T* const* in, T* const* out, const int64_t* lengths, int64_t parts, const float* bias,
                    int64_t begin, int64_t end, int64_t heads, int64_t tokens, int64_t keys, float scale),
                   (in, out, lengths, parts, bias, begin, end, heads, tokens, keys, scale))

// The data of a float or bf16 tensor as the element type the kernels take.
template <typename T>
const T* elements(const at::Tensor& t) {
  return static_cast<const T*>(t.data_ptr());
}
template <typename T>
T* mutable_elements(at::Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

// Rows per parallel task: enough elements that a task outweighs its scheduling.
int64_t grain(int64_t row_elements) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(row_elements, 1)); }

void check_same_dtype(const char* what, const at::Tensor& x, const at::Tensor& other) {
  if (other.scalar_type() != x.scalar_type() || !other.device().is_cpu())
    throw Error(std::string(what) + ": operands must share the input's dtype and lie on the CPU");
}

}  // namespace

bool fused_elementwise_applies(const at::Tensor& x) {
  return x.device().is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) &&
         !at::GradMode::is_enabled();
}

at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool weight_offset) {
  check_same_dtype("fused_rms_norm", x, weight);
  const int64_t n = x.size(-1);
  if (weight.numel() != n) throw Error("fused_rms_norm: the weight's length differs from the normalized dimension");
  const at::Tensor input = x.contiguous(), w = weight.contiguous();
  at::Tensor y = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  at::parallel_for(0, n == 0 ? 0 : input.numel() / n, grain(n), [&](int64_t begin, int64_t end) {
    if (bf16)
      rms_norm<uint16_t>(elements<uint16_t>(input), elements<uint16_t>(w), mutable_elements<uint16_t>(y), begin, end, n,
                    static_cast<float>(eps), weight_offset);
    else
      rms_norm<float>(elements<float>(input), elements<float>(w), mutable_elements<float>(y), begin, end, n,
                     static_cast<float>(eps), weight_offset);
  });
  return y;
}

at::Tensor fused_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  check_same_dtype("fused_rotary", x, cos);
  check_same_dtype("fused_rotary", x, sin);
  const int64_t batch = x.size(0), tokens = x.size(1), heads = x.size(2), d = x.size(3);
  if (d % 2 != 0 || cos.sizes() != sin.sizes() || cos.dim() != 4 || cos.size(2) != tokens || cos.size(3) != d ||
      (cos.size(0) != batch && cos.size(0) != 1))
    throw Error("fused_rotary: cos and sin must be [batch or 1, 1, tokens, head_dim] of an even head_dim");
  const at::Tensor input = x.contiguous(), c = cos.contiguous(), s = sin.contiguous();
  const int64_t table_stride = cos.size(0) == 1 ? 0 : tokens * d;
  at::Tensor out = at::empty({batch, heads, tokens, d}, x.options().memory_format(at::MemoryFormat::Contiguous));
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  at::parallel_for(0, batch * tokens, grain(heads * d), [&](int64_t begin, int64_t end) {
    if (bf16)
      rotary<uint16_t>(elements<uint16_t>(input), elements<uint16_t>(c), elements<uint16_t>(s),
                  mutable_elements<uint16_t>(out), begin, end, tokens, heads, d, table_stride);
    else
      rotary<float>(elements<float>(input), elements<float>(c), elements<float>(s), mutable_elements<float>(out),
                   begin, end, tokens, heads, d, table_stride);
  });
  return out;
}

at::Tensor fused_silu_mul(const at::Tensor& gate, const at::Tensor& up) {
  check_same_dtype("fused_silu_mul", gate, up);
  if (gate.sizes() != up.sizes()) throw Error("fused_silu_mul: gate and up must have one shape");
  const at::Tensor g = gate.contiguous(), u = up.contiguous();
  at::Tensor out = at::empty(gate.sizes(), gate.options().memory_format(at::MemoryFormat::Contiguous));
  const bool bf16 = gate.scalar_type() == at::kBFloat16;
  at::parallel_for(0, g.numel(), 16384, [&](int64_t begin, int64_t end) {
    if (bf16)
      silu_mul<uint16_t>(elements<uint16_t>(g), elements<uint16_t>(u), mutable_elements<uint16_t>(out), begin, end);
    else
      silu_mul<float>(elements<float>(g), elements<float>(u), mutable_elements<float>(out), begin, end);
  });
  return out;
}

std::vector<at::Tensor> fused_masked_softmax(const std::vector<at::Tensor>& scores, double scale,
                                             const at::Tensor& bias) {
  if (scores.empty()) throw Error("fused_masked_softmax: no scores");
  const at::Tensor& first = scores.front();
  const int64_t batch = first.size(0), heads = first.size(1), tokens = first.size(2);
  std::vector<at::Tensor> in, out;
  std::vector<int64_t> lengths;
  for (const at::Tensor& part : scores) {
    check_same_dtype("fused_masked_softmax", first, part);
    if (part.dim() != 4 || part.sizes().slice(0, 3) != first.sizes().slice(0, 3))
      throw Error("fused_masked_softmax: the parts of the scores must share [batch, heads, tokens]");
    in.push_back(part.contiguous());
    out.push_back(at::empty(part.sizes(), part.options().memory_format(at::MemoryFormat::Contiguous)));
    lengths.push_back(part.size(3));
  }
  const int64_t keys = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  if (bias.scalar_type() != at::kFloat || bias.sizes() != at::IntArrayRef({batch, 1, tokens, keys}))
    throw Error("fused_masked_softmax: the bias must be fp32 [batch, 1, tokens, keys]");
  const at::Tensor mask = bias.contiguous();
  const auto run = [&](auto element, int64_t begin, int64_t end) {
    using T = decltype(element);
    std::vector<const T*> from;
    std::vector<T*> to;
    for (size_t p = 0; p < in.size(); ++p) {
      from.push_back(elements<T>(in[p]));
      to.push_back(mutable_elements<T>(out[p]));
    }
    masked_softmax<T>(from.data(), to.data(), lengths.data(), static_cast<int64_t>(in.size()), mask.data_ptr<float>(),
                      begin, end, heads, tokens, keys, static_cast<float>(scale));
  };
  const bool bf16 = first.scalar_type() == at::kBFloat16;
  at::parallel_for(0, keys == 0 ? 0 : batch * heads * tokens, grain(keys), [&](int64_t begin, int64_t end) {
    if (bf16) run(uint16_t{}, begin, end);
    else run(float{}, begin, end);
  });
  return out;
}

}  // namespace qtalign::model
