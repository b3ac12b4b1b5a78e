// QLoRA: LoRA trained on a frozen 4-bit (NF4) base. Training through the quantized weights is
// exactly training on their dequantized values (a plain dense model made from them is the reference),
// and the adapter, a normal PEFT adapter, carries over to the original unquantized weights.
#include <gtest/gtest.h>

#include <cmath>

#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"
#include "train/train_test_support.h"
#include "train/trainer.h"

namespace qtalign::train {
namespace {

constexpr int64_t kVocab = 64;

// Weights at the scale of trained models, so LoRA can move the predictions far.
model::Model scaled_model() {
  model::Model model = model::make_random_model(model::tiny_qwen2_config(kVocab), 3);
  model.embed_tokens = model.embed_tokens * 50.0;
  model.lm_head = model.embed_tokens;
  model::for_each_linear(model, [](const std::string&, model::Linear& linear) {
    linear.weight = linear.weight * (1.0 / std::sqrt(double(linear.weight.size(1))) / 0.02);
  });
  return model;
}

// Prompts of 6 tokens whose targets (6 more) follow a rule the adapter can learn.
std::vector<TokenizedExample> examples() {
  std::vector<TokenizedExample> result;
  for (int64_t k = 0; k < 16; ++k) {
    TokenizedExample example;
    for (int64_t j = 0; j < 12; ++j) example.input_ids.push_back((k * 7 + (j < 6 ? j * 3 : 60 - j * 5)) % kVocab);
    example.prompt_length = 6;
    result.push_back(std::move(example));
  }
  return result;
}

at::Tensor logits_of(const model::Model& model) {
  const at::Tensor ids = at::arange(5, 5 + 2 * 12, at::kLong).remainder(kVocab).view({2, 12});
  return model::logits(model, model::forward(model, {ids, at::Tensor(), nullptr}).final_hidden);
}

TrainingSettings settings() {
  TrainingSettings options;
  options.lora_targets = model::parse_lora_targets("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
  options.lora_dropout = 0.0;
  options.epochs = 4;
  options.micro_batch = 4;
  options.grad_accum = 1;
  options.lr = 1e-2;
  options.eval_every = 0;
  options.save_every = 0;
  return options;
}

double max_difference(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(QLoRA, TrainsOnTheFrozen4BitBaseAndCarriesOverToTheOriginalWeights) {
  testing::TempDir dir;
  model::save_model(scaled_model(), dir / "base", at::kFloat);
  model::LoadOptions nf4;
  nf4.quantization.type = model::QuantType::nf4;
  model::Model quantized = model::load_model(dir / "base", nf4);
  model::Model original = model::load_model(dir / "base");
  const at::Tensor quantized_logits = logits_of(quantized), original_logits = logits_of(original);
  const double quantization_error = max_difference(quantized_logits, original_logits);

  distributed::ProcessGroup single;
  const TrainingSummary summary = train_lora(quantized, settings(), examples(), {}, testing::quiet(dir / "qlora"), single);
  EXPECT_LT(summary.last_loss, 0.8 * summary.first_loss);

  // The reference: the same training on a dense model holding the dequantized weights.
  model::Model dense = model::load_model(dir / "base", nf4);
  model::for_each_linear(dense, [](const std::string&, model::Linear& linear) {
    linear.weight = model::dequantize_4bit(*linear.quantized, at::kFloat);
    linear.quantized.reset();
  });
  dense.quantization = {};
  train_lora(dense, settings(), examples(), {}, testing::quiet(dir / "reference"), single);
  const auto ours = io::SafetensorsFile::open(dir / "qlora" / "adapter_model.safetensors");
  const auto reference = io::SafetensorsFile::open(dir / "reference" / "adapter_model.safetensors");
  ASSERT_EQ(ours->header().tensors.size(), reference->header().tensors.size());
  for (const auto& record : ours->header().tensors)
    EXPECT_LE(max_difference(ours->tensor(record.name), reference->tensor(record.name)), 1e-5) << record.name;

  // The adapter on the original weights computes what it computes on the 4-bit base, up to the
  // quantization error, while it moves the logits by much more than that.
  model::load_lora_adapter(original, dir / "qlora");
  const at::Tensor adapted_quantized = logits_of(quantized), adapted_original = logits_of(original);
  const double carried_over = max_difference(adapted_quantized, adapted_original);
  const double moved = max_difference(adapted_original, original_logits);
  std::cout << "[qlora] quantization error " << quantization_error << ", with the adapter " << carried_over
            << ", the adapter's own effect " << moved << "\n";
  EXPECT_LE(carried_over, 2 * quantization_error);
  EXPECT_GT(moved, 2 * quantization_error);
}

}  // namespace
}  // namespace qtalign::train
