#pragma once
// 4-bit block-wise weights as bitsandbytes makes them (quantize_4bit / dequantize_4bit): the values
// are cut into blocks of `blocksize`, each block is scaled by 1/absmax (its largest |value|) and
// every scaled value becomes the index of the nearest of 16 code values (NF4: normal-float quantiles;
// FP4: bitsandbytes' 4-bit float), two indices a byte. Results match bitsandbytes bit for bit.
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
  // The absmax values were stored 8-bit quantized (bitsandbytes' double quantization, read from a
  // checkpoint); absmax holds them dequantized, as bitsandbytes computes with them.
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

// x W^T + bias with W dequantized in x's dtype just for this product (into a buffer reused across
// calls on CPU, so only one layer's weight is ever dense). W is frozen: gradients reach x, which
// the backward pass gets by dequantizing W again instead of keeping it.
at::Tensor quantized_linear(const at::Tensor& x, const QuantizedWeight& weight, const at::Tensor& bias);

}  // namespace qtalign::model
