#pragma once
// 4-bit block-wise weights as bitsandbytes makes them (quantize_4bit / dequantize_4bit): the values
// are cut into blocks of `blocksize`, each block is scaled by 1/absmax (its largest |value|) and
// every scaled value becomes the index of the nearest of 16 code values (NF4: normal-float quantiles;
// FP4: bitsandbytes' 4-bit float), two indices a byte. With double quantization (compress_statistics)
// the absmax values are themselves quantized to 8 bits. Results match bitsandbytes bit for bit.
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace qtalign::model {

enum class QuantType { nf4, fp4 };

// "nf4" or "fp4".
std::string quant_type_name(QuantType type);

// Parses "nf4" or "fp4"; throws Error naming the accepted values otherwise.
QuantType parse_quant_type(const std::string& name);

// What to quantize when a checkpoint is loaded (--quantize, --quant-blocksize).
struct QuantizationOptions {
  std::optional<QuantType> type;  // empty = keep the weights as stored
  int64_t blocksize = 64;
  bool double_quant = false;  // the absmax values 8-bit quantized too (bitsandbytes' compress_statistics)
};

// For provenance: "none", or e.g. "nf4 (blocksize 64)" / "nf4 (blocksize 64, double quant)".
std::string describe_quantization(const QuantizationOptions& options);

// Throws Error unless `blocksize` is one bitsandbytes' 4-bit kernels accept (a power of two, 32 to 4096).
void check_quant_blocksize(int64_t blocksize);


// A weight matrix [rows, columns] stored in 4 bits.
struct QuantizedWeight {
  QuantType type = QuantType::nf4;
  int64_t blocksize = 64;
  int64_t rows = 0, columns = 0;
  // The absmax values went through bitsandbytes' double quantization (read so from a checkpoint, or
  // made at load with --double-quant); absmax holds them dequantized, as bitsandbytes computes with them.
  bool double_quant = false;
  // uint8 [ceil(rows * columns / 2)]: value 2k of the row-major weight in the high nibble of byte k,
  // value 2k + 1 in the low nibble.
  at::Tensor codes;
  at::Tensor absmax;  // float32 [ceil(rows * columns / blocksize)]

  int64_t numel() const { return rows * columns; }
};

// The 16 code values of a type, in code order (bitsandbytes' get_4bit_type, as float32).
const std::array<float, 16>& code_book(QuantType type);

// The code bitsandbytes' CUDA kernel (dQuantizeNF4 / dQuantizeFP4) gives a value already multiplied
// by 1/absmax: a decision tree on the midpoints between neighbouring codes, a value exactly on a
// midpoint taking the lower code; NaN (an all-zero block's 0 * inf) gives code 0.
uint8_t quantize_scaled_value(QuantType type, float scaled);

// Quantizes a floating-point CPU matrix [rows, columns] as bitsandbytes' quantize_4bit does. Throws
// Error naming `name` for NaN or infinite values, and for a weight that is not a 2-D float matrix.
QuantizedWeight quantize_4bit(const at::Tensor& weight, QuantType type, int64_t blocksize, const std::string& name);

// Dequantizes to [rows, columns] in `dtype` (each value: code * absmax in fp32, then rounded to dtype).
at::Tensor dequantize_4bit(const QuantizedWeight& weight, at::ScalarType dtype);

// Dequantizes a CPU weight in `dtype` into a blocked layout: value (row, column) at element
// row_offsets[row] + column_offsets[column] of `out` (values as dequantize_4bit gives them; elements
// of `out` no value maps to are left as they are).
void dequantize_4bit_blocked(const QuantizedWeight& weight, at::ScalarType dtype, void* out, const int64_t* row_offsets,
                             const int64_t* column_offsets);

// Values per second-level block of double quantization (bitsandbytes fixes it at 256).
constexpr int64_t kNestedBlocksize = 256;

// bitsandbytes' create_dynamic_map(signed=True) as float32, ascending: for each exponent e = -6..0,
// 2^(e+6) values 10^e * (midpoints of linspace(0.1, 1, 2^(e+6) + 1)) and their negatives, then 0 and 1.
const std::array<float, 256>& dynamic_code_map();

// The index in dynamic_code_map() bitsandbytes' 8-bit kernel (dQuantize) gives a value already
// multiplied by 1/absmax: its binary search compares with the odd entries only and stops at the even
// entry p between the two that bracket the value, then takes p's neighbour on the value's side when the
// value is past their fp32 midpoint. So the nearest entry, a value exactly on a midpoint taking the
// even index of the two; NaN (an all-zero block's 0 * inf) gives 0. (The CUDA kernel, as for the 4-bit
// codes; bitsandbytes' torch fallback for other devices, an argmin of distances, breaks ties low.)
uint8_t quantize_dynamic_value(float scaled);

// Absmax values in 8 bits as bitsandbytes' compress_statistics stores them.
struct NestedAbsmax {
  at::Tensor codes;   // uint8 [n]: indices into dynamic_code_map()
  at::Tensor absmax;  // float32 [ceil(n / kNestedBlocksize)]: the largest |absmax - offset| of each block
  float offset = 0;   // the mean of the absmax values (fp32; torch's CPU mean up to 16384 of them)
};

// Quantizes a float32 CPU vector of absmax values: minus their mean, then bitsandbytes'
// quantize_blockwise with the dynamic map in blocks of kNestedBlocksize (quantize_dynamic_value of
// each value times the fp32 reciprocal of its block's largest magnitude).
NestedAbsmax quantize_nested_absmax(const at::Tensor& absmax);

// The absmax values back in float32: code_map[codes[i]] * nested_absmax[i / nested_blocksize] + offset,
// the product and the sum each rounded to fp32, as bitsandbytes' dequantize_blockwise and its + offset.
at::Tensor dequantize_nested_absmax(const at::Tensor& codes, const at::Tensor& nested_absmax,
                                    const at::Tensor& code_map, int64_t nested_blocksize, float offset);

// bitsandbytes' double quantization (quantize_4bit with compress_statistics=True) of `weight`'s absmax
// values: absmax becomes dequantize_nested_absmax(quantize_nested_absmax(absmax)), double_quant true.
// The 4-bit codes stay: bitsandbytes makes them from the absmax values before compressing those.
void double_quantize_absmax(QuantizedWeight& weight);

// x W^T + bias with W dequantized in x's dtype just for this product (into a buffer reused across
// calls on CPU, so only one layer's weight is ever dense). W is frozen: gradients reach x, which
// the backward pass gets by dequantizing W again instead of keeping it.
at::Tensor quantized_linear(const at::Tensor& x, const QuantizedWeight& weight, const at::Tensor& bias);

}  // namespace qtalign::model
