// 4-bit quantization against bitsandbytes' algorithm: codes worked out by hand from its decision
// thresholds and packing order, the dequantization error bound, and gradients through the frozen weight.
#include "model/quantization.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

// A [1, n] weight from values.
at::Tensor row(const std::vector<float>& values) {
  return at::tensor(at::ArrayRef<float>(values)).view({1, static_cast<int64_t>(values.size())});
}

std::vector<int> codes_of(const QuantizedWeight& weight) {
  std::vector<int> codes;
  const at::Tensor bytes = weight.codes;
  for (int64_t i = 0; i < weight.numel(); ++i) {
    const int byte = bytes[i / 2].item<uint8_t>();
    codes.push_back(i % 2 == 0 ? byte >> 4 : byte & 0x0F);
  }
  return codes;
}

float above(float x) { return std::nextafter(x, std::numeric_limits<float>::infinity()); }

TEST(Quantization, Nf4CodesOnThresholdsAndCodeValues) {
  // absmax 1 (the reciprocal is exactly 1), so each value is compared with the thresholds as it is.
  // Values exactly on a threshold take the lower code; the next float up takes the upper one.
  std::vector<float> values = {1.0f, -1.0f, 0.0f, 0.03979014977812767f, above(0.03979014977812767f),
                               -0.045525018125772476f, above(-0.045525018125772476f), 0.8614784181118011f,
                               above(0.8614784181118011f), -0.8480964004993439f, above(-0.8480964004993439f),
                               0.5f, -0.5f, 0.07958029955625534f, -0.6961928009986877f, 0.2f};
  const std::vector<int> expected = {15, 0, 7, 7, 8, 6, 7, 14, 15, 0, 1, 12, 2, 8, 1, 9};
  values.resize(64, 0.0f);  // one full block; the zeros get 0's code, 7
  const QuantizedWeight quantized = quantize_4bit(row(values), QuantType::nf4, 64, "w");
  const std::vector<int> codes = codes_of(quantized);
  EXPECT_EQ(std::vector<int>(codes.begin(), codes.begin() + 16), expected);
  for (size_t i = 16; i < 64; ++i) EXPECT_EQ(codes[i], 7) << i;
  EXPECT_EQ(quantized.absmax.item<float>(), 1.0f);
  // Packing: the first value in the high nibble.
  EXPECT_EQ(quantized.codes[0].item<uint8_t>(), 0xF0);
  EXPECT_EQ(quantized.codes[1].item<uint8_t>(), 0x77);
  EXPECT_EQ(quantized.codes[2].item<uint8_t>(), 0x86);
}

TEST(Quantization, Nf4ScalesByTheReciprocalOfAbsmax) {
  // absmax 3: the kernel multiplies by 1/3 in fp32 (0.333333343...), so 3 * (1/3) rounds to 1
  // (code 15) and 1 * (1/3) = 0.33333334 lies between the thresholds 0.2920 and 0.3893: code 11.
  std::vector<float> values = {3.0f, 1.0f, -3.0f, -1.5f, 0.5f};
  values.resize(64, 0.0f);
  const QuantizedWeight quantized = quantize_4bit(row(values), QuantType::nf4, 64, "w");
  const std::vector<int> codes = codes_of(quantized);
  // -1.5/3 = -0.5: between -0.4600 and -0.6106 -> code 2; 0.5/3 = 0.1667: between 0.1203 and 0.2035 -> 9.
  EXPECT_EQ(std::vector<int>(codes.begin(), codes.begin() + 5), (std::vector<int>{15, 11, 0, 2, 9}));
  EXPECT_EQ(quantized.absmax.item<float>(), 3.0f);
  const at::Tensor dequantized = dequantize_4bit(quantized, at::kFloat);
  EXPECT_EQ(dequantized[0][1].item<float>(), 0.33791524171829224f * 3.0f);
  EXPECT_EQ(dequantized[0][3].item<float>(), -0.5250730514526367f * 3.0f);
}

TEST(Quantization, AllZeroBlockAndPartialLastBlock) {
  // 64 zeros (absmax 0: 0 * inf = NaN, every comparison false, code 0), then a partial block of 5
  // values whose absmax is 2: an odd count, so the last low nibble holds 0's code (7).
  std::vector<float> values(64, 0.0f);
  for (const float value : {2.0f, -1.0f, 0.25f, 0.0f, -2.0f}) values.push_back(value);
  const QuantizedWeight quantized = quantize_4bit(row(values), QuantType::nf4, 64, "w");
  ASSERT_EQ(quantized.codes.numel(), 35);
  ASSERT_EQ(quantized.absmax.numel(), 2);
  EXPECT_EQ(quantized.absmax[0].item<float>(), 0.0f);
  EXPECT_EQ(quantized.absmax[1].item<float>(), 2.0f);
  const std::vector<int> codes = codes_of(quantized);
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(codes[i], 0) << i;
  // 1, -0.5, 0.125, 0, -1
  EXPECT_EQ(std::vector<int>(codes.begin() + 64, codes.end()), (std::vector<int>{15, 2, 9, 7, 0}));
  EXPECT_EQ(quantized.codes[34].item<uint8_t>(), 0x07);
  const at::Tensor dequantized = dequantize_4bit(quantized, at::kFloat);
  EXPECT_TRUE(at::equal(dequantized.narrow(1, 0, 64).abs(), at::zeros({1, 64})));
  EXPECT_EQ(dequantized[0][65].item<float>(), -0.5250730514526367f * 2.0f);
  EXPECT_EQ(dequantized[0][68].item<float>(), -2.0f);
}

