#include "model/quantization.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "io/error.h"
#include "model/cpu_dispatch.h"
#include "model/dense_linear.h"

#if QTALIGN_X86_DISPATCH
// GCC 12's AVX-512 intrinsics start results from an undefined vector, which -Wmaybe-uninitialized
// reports inside the header (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace qtalign::model {
namespace {

// bitsandbytes' get_4bit_type("nf4"): the quantiles of N(0, 1) normalised to [-1, 1], with an exact 0.
constexpr std::array<float, 16> kNf4 = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
    -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
    0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
    0.7229568362236023f, 1.0f};

// bitsandbytes' get_4bit_type("fp4"): sign bit, then the magnitudes 0, 0.0625, 8, 12, 4, 6, 2, 3,
// all divided by 12.
constexpr std::array<float, 16> kFp4 = {
    0.0f, 0.0625f / 12, 8.0f / 12, 12.0f / 12, 4.0f / 12, 6.0f / 12, 2.0f / 12, 3.0f / 12,
    -0.0f, -0.0625f / 12, -8.0f / 12, -12.0f / 12, -4.0f / 12, -6.0f / 12, -2.0f / 12, -3.0f / 12};

// dQuantizeNF4: the thresholds are the midpoints between neighbouring NF4 codes, as float literals.
uint8_t quantize_nf4(float x) {
  if (x > 0.03979014977812767f) {
    if (x > 0.3893125355243683f) {
      if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 15 : 14;
      return x > 0.5016634166240692f ? 13 : 12;
    }
    if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 11 : 10;
    return x > 0.1202552504837513f ? 9 : 8;
  }
  if (x > -0.33967943489551544f) {
    if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 7 : 6;
    return x > -0.23460740596055984f ? 5 : 4;
  }
  if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 3 : 2;
  return x > -0.8480964004993439f ? 1 : 0;
}

// dQuantizeFP4: the sign goes to bit 3 (only for x < 0, so -0 and NaN get 0); the magnitude
// thresholds are bitsandbytes' own (midpoints of the FP4 magnitudes / 12, rounded as it writes them).
uint8_t quantize_fp4(float x) {
  const uint8_t sign = x < 0 ? 0b1000 : 0;
  x = std::fabs(x);
  if (x > 0.29166667f) {
    if (x > 0.583333f) return sign + (x > 0.8333333f ? 0b0011 : 0b0010);
    return sign + (x > 0.4166667f ? 0b0101 : 0b0100);
  }
  if (x > 0.0859375f) return sign + (x > 0.20833333f ? 0b0111 : 0b0110);
  return sign + (x > 0.00260417f ? 0b0001 : 0b0000);
}

template <typename T>
void quantize_blocks(const T* values, int64_t count, QuantType type, int64_t blocksize, uint8_t* codes, float* absmax,
                     std::atomic<bool>& non_finite) {
  const int64_t blocks = (count + blocksize - 1) / blocksize;
  at::parallel_for(0, blocks, 16, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const int64_t begin = block * blocksize, end = std::min(count, begin + blocksize);
      float largest = 0.0f;
      for (int64_t i = begin; i < end; ++i) {
        const float value = static_cast<float>(values[i]);
        if (!std::isfinite(value)) non_finite = true;
        largest = std::max(largest, std::fabs(value));
      }
      absmax[block] = largest;
      // The kernel multiplies by the reciprocal (not divides); an all-zero block scales 0 by inf.
      const float reciprocal = 1.0f / largest;
      // Past the end the kernel quantizes zeros: with an odd count the last low nibble is 0's code.
      const auto scaled = [&](int64_t i) { return (i < end ? static_cast<float>(values[i]) : 0.0f) * reciprocal; };
      for (int64_t i = begin; i < end; i += 2)
        codes[i / 2] = static_cast<uint8_t>(quantize_scaled_value(type, scaled(i)) << 4 |
                                            quantize_scaled_value(type, scaled(i + 1)));
    }
  });
}

// A block's 16 possible outputs, each code * absmax in fp32 rounded once to T.
template <typename T>
std::array<T, 16> block_table(const std::array<float, 16>& book, float absmax) {
  std::array<T, 16> table;
  for (size_t c = 0; c < 16; ++c) table[c] = static_cast<T>(book[c] * absmax);
  return table;
}

