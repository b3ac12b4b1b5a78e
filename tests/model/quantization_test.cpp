// 4-bit quantization against bitsandbytes' algorithm: codes worked out by hand from its decision
// thresholds and packing order, the dequantization error bound, and gradients through the frozen weight;
// double quantization: the 8-bit dynamic map's entries, its kernel's choice on and off midpoints, the
// nested absmax codes of hand-made vectors, and the error it adds to plain 4-bit weights.
#include "model/quantization.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iostream>
#include <limits>
#include <vector>

#include "io/error.h"
#include "model/cpu_dispatch.h"
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
float below(float x) { return std::nextafter(x, -std::numeric_limits<float>::infinity()); }

at::Tensor absmax_vector(const std::vector<float>& values) { return at::tensor(at::ArrayRef<float>(values)); }

std::vector<int> nested_codes(const NestedAbsmax& nested) {
  std::vector<int> codes;
  for (int64_t i = 0; i < nested.codes.numel(); ++i) codes.push_back(nested.codes[i].item<uint8_t>());
  return codes;
}

at::Tensor dynamic_map_tensor() {
  const std::array<float, 256>& map = dynamic_code_map();
  return at::tensor(at::ArrayRef<float>(map.data(), map.size()));
}

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

// The instruction sets this CPU can run the dequantization kernels with.
std::vector<InstructionSet> runnable_instruction_sets() {
  std::vector<InstructionSet> sets;
  for (const InstructionSet set : {InstructionSet::baseline, InstructionSet::avx2, InstructionSet::avx512})
    if (set <= supported_instruction_set()) sets.push_back(set);
  return sets;
}

// The weight's values [rows * columns] in `dtype` by tensor operations, independently of the kernels:
// each nibble's code value times its block's absmax in fp32, then rounded once.
at::Tensor expected_values(const QuantizedWeight& weight, at::ScalarType dtype) {
  const auto& book = code_book(weight.type);
  const at::Tensor table = at::tensor(at::ArrayRef<float>(book.data(), book.size()));
  const at::Tensor nibbles = at::stack({weight.codes.bitwise_right_shift(4), weight.codes.bitwise_and(0x0F)}, 1)
                                 .flatten()
                                 .narrow(0, 0, weight.numel())
                                 .to(at::kLong);
  const at::Tensor scales = weight.absmax.repeat_interleave(weight.blocksize).narrow(0, 0, weight.numel());
  return (table.index_select(0, nibbles) * scales).to(dtype);
}

// The bits of a bf16 or fp32 tensor, so that -0 and 0 differ.
at::Tensor bits_of(const at::Tensor& values) {
  return values.contiguous().view(values.scalar_type() == at::kFloat ? at::kInt : at::kShort);
}

// Weights of both types, with and without double quantization: a partial last block (300 x 270, blocks
// straddling rows), rows of whole blocks but no multiple of 16 of them (300 x 256), and a 0.5B-like
// shape (512 x 1024); blocksizes 32 (a block is one 16-byte step of the vector kernels) and 64.
std::vector<QuantizedWeight> weights_to_dequantize() {
  std::vector<QuantizedWeight> weights;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  for (const auto& [rows, columns, blocksize] :
       std::vector<std::array<int64_t, 3>>{{300, 270, 64}, {300, 256, 32}, {512, 1024, 64}})
    for (const QuantType type : {QuantType::nf4, QuantType::fp4})
      for (const bool double_quant : {false, true}) {
        const at::Tensor weight = at::empty({rows, columns}, at::kFloat).normal_(0.0, 0.05, generator);
        QuantizedWeight quantized = quantize_4bit(weight, type, blocksize, "w");
        if (double_quant) double_quantize_absmax(quantized);
        weights.push_back(quantized);
      }
  return weights;
}