TEST(Quantization, Fp4CodesSignBitAndThresholds) {
  // Sign in bit 3 (x < 0 only); magnitudes 0, 1/192, 1/6, 1/4, 1/3, 1/2, 2/3, 1 coded 0,1,6,7,4,5,2,3.
  std::vector<float> values = {1.0f,        -1.0f,         0.5f,        -0.0f,       0.00260417f,
                               above(0.00260417f), 0.29166667f, above(0.29166667f), -0.7f, 0.1f};
  values.resize(64, 0.0f);
  const QuantizedWeight quantized = quantize_4bit(row(values), QuantType::fp4, 64, "w");
  const std::vector<int> codes = codes_of(quantized);
  EXPECT_EQ(std::vector<int>(codes.begin(), codes.begin() + 10), (std::vector<int>{3, 11, 5, 0, 0, 1, 7, 4, 10, 6}));
  const at::Tensor dequantized = dequantize_4bit(quantized, at::kFloat);
  EXPECT_EQ(dequantized[0][8].item<float>(), -8.0f / 12);
  EXPECT_EQ(dequantized[0][9].item<float>(), 2.0f / 12);
}

TEST(Quantization, RefusesNonFiniteWeightsByName) {
  for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    std::vector<float> values(128, 0.1f);
    values[77] = bad;
    const std::string message =
        testing::error_of([&] { quantize_4bit(row(values), QuantType::nf4, 64, "model.layers.3.mlp.up_proj.weight"); });
    EXPECT_NE(message.find("'model.layers.3.mlp.up_proj.weight'"), std::string::npos) << message;
    EXPECT_NE(message.find("NaN or infinite"), std::string::npos) << message;
  }
  EXPECT_NE(testing::error_of([] { quantize_4bit(row({1.0f, 2.0f}), QuantType::nf4, 48, "w"); }).find("block size 48"),
            std::string::npos);
}

TEST(Quantization, DequantizationErrorWithinHalfTheWidestGap) {
  for (const QuantType type : {QuantType::nf4, QuantType::fp4}) {
    const auto& book = code_book(type);
    std::vector<float> sorted(book.begin(), book.end());
    std::sort(sorted.begin(), sorted.end());
    float widest = 0.0f;
    for (size_t i = 1; i < sorted.size(); ++i) widest = std::max(widest, sorted[i] - sorted[i - 1]);
    for (const int64_t blocksize : {64, 256}) {
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
      at::Tensor weight = at::empty({48, 200}, at::kFloat).normal_(0.0, 0.02, generator);
      weight[5][17] = 0.9;  // an outlier: its block's codes become coarse
      const QuantizedWeight quantized = quantize_4bit(weight, type, blocksize, "w");
      const at::Tensor error = (dequantize_4bit(quantized, at::kFloat) - weight).abs().flatten();
      const int64_t blocks = quantized.absmax.numel();
      for (int64_t block = 0; block < blocks; ++block) {
        const int64_t begin = block * blocksize, length = std::min(blocksize, weight.numel() - begin);
        const float bound = 0.5f * widest * quantized.absmax[block].item<float>();
        EXPECT_LE(error.narrow(0, begin, length).max().item<float>(), bound * (1 + 1e-6f))
            << quant_type_name(type) << " blocksize " << blocksize << " block " << block;
      }
    }
  }
}

TEST(Quantization, DequantizesInTheComputeDtype) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor weight = at::empty({16, 96}, at::kFloat).normal_(0.0, 0.05, generator).to(at::kBFloat16);
  const QuantizedWeight quantized = quantize_4bit(weight, QuantType::nf4, 64, "w");
  // bf16 output is the fp32 product rounded once.
  EXPECT_TRUE(at::equal(dequantize_4bit(quantized, at::kBFloat16), dequantize_4bit(quantized, at::kFloat).to(at::kBFloat16)));
}

TEST(Quantization, LinearAndItsInputGradientMatchTheDequantizedWeight) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor weight = at::empty({24, 64}, at::kFloat).normal_(0.0, 0.05, generator);
  const at::Tensor bias = at::empty({24}, at::kFloat).normal_(0.0, 0.05, generator);
  const QuantizedWeight quantized = quantize_4bit(weight, QuantType::nf4, 64, "w");
  const at::Tensor dense = dequantize_4bit(quantized, at::kFloat);
  const at::Tensor input = at::empty({3, 5, 64}, at::kFloat).normal_(0.0, 1.0, generator);

  const at::Tensor x1 = input.clone().requires_grad_(true);
  const at::Tensor y1 = quantized_linear(x1, quantized, bias);
  (y1 * y1).sum().backward();
  const at::Tensor x2 = input.clone().requires_grad_(true);
  const at::Tensor y2 = at::linear(x2, dense, bias);
  (y2 * y2).sum().backward();
  EXPECT_LE((y1 - y2).abs().max().item<float>(), 1e-6);
  EXPECT_LE((x1.grad() - x2.grad()).abs().max().item<float>(), 1e-5);
}

}  // namespace
}  // namespace qtalign::model