// Whether the AVX-512 kernels below dequantize into T on this run: bf16 and fp32, where the CPU has
// AVX-512 (active_instruction_set); other dtypes and CPUs take the scalar code.
template <typename T>
bool vector_kernels_for() {
  return (std::is_same_v<T, c10::BFloat16> || std::is_same_v<T, float>) &&
         active_instruction_set() == InstructionSet::avx512;
}

#if QTALIGN_X86_DISPATCH
// 16 code bytes of one 4-bit block at a time, 32 values: each byte's two nibbles looked up in a table of
// the block's 16 outputs (one lane each). The values are those block_table gives, bit for bit: the table
// is code * absmax in fp32, rounded to bf16 as c10::BFloat16 rounds.

// bf16 bits of each lane in its low half (the high half 0): rounded to nearest even, NaN to the quiet
// NaN, as c10::BFloat16 converts; integer operations, so AVX-512 F suffices.
QTALIGN_TARGET_AVX512 inline __m512i bf16_lanes(__m512 values) {
  const __m512i bits = _mm512_castps_si512(values);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
  return _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7FC0));
}

// A block's 16 outputs in T, one a lane (bf16 in each lane's low half).
template <typename T>
QTALIGN_TARGET_AVX512 inline __m512i vector_table(const std::array<float, 16>& book, float absmax) {
  const __m512 products = _mm512_mul_ps(_mm512_loadu_ps(book.data()), _mm512_set1_ps(absmax));
  if constexpr (std::is_same_v<T, float>) return _mm512_castps_si512(products);
  else return bf16_lanes(products);
}

// Lane k of `high` and `low`: the table entries of the high and low nibble of codes[k], k < 16.
QTALIGN_TARGET_AVX512 inline void look_up(const uint8_t* codes, __m512i table, __m512i& high, __m512i& low) {
  const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
  high = _mm512_permutexvar_epi32(_mm512_srli_epi32(bytes, 4), table);
  low = _mm512_permutexvar_epi32(bytes, table);  // the permutation reads each index's low 4 bits only
}

// bf16: lane k holds values 2k (low half, the lower address) and 2k + 1 of the 16 bytes.
QTALIGN_TARGET_AVX512 inline __m512i bf16_pairs(const uint8_t* codes, __m512i table) {
  __m512i high, low;
  look_up(codes, table, high, low);
  return _mm512_or_si512(high, _mm512_slli_epi32(low, 16));
}

// The 32 values of 16 code bytes, in order, to out[0, 32).
template <typename T>
QTALIGN_TARGET_AVX512 inline void store_values(const uint8_t* codes, __m512i table, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    __m512i high, low;
    look_up(codes, table, high, low);
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    _mm512_storeu_si512(out, _mm512_permutex2var_epi32(high, first, low));
    _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi32(high, second, low));
  } else {
    _mm512_storeu_si512(out, bf16_pairs(codes, table));
  }
}

// Whole blocks first..last-1 of the row-major weight to out (blocksizes are multiples of 32).
template <typename T>
QTALIGN_TARGET_AVX512 void dequantize_whole_blocks_avx512(const QuantizedWeight& weight, int64_t first, int64_t last,
                                                          T* out) {
  const std::array<float, 16>& book = code_book(weight.type);
  const uint8_t* codes = weight.codes.data_ptr<uint8_t>();
  const float* absmax = weight.absmax.data_ptr<float>();
  for (int64_t block = first; block < last; ++block) {
    const __m512i table = vector_table<T>(book, absmax[block]);
    for (int64_t i = block * weight.blocksize; i < (block + 1) * weight.blocksize; i += 32)
      store_values<T>(codes + i / 2, table, out + i);
  }
}

// One step of transpose: bit B of the row index exchanged with bit B of the lane index (row r, bit B
// clear, keeps its lanes with bit B clear and takes row r + B's others; row r + B the converse).
template <int B>
QTALIGN_TARGET_AVX512 inline void exchange_bit(__m512i (&rows)[16]) {
  constexpr auto indices = [] {
    std::array<std::array<int32_t, 16>, 2> lanes{};
    for (int c = 0; c < 16; ++c) {
      lanes[0][c] = (c & B) ? 16 + c - B : c;
      lanes[1][c] = (c & B) ? 16 + c : c + B;
    }
    return lanes;
  }();
  const __m512i keep = _mm512_loadu_si512(indices[0].data()), swap = _mm512_loadu_si512(indices[1].data());
  for (int r = 0; r < 16; ++r)
    if ((r & B) == 0) {
      const __m512i upper = rows[r], lower = rows[r + B];
      rows[r] = _mm512_permutex2var_epi32(upper, keep, lower);
      rows[r + B] = _mm512_permutex2var_epi32(upper, swap, lower);
    }
}