std::string describe(const QuantizedWeight& weight, at::ScalarType dtype, InstructionSet set) {
  return fmt::format("{} x {} {} blocksize {}{} in {}, instruction set {}", weight.rows, weight.columns,
                     quant_type_name(weight.type), weight.blocksize, weight.double_quant ? " double quant" : "",
                     c10::toString(dtype), instruction_set_name(set));
}

TEST(Quantization, DequantizesBitForBitOnEveryInstructionSet) {
  const std::vector<QuantizedWeight> weights = weights_to_dequantize();
  for (const InstructionSet set : runnable_instruction_sets()) {
    const ForcedInstructionSet forced(set);
    for (const QuantizedWeight& weight : weights)
      for (const at::ScalarType dtype : {at::kBFloat16, at::kFloat}) {
        const at::Tensor values = dequantize_4bit(weight, dtype);
        ASSERT_EQ(values.sizes(), (std::vector<int64_t>{weight.rows, weight.columns}));
        EXPECT_TRUE(at::equal(bits_of(values).flatten(), bits_of(expected_values(weight, dtype))))
            << describe(weight, dtype, set);
      }
  }
}

// Element offsets of oneDNN's bf16 weight layout BA16a64b2a for W^T [in, out] (row = out feature,
// column = in feature): blocks of 32 columns x `rows_per_block` rows, inside a block 16 column pairs
// one after another, each pair's rows side by side. rows_per_block 64 is the layout oneDNN picks on
// AVX-512 CPUs; 8 puts fewer than 16 rows side by side, which the vector kernel must leave alone.
struct BlockedLayout {
  std::vector<int64_t> row_offsets, column_offsets;
  int64_t size = 0;
};

BlockedLayout pairs_layout(int64_t rows, int64_t columns, int64_t rows_per_block) {
  const int64_t column_blocks = (columns + 31) / 32, block = 32 * rows_per_block;
  BlockedLayout layout;
  for (int64_t row = 0; row < rows; ++row)
    layout.row_offsets.push_back(row / rows_per_block * column_blocks * block + row % rows_per_block * 2);
  for (int64_t column = 0; column < columns; ++column)
    layout.column_offsets.push_back(column / 32 * block + column % 32 / 2 * rows_per_block * 2 + column % 2);
  layout.size = (rows + rows_per_block - 1) / rows_per_block * column_blocks * block;
  return layout;
}

