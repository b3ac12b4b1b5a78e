// Packed linear layers against at::linear on the same operands (dense, and 4-bit against its
// dequantized weight), for row counts that are and are not multiples of oneDNN's blocks and a layer
// shape its blocks pad; when a packed layer stands in for its layer; and a wide model's inference
// pass with packed weights against the same model unpacked.
#include "model/packed_linear.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "model/cpu_dispatch.h"
#include "model/dense_linear.h"
#include "model/lora.h"
#include "model/quantization.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

using testing::relative_difference;

// One rounding of the output to fp32 or to bf16 (8 bits of mantissa) apart, with the sums' order.
double tolerance(at::ScalarType dtype) { return dtype == at::kFloat ? 1e-5 : 1.0 / 128; }

// 300 outputs and 270 inputs: neither a multiple of oneDNN's 16, 32 or 64 blocks, so the packed
// layout pads, and 64-value 4-bit blocks straddle the weight's rows.
constexpr int64_t kOut = 300, kIn = 270;

class PackedLinearTest : public ::testing::TestWithParam<at::ScalarType> {};

INSTANTIATE_TEST_SUITE_P(Dtypes, PackedLinearTest, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

TEST_P(PackedLinearTest, EqualsLinearForRaggedRowCountsWithAndWithoutBias) {
  const at::ScalarType dtype = GetParam();
  at::manual_seed(1);
  const at::Tensor weight = at::randn({kOut, kIn}).to(dtype);
  const at::Tensor bias = at::randn({kOut}).to(dtype);
  const c10::InferenceMode inference;
  for (const bool with_bias : {false, true}) {
    const at::Tensor b = with_bias ? bias : at::Tensor();
    const PackedLinear packed(weight, b);
    for (const int64_t rows : {1, 7, 100, 513}) {
      const at::Tensor x = at::randn({rows, 1, kIn}).to(dtype);
      const at::Tensor y = packed.forward(x);
      ASSERT_EQ(y.sizes(), (std::vector<int64_t>{rows, 1, kOut}));
      EXPECT_EQ(y.scalar_type(), dtype);
      EXPECT_LE(relative_difference(y, at::linear(x, weight, b)), tolerance(dtype))
          << rows << " rows, bias " << with_bias;
    }
  }
}

TEST_P(PackedLinearTest, FourBitEqualsLinearOnTheDequantizedWeight) {
  const at::ScalarType dtype = GetParam();
  at::manual_seed(2);
  const auto quantized =
      std::make_shared<const QuantizedWeight>(quantize_4bit(at::randn({kOut, kIn}), QuantType::nf4, 64, "w"));
  const at::Tensor dense = dequantize_4bit(*quantized, dtype);
  const at::Tensor bias = at::randn({kOut}).to(dtype);
  const c10::InferenceMode inference;
  const PackedLinear packed(quantized, bias, dtype);
  for (const int64_t rows : {1, 7, 100, 513}) {
    const at::Tensor x = at::randn({rows, kIn}).to(dtype);
    EXPECT_LE(relative_difference(packed.forward(x), at::linear(x, dense, bias)), tolerance(dtype)) << rows << " rows";
  }
}

// The layout oneDNN picks on this CPU, filled by dequantizing into it (the vector kernel where it runs:
// bf16 rows of whole blocks; fp32 layouts by the scalar code), against the same layout filled by
// oneDNN's own reorder of the dequantized weight: the products through one primitive are then equal bit
// for bit. Shapes with 12 rows past a multiple of 16 (left to the scalar code) and a 0.5B-like one, on
// every instruction set this CPU runs.
TEST_P(PackedLinearTest, FourBitPackedBitForBitAsItsDequantizedWeightPackedOnEveryInstructionSet) {
  const at::ScalarType dtype = GetParam();
  at::manual_seed(4);
  const c10::InferenceMode inference;
  for (const auto& [out, in] : std::vector<std::pair<int64_t, int64_t>>{{300, 256}, {1024, 512}})
    for (const InstructionSet set : {InstructionSet::baseline, InstructionSet::avx2, InstructionSet::avx512}) {
      if (set > supported_instruction_set()) continue;
      const ForcedInstructionSet forced(set);
      const auto quantized =
          std::make_shared<const QuantizedWeight>(quantize_4bit(at::randn({out, in}), QuantType::nf4, 64, "w"));
      const PackedLinear four_bit(quantized, at::Tensor(), dtype);
      const PackedLinear dense(dequantize_4bit(*quantized, dtype), at::Tensor());
      const at::Tensor x = at::randn({37, in}).to(dtype);
      EXPECT_TRUE(at::equal(four_bit.forward(x), dense.forward(x)))
          << out << " x " << in << ", instruction set " << instruction_set_name(set);
    }
}

TEST(PackedLinear, ServesTheLayerItReleasedTheWeightOfWithoutAGradientToRecord) {
  Linear layer;
  const at::Tensor weight = at::randn({kOut, kIn}).to(at::kBFloat16);
  layer.bias = at::randn({kOut}).to(at::kBFloat16);
  layer.packed = std::make_shared<const PackedLinear>(weight, layer.bias);
  const PackedLinear& packed = *layer.packed;
  EXPECT_EQ(layer.out_features(), kOut);
  EXPECT_EQ(layer.in_features(), kIn);
  EXPECT_TRUE(at::equal(packed.unpacked(), weight)) << "a reorder back loses nothing";
  EXPECT_TRUE(at::equal(plain_weight(layer), weight));
  const at::Tensor x = at::randn({4, kIn}).to(at::kBFloat16);
  {
    const at::NoGradGuard no_gradient;
    EXPECT_TRUE(packed.serves(x, layer));
    EXPECT_FALSE(packed.serves(x.to(at::kFloat), layer)) << "another dtype";
    Linear other = layer;
    other.weight = weight;
    EXPECT_FALSE(packed.serves(x, other)) << "a weight set again";
    other = layer;
    other.bias = at::Tensor();
    EXPECT_FALSE(packed.serves(x, other)) << "the bias dropped";
  }
  EXPECT_TRUE(packed.serves(x, layer)) << "autograd on, but nothing requires a gradient";
  EXPECT_FALSE(packed.serves(x.clone().requires_grad_(), layer)) << "a gradient to record";
  layer.bias.mul_(2);
  EXPECT_FALSE(packed.serves(x, layer)) << "the bias modified in place";
}

// A model wide enough for packing (256 wide, intermediate 512), dense and with 4-bit layers, with a
// padded batch after a cached prefix (the evaluation's case), in both dtypes packing pays for.
TEST_P(PackedLinearTest, AWideModelsPackedInferenceEqualsItsUnpackedInference) {
  const at::ScalarType dtype = GetParam();
  ASSERT_TRUE(packing_pays(dtype));
  ModelConfig config = testing::wide_tiny_qwen2_config(300);
  for (const auto& [four_bit, tied] : {std::pair{false, false}, {false, true}, {true, false}}) {
    config.tie_word_embeddings = tied;
    Model model = make_random_model(config, 7, dtype);
    std::vector<at::Tensor> weights;  // views of the dense weights, packing releases them from the model
    for_each_linear(model, [&](const std::string&, Linear& linear) { weights.push_back(linear.weight); });
    if (four_bit)
      for_each_linear(model, [](const std::string& name, Linear& linear) {
        linear.quantized = std::make_shared<const QuantizedWeight>(quantize_4bit(linear.weight, QuantType::nf4, 64, name));
        linear.weight = at::Tensor();
      });
    const at::Tensor prefix_ids = at::randint(300, {1, 9});
    const at::Tensor ids = at::randint(300, {3, 6});
    at::Tensor mask = at::ones({3, 6}, at::kLong);
    mask.select(0, 1).narrow(0, 0, 2).zero_();  // left padding, as the evaluation batches
    const auto run = [&] {
      const c10::InferenceMode inference;
      ForwardOptions keep_cache;
      keep_cache.return_cache = true;
      const ForwardOutput prefix = forward(model, {prefix_ids, at::Tensor()}, keep_cache);
      const at::Tensor hidden = forward(model, {ids, mask, &prefix.cache}).final_hidden;
      return logits(model, hidden.select(1, 5));
    };
    const at::Tensor unpacked = run();
    pack_for_inference(model);
    // Every layer but the keys' and values' projections (2 KV heads of 64: 128 outputs).
    for_each_linear(model, [](const std::string& name, Linear& linear) {
      EXPECT_EQ(static_cast<bool>(linear.packed), linear.out_features() >= kOneDnnMinimumWidth) << name;
      EXPECT_EQ(linear.weight.defined(), !linear.packed && !linear.quantized) << name << ": released once packed";
    });
    EXPECT_EQ(static_cast<bool>(model.packed_lm_head), !four_bit && !tied)
        << "a 4-bit model keeps one unembedding, a tied one is the embedding";
    EXPECT_EQ(model.lm_head.defined(), !model.packed_lm_head);
    EXPECT_TRUE(model.embed_tokens.defined()) << "tied " << tied;
    // bf16 rounds after every step of 2 layers: a few of its 8-bit steps apart at most; fp32 sums in
    // another order.
    const at::Tensor packed = run();
    EXPECT_LE(relative_difference(packed, unpacked), dtype == at::kFloat ? 1e-4 : 0.05)
        << "4-bit " << four_bit << ", tied " << tied;
    if (four_bit) continue;
    // A pass that records a gradient runs on the weights unpacked again.
    const at::Tensor hidden = at::randn({2, config.hidden_size}).to(dtype);
    const at::Tensor recorded = logits(model, hidden.clone().requires_grad_()).detach();
    EXPECT_LE(relative_difference(recorded, [&] {
                const c10::InferenceMode inference;
                return logits(model, hidden);
              }()),
              tolerance(dtype));
    // Merging an adapter reads the released weights unpacked: B = 0 leaves them exactly as they were.
    LoraConfig lora;
    lora.target_modules = {"q_proj", "up_proj"};
    attach_new_lora(model, lora, 3);
    merge_lora(model);
    size_t index = 0;
    for_each_linear(model, [&](const std::string& name, Linear& linear) {
      const at::Tensor& before = weights[index++];
      if (!lora_targets_module(lora, name)) return;
      EXPECT_FALSE(linear.packed) << name;
      EXPECT_TRUE(at::equal(linear.weight, before)) << name;
    });
  }
}

TEST(PackedLinear, LeavesNarrowModelsAndTheDtypesItDoesNotPayForAsTheyAre) {
  Model tiny = make_random_model(tiny_qwen2_config(300), 7, at::kBFloat16);
  pack_for_inference(tiny);
  for_each_linear(tiny, [](const std::string& name, Linear& linear) { EXPECT_FALSE(linear.packed) << name; });
  EXPECT_FALSE(tiny.packed_lm_head);
  ModelConfig config = tiny_qwen2_config(300);
  config.hidden_size = kOneDnnMinimumWidth;
  config.intermediate_size = 512;
  config.tie_word_embeddings = false;
  EXPECT_TRUE(packing_pays(at::kFloat) && packing_pays(at::kBFloat16));
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    Model model = make_random_model(config, 7, dtype);
    pack_for_inference(model);
    EXPECT_EQ(static_cast<bool>(model.packed_lm_head), packing_pays(dtype)) << c10::toString(dtype);
    for_each_linear(model, [&](const std::string& name, Linear& linear) {
      if (linear.out_features() >= kOneDnnMinimumWidth && linear.in_features() >= kOneDnnMinimumWidth)
        EXPECT_EQ(static_cast<bool>(linear.packed), packing_pays(dtype)) << name << " " << c10::toString(dtype);
    });
  }
  EXPECT_FALSE(packing_pays(at::kHalf));
}

}  // namespace
}  // namespace qtalign::model