// Lane r of rows[j] becomes lane j of rows[r] (a 16 x 16 transpose).
QTALIGN_TARGET_AVX512 inline void transpose(__m512i (&rows)[16]) {
  exchange_bit<8>(rows);
  exchange_bit<4>(rows);
  exchange_bit<2>(rows);
  exchange_bit<1>(rows);
}

// bf16 rows first_row..last_row-1 (16 at a time) of a weight whose rows hold whole blocks into a
// blocked layout where each 16 rows' column pairs lie side by side (row_offsets[row + r] =
// row_offsets[row] + 2r): 16 rows x 16 code bytes become 16 32-bit pairs a row, transposed, so each
// column pair's 16 rows go out in one 64-byte store.
QTALIGN_TARGET_AVX512 void dequantize_row_tiles_avx512(const QuantizedWeight& weight, int64_t first_row,
                                                       int64_t last_row, c10::BFloat16* out,
                                                       const int64_t* row_offsets, const int64_t* column_offsets) {
  const std::array<float, 16>& book = code_book(weight.type);
  const uint8_t* codes = weight.codes.data_ptr<uint8_t>();
  const float* absmax = weight.absmax.data_ptr<float>();
  const int64_t blocksize = weight.blocksize, columns = weight.columns, per_row = columns / blocksize;
  for (int64_t column = 0; column < columns; column += 32)
    for (int64_t row = first_row; row < last_row; row += 16) {
      const int64_t column_block = column / blocksize;
      __m512i tile[16];
      for (int r = 0; r < 16; ++r)
        tile[r] = bf16_pairs(codes + ((row + r) * columns + column) / 2,
                             vector_table<c10::BFloat16>(book, absmax[(row + r) * per_row + column_block]));
      transpose(tile);
      c10::BFloat16* rows_out = out + row_offsets[row];
      for (int j = 0; j < 16; ++j) _mm512_storeu_si512(rows_out + column_offsets[column + 2 * j], tile[j]);
    }
}
#endif

// Writes the weight's values in T from block `first_block` on: value (row, column) at
// out[row * columns + column], or with kBlocked at out[row_offsets[row] + column_offsets[column]] (a
// blocked layout).
template <typename T, bool kBlocked>
void dequantize_blocks(const QuantizedWeight& weight, T* out, int64_t first_block, const int64_t* row_offsets = nullptr,
                       const int64_t* column_offsets = nullptr) {
  const std::array<float, 16>& book = code_book(weight.type);
  const uint8_t* codes = weight.codes.data_ptr<uint8_t>();
  const float* absmax = weight.absmax.data_ptr<float>();
  const int64_t count = weight.numel(), blocksize = weight.blocksize, columns = weight.columns;
  const int64_t blocks = (count + blocksize - 1) / blocksize;
  at::parallel_for(first_block, blocks, 64, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const std::array<T, 16> table = block_table<T>(book, absmax[block]);
      const int64_t begin = block * blocksize, end = std::min(count, begin + blocksize);
      int64_t row = begin / columns, column = begin % columns;
      // Where value i goes; called once per value, in order.
      const auto place = [&](int64_t i) -> T& {
        if constexpr (!kBlocked) return out[i];
        T& target = out[row_offsets[row] + column_offsets[column]];
        if (++column == columns) {
          column = 0;
          ++row;
        }
        return target;
      };
      int64_t i = begin;
      for (; i + 1 < end; i += 2) {
        const uint8_t byte = codes[i / 2];
        place(i) = table[byte >> 4];
        place(i + 1) = table[byte & 0x0F];
      }
      if (i < end) place(i) = table[codes[i / 2] >> 4];
    }
  });
}