TEST(Quantization, DequantizesIntoBlockedLayoutsBitForBitOnEveryInstructionSet) {
  const std::vector<QuantizedWeight> weights = weights_to_dequantize();
  constexpr int16_t kUntouched = 0x5A5A;
  for (const InstructionSet set : runnable_instruction_sets()) {
    const ForcedInstructionSet forced(set);
    for (const QuantizedWeight& weight : weights)
      for (const int64_t rows_per_block : {64, 8}) {
        const BlockedLayout layout = pairs_layout(weight.rows, weight.columns, rows_per_block);
        at::Tensor out = at::full({layout.size}, kUntouched, at::kShort);
        dequantize_4bit_blocked(weight, at::kBFloat16, out.data_ptr(), layout.row_offsets.data(),
                                layout.column_offsets.data());
        at::Tensor expected = at::full({layout.size}, kUntouched, at::kShort);
        const at::Tensor values = bits_of(expected_values(weight, at::kBFloat16));
        const int16_t* value = values.data_ptr<int16_t>();
        for (int64_t row = 0; row < weight.rows; ++row)
          for (int64_t column = 0; column < weight.columns; ++column)
            expected.data_ptr<int16_t>()[layout.row_offsets[row] + layout.column_offsets[column]] =
                value[row * weight.columns + column];
        EXPECT_TRUE(at::equal(out, expected))
            << describe(weight, at::kBFloat16, set) << ", " << rows_per_block << " rows a block";
      }
  }
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

TEST(DoubleQuantization, DynamicMapEntries) {
  // create_dynamic_map(signed=True): for e = -6..0, 2^(e+6) bins of linspace(0.1, 1) scaled by 10^e, their
  // midpoints and negatives (127 each), then 0 and 1; sorted, 0 lands at 127 and 1 at 255.
  const std::array<float, 256>& map = dynamic_code_map();
  for (size_t i = 1; i < 256; ++i) EXPECT_LT(map[i - 1], map[i]) << i;
  EXPECT_EQ(map[127], 0.0f);
  EXPECT_EQ(map[255], 1.0f);
  for (size_t i = 0; i < 127; ++i) EXPECT_EQ(map[i], -map[254 - i]) << i;
  // Worked out in decimal; the map's float32 arithmetic (linspace, midpoint, scale) is off by a few ulp.
  const auto expect_entry = [&](size_t i, double expected) {
    EXPECT_NEAR(map[i], expected, 1e-6 * std::fabs(expected)) << "entry " << i;
  };
  expect_entry(128, 1e-6 * 0.55);                        // e = -6: one bin, the midpoint of 0.1 and 1
  expect_entry(129, 1e-5 * 0.325);                       // e = -5: bins 0.1-0.55 and 0.55-1
  expect_entry(130, 1e-5 * 0.775);
  expect_entry(190, 0.1 * (0.1 + 0.9 * 31.5 / 32));      // the last of e = -1's 32
  expect_entry(191, 0.1 + 0.9 * 0.5 / 64);               // e = 0: 64 bins of width 0.0140625 from 0.1
  expect_entry(219, 0.50078125);                         // 0.1 + 0.0140625 * 28.5
  expect_entry(254, 0.99296875);                         // 0.1 + 0.0140625 * 63.5
  expect_entry(0, -0.99296875);
}

TEST(DoubleQuantization, KernelChoiceOnAndBetweenEntries) {
  const std::array<float, 256>& map = dynamic_code_map();
  for (int i = 0; i < 256; ++i) EXPECT_EQ(quantize_dynamic_value(map[i]), i) << i;
  // fp32 midpoints that happen to be short binary fractions, between an even and an odd index and
  // between an odd and an even one: on the midpoint the even index wins, one float off it the nearer.
  ASSERT_EQ((map[214] + map[215]) * 0.5f, 0.4375f);
  ASSERT_EQ((map[219] + map[220]) * 0.5f, 0.5078125f);
  EXPECT_EQ(quantize_dynamic_value(0.4375f), 214);
  EXPECT_EQ(quantize_dynamic_value(above(0.4375f)), 215);
  EXPECT_EQ(quantize_dynamic_value(0.5078125f), 220);
  EXPECT_EQ(quantize_dynamic_value(below(0.5078125f)), 219);
  // Mirrored: -0.4375 lies between 39 and 40, -0.5078125 between 34 and 35.
  EXPECT_EQ(quantize_dynamic_value(-0.4375f), 40);
  EXPECT_EQ(quantize_dynamic_value(below(-0.4375f)), 39);
  EXPECT_EQ(quantize_dynamic_value(-0.5078125f), 34);
  EXPECT_EQ(quantize_dynamic_value(above(-0.5078125f)), 35);
  // Past the ends (the map has no -1) and NaN.
  EXPECT_EQ(quantize_dynamic_value(-1.0f), 0);
  EXPECT_EQ(quantize_dynamic_value(1.0f), 255);
  EXPECT_EQ(quantize_dynamic_value(std::nanf("")), 0);
  // Off the midpoints the choice is the nearest entry, checked in double precision over a sweep.
  for (int step = -20000; step <= 20000; ++step) {
    const float x = static_cast<float>(step) / 20000.0f;
    const int code = quantize_dynamic_value(x);
    int nearest = 0;
    for (int i = 1; i < 256; ++i)
      if (std::fabs(double(x) - map[i]) < std::fabs(double(x) - map[nearest])) nearest = i;
    if (code != nearest) {
      const float midpoint = (map[code] + map[nearest]) * 0.5f;
      EXPECT_LE(std::fabs(x - midpoint), std::fabs(above(midpoint) - midpoint)) << x << " " << code << " " << nearest;
    }
  }
}

TEST(DoubleQuantization, NestedAbsmaxOfAHandMadeVector) {
  // Mean exactly 1 (the sum, 9, is exact in any order), so the centred values are exact: 1, -1, +-0.4375
  // and +-0.5078125 (midpoints, see above), +-0.5 and 0. Their largest magnitude is 1: scaled as they are.
  const std::vector<float> absmax = {2.0f, 0.0f, 1.4375f, 0.5625f, 1.5078125f, 0.4921875f, 1.5f, 0.5f, 1.0f};
  const NestedAbsmax nested = quantize_nested_absmax(absmax_vector(absmax));
  EXPECT_EQ(nested.offset, 1.0f);
  ASSERT_EQ(nested.absmax.numel(), 1);
  EXPECT_EQ(nested.absmax[0].item<float>(), 1.0f);
  // 0.5 is nearest 0.50078125 (219), -0.5 its mirror (35), 0 the entry 0 (127).
  EXPECT_EQ(nested_codes(nested), (std::vector<int>{255, 0, 214, 40, 220, 34, 219, 35, 127}));
  const at::Tensor restored =
      dequantize_nested_absmax(nested.codes, nested.absmax, dynamic_map_tensor(), kNestedBlocksize, nested.offset);
  const std::array<float, 256>& map = dynamic_code_map();
  const std::vector<int> codes = nested_codes(nested);
  for (size_t i = 0; i < absmax.size(); ++i) EXPECT_EQ(restored[i].item<float>(), map[codes[i]] * 1.0f + 1.0f) << i;
  EXPECT_EQ(restored[0].item<float>(), 2.0f);
  EXPECT_EQ(restored[8].item<float>(), 1.0f);
}

TEST(DoubleQuantization, PartialLastBlockAndABlockAtTheMean) {
  // 256 values alternating 1.5 and 0.5, then a partial block of 5: mean 261 / 261 = 1. The first block's
  // largest |centred| is 0.5, the last's 0.25, so the scaled values are +-1, and 1, -1, 0, 0.5, -0.5.
  std::vector<float> absmax;
  for (int i = 0; i < 256; ++i) absmax.push_back(i % 2 == 0 ? 1.5f : 0.5f);
  for (const float value : {1.25f, 0.75f, 1.0f, 1.125f, 0.875f}) absmax.push_back(value);
  const NestedAbsmax nested = quantize_nested_absmax(absmax_vector(absmax));
  EXPECT_EQ(nested.offset, 1.0f);
  ASSERT_EQ(nested.absmax.numel(), 2);
  EXPECT_EQ(nested.absmax[0].item<float>(), 0.5f);
  EXPECT_EQ(nested.absmax[1].item<float>(), 0.25f);
  const std::vector<int> codes = nested_codes(nested);
  ASSERT_EQ(codes.size(), 261u);
  for (size_t i = 0; i < 256; ++i) EXPECT_EQ(codes[i], i % 2 == 0 ? 255 : 0) << i;
  EXPECT_EQ(std::vector<int>(codes.begin() + 256, codes.end()), (std::vector<int>{255, 0, 127, 219, 35}));
  const at::Tensor restored =
      dequantize_nested_absmax(nested.codes, nested.absmax, dynamic_map_tensor(), kNestedBlocksize, nested.offset);
  const std::array<float, 256>& map = dynamic_code_map();
  EXPECT_EQ(restored[0].item<float>(), 1.5f);
  EXPECT_EQ(restored[1].item<float>(), map[0] * 0.5f + 1.0f);
  EXPECT_EQ(restored[256].item<float>(), 1.25f);
  EXPECT_EQ(restored[259].item<float>(), map[219] * 0.25f + 1.0f);

  // Values all equal to their mean: the block's largest |centred| is 0, 0 * inf is NaN, code 0, and
  // dequantizing gives 0 * map[0] + offset, the values exactly.
  const NestedAbsmax flat = quantize_nested_absmax(absmax_vector({0.75f, 0.75f, 0.75f}));
  EXPECT_EQ(flat.absmax[0].item<float>(), 0.0f);
  EXPECT_EQ(nested_codes(flat), (std::vector<int>{0, 0, 0}));
  EXPECT_TRUE(at::equal(dequantize_nested_absmax(flat.codes, flat.absmax, dynamic_map_tensor(), kNestedBlocksize,
                                                 flat.offset),
                        absmax_vector({0.75f, 0.75f, 0.75f})));
}

TEST(DoubleQuantization, ErrorBoundedAgainstPlainNf4) {
  const std::array<float, 256>& map = dynamic_code_map();
  float widest = 0.0f;
  for (size_t i = 1; i < 256; ++i) widest = std::max(widest, map[i] - map[i - 1]);
  // Past the ends: values in [-1, map[0]] go to map[0].
  widest = std::max(widest, 2 * (1.0f + map[0]));
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor weight = at::empty({96, 400}, at::kFloat).normal_(0.0, 0.02, generator);
  const QuantizedWeight plain = quantize_4bit(weight, QuantType::nf4, 64, "w");
  QuantizedWeight doubled = quantize_4bit(weight, QuantType::nf4, 64, "w");
  double_quantize_absmax(doubled);
  EXPECT_TRUE(doubled.double_quant);
  EXPECT_TRUE(at::equal(doubled.codes, plain.codes));
  ASSERT_EQ(doubled.absmax.numel(), 600);  // three nested blocks, the last partial (88)

  // Each absmax within half the widest gap of the map times its nested block's scale (plus the
  // rounding of the offset's addition).
  const NestedAbsmax nested = quantize_nested_absmax(plain.absmax);
  const at::Tensor absmax_error = (doubled.absmax - plain.absmax).abs();
  for (int64_t i = 0; i < absmax_error.numel(); ++i) {
    const float bound = 0.5f * widest * nested.absmax[i / kNestedBlocksize].item<float>() + 1e-7f;
    EXPECT_LE(absmax_error[i].item<float>(), bound) << i;
  }
  // A weight's error grows by at most its block's absmax error (|code| <= 1), and on average hardly.
  const at::Tensor plain_error = (dequantize_4bit(plain, at::kFloat) - weight).abs().flatten();
  const at::Tensor doubled_error = (dequantize_4bit(doubled, at::kFloat) - weight).abs().flatten();
  const at::Tensor per_value_bound = plain_error + absmax_error.repeat_interleave(64) + 1e-7;
  EXPECT_TRUE((doubled_error <= per_value_bound).all().item<bool>());
  const double plain_mean = plain_error.mean().item<double>(), doubled_mean = doubled_error.mean().item<double>();
  std::cout << "[double quant] mean |error| " << doubled_mean << " vs plain nf4 " << plain_mean << "\n";
  EXPECT_LE(doubled_mean, 1.01 * plain_mean);
}

TEST(DoubleQuantization, NestedAbsmaxDoesNotDependOnTheThreadCount) {
  // 100000 absmax values: more than one thread would sum them in torch's own mean.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(13);
  const at::Tensor absmax = at::empty({100000}, at::kFloat).uniform_(0.01, 0.2, generator);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const NestedAbsmax one = quantize_nested_absmax(absmax);
  at::set_num_threads(4);
  const NestedAbsmax four = quantize_nested_absmax(absmax);
  at::set_num_threads(threads);
  EXPECT_EQ(one.offset, four.offset);
  EXPECT_TRUE(at::equal(one.codes, four.codes));
  EXPECT_NEAR(one.offset, absmax.to(at::kDouble).mean().item<double>(), 1e-6);
}

}  // namespace
}  // namespace qtalign::model