// The weight's values in T to out[row * columns + column]: the whole blocks by the AVX-512 kernel
// where it runs, the rest (a partial last block) by the scalar code.
template <typename T>
void dequantize_plain(const QuantizedWeight& weight, T* out) {
  int64_t vector_blocks = 0;
#if QTALIGN_X86_DISPATCH
  if constexpr (std::is_same_v<T, c10::BFloat16> || std::is_same_v<T, float>) {
    if (vector_kernels_for<T>()) {
      vector_blocks = weight.numel() / weight.blocksize;
      at::parallel_for(0, vector_blocks, 64, [&](int64_t first, int64_t last) {
        dequantize_whole_blocks_avx512<T>(weight, first, last, out);
      });
    }
  }
#endif
  dequantize_blocks<T, false>(weight, out, vector_blocks);
}

// Whether rows row..row+15 lie side by side in the blocked layout, each column pair's 16 in one stretch.
bool sixteen_rows_side_by_side(const int64_t* row_offsets, int64_t row) {
  for (int64_t r = 1; r < 16; ++r)
    if (row_offsets[row + r] != row_offsets[row] + 2 * r) return false;
  return true;
}

// dequantize_blocks into a blocked layout, for weights whose rows hold whole blocks. Rows go in groups
// of 64 (oneDNN's row blocks), a group one block of columns at a time: the group's writes then fill one
// stretch of the layout while it is in the cache, where row after row would touch a new cache line every
// value or pair. Where column pairs (2k, 2k + 1) lie side by side (oneDNN's bf16 layouts) a pair is one
// write (fp32's layouts put them a block of rows apart), and in bf16 on AVX-512 the group's leading runs
// of 16 rows side by side (oneDNN's BA16a64b2a and kin) go through the vector kernel, the rest through
// the scalar code.
template <typename T>
void dequantize_row_blocks(const QuantizedWeight& weight, T* out, const int64_t* row_offsets,
                           const int64_t* column_offsets, bool pairs_side_by_side) {
  const std::array<float, 16>& book = code_book(weight.type);
  const uint8_t* codes = weight.codes.data_ptr<uint8_t>();
  const float* absmax = weight.absmax.data_ptr<float>();
  const int64_t blocksize = weight.blocksize, per_row = weight.columns / blocksize, group = 64;
  const bool vector = std::is_same_v<T, c10::BFloat16> && pairs_side_by_side && vector_kernels_for<T>();
  at::parallel_for(0, (weight.rows + group - 1) / group, 1, [&](int64_t first, int64_t last) {
    for (int64_t first_row = first * group; first_row < std::min(last * group, weight.rows); first_row += group) {
      const int64_t end_row = std::min(first_row + group, weight.rows);
      int64_t scalar_row = first_row;
      while (vector && scalar_row + 16 <= end_row && sixteen_rows_side_by_side(row_offsets, scalar_row))
        scalar_row += 16;
#if QTALIGN_X86_DISPATCH
      if constexpr (std::is_same_v<T, c10::BFloat16>)
        if (scalar_row > first_row)
          dequantize_row_tiles_avx512(weight, first_row, scalar_row, out, row_offsets, column_offsets);
#endif
      for (int64_t column_block = 0; column_block < per_row; ++column_block)
        for (int64_t row = scalar_row; row < end_row; ++row) {
          const int64_t block = row * per_row + column_block;
          const std::array<T, 16> table = block_table<T>(book, absmax[block]);
          const uint8_t* block_codes = codes + block * blocksize / 2;
          T* row_out = out + row_offsets[row];
          const int64_t* offsets = column_offsets + column_block * blocksize;
          for (int64_t j = 0; j < blocksize; j += 2) {
            const uint8_t byte = block_codes[j / 2];
            const std::array<T, 2> pair = {table[byte >> 4], table[byte & 0x0F]};
            // Two writes would serve both layouts, but ran nf4-fp32 evaluation at 0.82-0.86 of fp32
            // against this form's 0.91-0.93 (GCC 12, AMD EPYC).
            if (pairs_side_by_side) {
              std::memcpy(row_out + offsets[j], pair.data(), sizeof(pair));
            } else {
              row_out[offsets[j]] = pair[0];
              row_out[offsets[j + 1]] = pair[1];
            }
          }
        }
    }
  });
}

// The same on any device with tensor operations (CUDA), value for value.
at::Tensor dequantize_with_tensor_ops(const QuantizedWeight& weight, at::ScalarType dtype) {
  const auto& book = code_book(weight.type);
  const at::Tensor table = at::tensor(at::ArrayRef<float>(book.data(), book.size())).to(weight.codes.device());
  const at::Tensor indices = at::stack({weight.codes.bitwise_right_shift(4), weight.codes.bitwise_and(0x0F)}, 1)
                                 .flatten()
                                 .narrow(0, 0, weight.numel())
                                 .to(at::kLong);
  const at::Tensor scales = weight.absmax.repeat_interleave(weight.blocksize).narrow(0, 0, weight.numel());
  return (table.index_select(0, indices) * scales).to(dtype).view({weight.rows, weight.columns});
}

// A dense copy of the weight in `dtype`, written into a per-thread buffer that the next call reuses:
// a CPU forward pass then holds one layer's dense weight at a time and allocates nothing per layer.
at::Tensor dequantize_into_buffer(const QuantizedWeight& weight, at::ScalarType dtype) {
  if (!weight.codes.device().is_cpu()) return dequantize_with_tensor_ops(weight, dtype);
  thread_local at::Tensor buffer;
  if (!buffer.defined() || buffer.scalar_type() != dtype || buffer.numel() < weight.numel())
    buffer = at::empty({weight.numel()}, at::TensorOptions().dtype(dtype));
  at::Tensor dense = buffer.narrow(0, 0, weight.numel()).view({weight.rows, weight.columns});
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype, "dequantize_4bit",
                                  [&] { dequantize_plain<scalar_t>(weight, dense.data_ptr<scalar_t>()); });
  return dense;
}

// y = x W^T with W frozen and quantized: backward recomputes W rather than saving it, as
// bitsandbytes' MatMul4Bit does, so training keeps only the 4-bit weights. The weight travels as its
// tensors and sizes, which is what the autograd context can hold.
struct QuantizedLinear : torch::autograd::Function<QuantizedLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, const at::Tensor& codes,
                            const at::Tensor& absmax, int64_t type, int64_t blocksize, int64_t rows, int64_t columns) {
    const QuantizedWeight weight = rebuild(codes, absmax, type, blocksize, rows, columns);
    context->saved_data["codes"] = codes;
    context->saved_data["absmax"] = absmax;
    context->saved_data["sizes"] = std::vector<int64_t>{type, blocksize, rows, columns};
    return dense_linear(x, dequantize_into_buffer(weight, x.scalar_type()));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list gradients) {
    const std::vector<int64_t> sizes = context->saved_data["sizes"].toIntVector();
    const QuantizedWeight weight = rebuild(context->saved_data["codes"].toTensor(),
                                           context->saved_data["absmax"].toTensor(), sizes[0], sizes[1], sizes[2], sizes[3]);
    const at::Tensor& gradient = gradients[0];
    const at::Tensor input_gradient = at::matmul(gradient, dequantize_into_buffer(weight, gradient.scalar_type()));
    return {input_gradient, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }

  static QuantizedWeight rebuild(const at::Tensor& codes, const at::Tensor& absmax, int64_t type, int64_t blocksize,
                                 int64_t rows, int64_t columns) {
    QuantizedWeight weight;
    weight.type = static_cast<QuantType>(type);
    weight.blocksize = blocksize;
    weight.rows = rows;
    weight.columns = columns;
    weight.codes = codes;
    weight.absmax = absmax;
    return weight;
  }
};

// The mean of a float32 vector as torch computes it on the CPU for up to kChunk values, where its sum
// runs on one thread; longer vectors are summed chunk by chunk in order, so that the result never
// depends on the thread count (bitsandbytes itself sums on the GPU, in yet another order).
float mean_of(const at::Tensor& values) {
  constexpr int64_t kChunk = 16384;
  const int64_t count = values.numel();
  if (count <= kChunk) return values.mean().item<float>();
  float sum = 0.0f;
  for (int64_t begin = 0; begin < count; begin += kChunk)
    sum += values.narrow(0, begin, std::min(kChunk, count - begin)).sum().item<float>();
  return sum / static_cast<float>(count);
}

}  // namespace

std::string quant_type_name(QuantType type) { return type == QuantType::nf4 ? "nf4" : "fp4"; }

QuantType parse_quant_type(const std::string& name) {
  if (name == "nf4") return QuantType::nf4;
  if (name == "fp4") return QuantType::fp4;
  throw Error("unknown 4-bit quantization type '" + name + "' (expected nf4 or fp4)");
}

void check_quant_blocksize(int64_t blocksize) {
  if (blocksize < 32 || blocksize > 4096 || (blocksize & (blocksize - 1)) != 0)
    throw Error(fmt::format("quantization block size {} is not one bitsandbytes supports (32, 64, 128, ..., 4096)",
                            blocksize));
}

std::string describe_quantization(const QuantizationOptions& options) {
  if (!options.type) return "none";
  return fmt::format("{} (blocksize {}{})", quant_type_name(*options.type), options.blocksize,
                     options.double_quant ? ", double quant" : "");
}

const std::array<float, 16>& code_book(QuantType type) { return type == QuantType::nf4 ? kNf4 : kFp4; }

uint8_t quantize_scaled_value(QuantType type, float scaled) {
  return type == QuantType::nf4 ? quantize_nf4(scaled) : quantize_fp4(scaled);
}

QuantizedWeight quantize_4bit(const at::Tensor& weight, QuantType type, int64_t blocksize, const std::string& name) {
  check_quant_blocksize(blocksize);
  if (weight.dim() != 2 || !at::isFloatingType(weight.scalar_type()) || !weight.device().is_cpu())
    throw Error("cannot quantize '" + name + "': 4-bit quantization takes a floating-point CPU matrix");
  QuantizedWeight quantized;
  quantized.type = type;
  quantized.blocksize = blocksize;
  quantized.rows = weight.size(0);
  quantized.columns = weight.size(1);
  const at::Tensor values = weight.contiguous();
  const int64_t count = quantized.numel();
  quantized.codes = at::empty({(count + 1) / 2}, at::kByte);
  quantized.absmax = at::empty({(count + blocksize - 1) / blocksize}, at::kFloat);
  std::atomic<bool> non_finite{false};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, values.scalar_type(), "quantize_4bit", [&] {
    quantize_blocks<scalar_t>(values.data_ptr<scalar_t>(), count, type, blocksize, quantized.codes.data_ptr<uint8_t>(),
                              quantized.absmax.data_ptr<float>(), non_finite);
  });
  if (non_finite) throw Error("tensor '" + name + "' contains NaN or infinite values and cannot be quantized");
  return quantized;
}

const std::array<float, 256>& dynamic_code_map() {
  // Built with the tensor operations bitsandbytes builds it with (a float32 linspace, its midpoints,
  // times a double scale), so every entry is the float32 value bitsandbytes gets.
  static const std::array<float, 256> map = [] {
    constexpr double kScales[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
    std::vector<float> values;
    for (int exponent = 0; exponent < 7; ++exponent) {
      const at::Tensor boundaries = at::linspace(0.1, 1.0, (int64_t{1} << exponent) + 1, at::kFloat);
      const int64_t bins = boundaries.numel() - 1;
      const at::Tensor means = (boundaries.narrow(0, 0, bins) + boundaries.narrow(0, 1, bins)) / 2.0;
      for (const double sign : {1.0, -1.0}) {
        const at::Tensor scaled = (means * (sign * kScales[exponent])).contiguous();
        values.insert(values.end(), scaled.data_ptr<float>(), scaled.data_ptr<float>() + scaled.numel());
      }
    }
    values.push_back(0.0f);
    values.push_back(1.0f);
    std::sort(values.begin(), values.end());
    std::array<float, 256> sorted{};
    std::copy(values.begin(), values.end(), sorted.begin());
    return sorted;
  }();
  return map;
}

uint8_t quantize_dynamic_value(float x) {
  const std::array<float, 256>& code = dynamic_code_map();
  // The kernel's search: the first odd entry 2k + 1 (k < 127) that x does not exceed, 255 when x exceeds
  // them all; written with `x > entry` as the kernel compares, so NaN goes down to the bottom.
  int low = 0, high = 127;
  while (low < high) {
    const int middle = (low + high) / 2;
    if (x > code[2 * middle + 1]) low = middle + 1;
    else high = middle;
  }
  const int upper = 2 * low + 1, even = upper - 1;
  if (x > code[even]) return static_cast<uint8_t>(x > (code[upper] + code[even]) * 0.5f ? upper : even);
  // Below the bottom entry the kernel compares with code[0] itself, which keeps 0.
  const int lower = even == 0 ? 0 : even - 1;
  return static_cast<uint8_t>(x < (code[lower] + code[even]) * 0.5f ? lower : even);
}

NestedAbsmax quantize_nested_absmax(const at::Tensor& absmax) {
  if (absmax.dim() != 1 || absmax.scalar_type() != at::kFloat || !absmax.device().is_cpu())
    throw Error("double quantization takes a float32 CPU vector of absmax values");
  const at::Tensor values = absmax.contiguous();
  NestedAbsmax nested;
  nested.offset = mean_of(values);
  const int64_t count = values.numel(), blocks = (count + kNestedBlocksize - 1) / kNestedBlocksize;
  nested.codes = at::empty({count}, at::kByte);
  nested.absmax = at::empty({blocks}, at::kFloat);
  const float* in = values.data_ptr<float>();
  uint8_t* codes = nested.codes.data_ptr<uint8_t>();
  float* scales = nested.absmax.data_ptr<float>();
  std::vector<float> centred(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) centred[i] = in[i] - nested.offset;
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t begin = block * kNestedBlocksize, end = std::min(count, begin + kNestedBlocksize);
    float largest = 0.0f;
    for (int64_t i = begin; i < end; ++i) largest = std::max(largest, std::fabs(centred[i]));
    scales[block] = largest;
    // As for the 4-bit codes: times the reciprocal; a block all at the offset scales 0 by inf.
    const float reciprocal = 1.0f / largest;
    for (int64_t i = begin; i < end; ++i) codes[i] = quantize_dynamic_value(centred[i] * reciprocal);
  }
  return nested;
}

at::Tensor dequantize_nested_absmax(const at::Tensor& codes, const at::Tensor& nested_absmax,
                                    const at::Tensor& code_map, int64_t nested_blocksize, float offset) {
  const int64_t count = codes.numel();
  // Each value's block by index (a stored nested_blocksize may be huge: nothing is sized by it).
  const at::Tensor blocks = at::arange(count, at::kLong).div(nested_blocksize, "floor");
  // Two tensor operations, so the product is rounded before the offset is added (never fused).
  const at::Tensor products = code_map.index_select(0, codes.reshape({count}).to(at::kLong)) *
                              nested_absmax.reshape({-1}).index_select(0, blocks);
  return products + offset;
}

void double_quantize_absmax(QuantizedWeight& weight) {
  const NestedAbsmax nested = quantize_nested_absmax(weight.absmax);
  const std::array<float, 256>& map = dynamic_code_map();
  weight.absmax = dequantize_nested_absmax(nested.codes, nested.absmax,
                                           at::tensor(at::ArrayRef<float>(map.data(), map.size())), kNestedBlocksize,
                                           nested.offset);
  weight.double_quant = true;
}

at::Tensor dequantize_4bit(const QuantizedWeight& weight, at::ScalarType dtype) {
  return dequantize_into_buffer(weight, dtype).clone();
}

void dequantize_4bit_blocked(const QuantizedWeight& weight, at::ScalarType dtype, void* out, const int64_t* row_offsets,
                             const int64_t* column_offsets) {
  if (!weight.codes.device().is_cpu()) throw Error("dequantize_4bit_blocked: the weight must be on the CPU");
  const bool whole_blocks = weight.columns % weight.blocksize == 0;  // blocksizes are even
  bool pairs = whole_blocks;
  for (int64_t column = 0; pairs && column < weight.columns; column += 2)
    pairs = column_offsets[column + 1] == column_offsets[column] + 1;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype, "dequantize_4bit_blocked", [&] {
    auto* target = static_cast<scalar_t*>(out);
    if (whole_blocks)
      dequantize_row_blocks<scalar_t>(weight, target, row_offsets, column_offsets, pairs);
    else
      dequantize_blocks<scalar_t, true>(weight, target, 0, row_offsets, column_offsets);
  });
}

at::Tensor quantized_linear(const at::Tensor& x, const QuantizedWeight& weight, const at::Tensor& bias) {
  // The bias stays outside the autograd function: it may be undefined, which the function's inputs cannot.
  const at::Tensor y = QuantizedLinear::apply(x, weight.codes, weight.absmax, static_cast<int64_t>(weight.type),
                                              weight.blocksize, weight.rows, weight.columns);
  return bias.defined() ? y + bias : y;
}

}  // namespace qtalign::model
