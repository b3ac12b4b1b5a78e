#include "train/batching.h"

#include <gtest/gtest.h>

#include <set>

#include "model/lora.h"
#include "model/random_model.h"
#include "model/transformer.h"

namespace qtalign::train {
namespace {

std::vector<TokenizedExample> examples_of_lengths(int64_t count) {
  std::vector<TokenizedExample> examples;
  for (int64_t i = 0; i < count; ++i) {
    TokenizedExample example;
    for (int64_t t = 0; t < 3 + (i * 7) % 11; ++t) example.input_ids.push_back((i + t) % 50);
    example.prompt_length = 2;
    examples.push_back(example);
  }
  return examples;
}

TEST(Batching, EachEpochVisitsEveryExampleOnce) {
  const auto examples = examples_of_lengths(37);
  const BatchLayout layout{37, 2, 3, 1, 5};
  ASSERT_EQ(layout.global_batch(), 6);
  ASSERT_EQ(layout.steps_per_epoch(), 7);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::multiset<int64_t> seen;
    for (int64_t step = epoch * 7; step < (epoch + 1) * 7; ++step) {
      const auto micro_batches = step_micro_batches(layout, examples, step);
      EXPECT_EQ(micro_batches.size(), step % 7 == 6 ? 1u : 3u);
      for (const auto& micro_batch : micro_batches) {
        EXPECT_LE(micro_batch.size(), 2u);
        seen.insert(micro_batch.begin(), micro_batch.end());
      }
    }
    EXPECT_EQ(seen.size(), 37u);
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 37u);
  }
  EXPECT_NE(epoch_order(layout, 0), epoch_order(layout, 1));
  EXPECT_EQ(epoch_order(layout, 1), epoch_order(BatchLayout{37, 4, 1, 1, 5}, 1));
  EXPECT_NE(epoch_order(layout, 0), epoch_order(BatchLayout{37, 2, 3, 1, 6}, 0));
}

TEST(Batching, ProcessesShareOutTheSameMicroBatches) {
  const auto examples = examples_of_lengths(40);
  const BatchLayout one_process{40, 2, 4, 1, 0};
  const BatchLayout two_processes{40, 2, 2, 2, 0};
  for (int64_t step = 0; step < 2 * one_process.steps_per_epoch(); ++step)
    EXPECT_EQ(step_micro_batches(one_process, examples, step), step_micro_batches(two_processes, examples, step));
}

TEST(Batching, GroupsSimilarLengths) {
  const auto examples = examples_of_lengths(24);
  const auto micro_batches = step_micro_batches(BatchLayout{24, 3, 4, 1, 2}, examples, 0);
  for (size_t j = 1; j < micro_batches.size(); ++j)
    EXPECT_GE(examples[micro_batches[j - 1].back()].input_ids.size(), examples[micro_batches[j].front()].input_ids.size());
}

TEST(Batching, CollatesWithRightPaddingAndTargetPositions) {
  std::vector<TokenizedExample> examples(2);
  examples[0].input_ids = {10, 11, 12, 13};
  examples[0].prompt_length = 2;
  examples[1].input_ids = {20, 21, 22};
  examples[1].prompt_length = 1;
  const Batch batch = collate_pass(examples, {{0, 1}}, at::kCPU);
  EXPECT_TRUE(at::equal(batch.input_ids, at::tensor({10, 11, 12, 13, 20, 21, 22, 0}, at::kLong).view({2, 4})));
  EXPECT_TRUE(at::equal(batch.attention_mask, at::tensor({1, 1, 1, 1, 1, 1, 1, 0}, at::kLong).view({2, 4})));
  // Position t predicts token t + 1: row 0 predicts 12, 13 from positions 1, 2; row 1 predicts 21, 22
  // from positions 0, 1 (flat 4, 5).
  EXPECT_TRUE(at::equal(batch.loss_positions, at::tensor({1, 2, 4, 5}, at::kLong)));
  EXPECT_TRUE(at::equal(batch.loss_targets, at::tensor({12, 13, 21, 22}, at::kLong)));
  EXPECT_EQ(batch.tokens, 7);
  EXPECT_EQ(examples[0].target_tokens() + examples[1].target_tokens(), 4);
}

// The summed loss of a padded batch equals the per-example sums of -log p(target) computed on each
// example alone from the full logits.
TEST(Batching, SumsTheCrossEntropyOfTargetTokensOnly) {
  const model::Model model = model::make_random_model(model::tiny_qwen2_config(50), 4);
  const auto examples = examples_of_lengths(5);
  const std::vector<int64_t> indices = {0, 1, 2, 3, 4};
  const Batch batch = collate_pass(examples, {indices}, at::kCPU);
  const double batched = summed_target_loss(model, batch, false).item<double>();
  double expected = 0;
  for (const TokenizedExample& example : examples) {
    const at::Tensor ids = at::tensor(example.input_ids, at::kLong).unsqueeze(0);
    const at::Tensor log_probabilities =
        at::log_softmax(model::logits(model, model::forward(model, {ids}).final_hidden), -1)[0];
    for (size_t t = example.prompt_length; t < example.input_ids.size(); ++t)
      expected -= log_probabilities[t - 1][example.input_ids[t]].item<double>();
  }
  EXPECT_NEAR(batched, expected, 1e-4 * std::abs(expected));
}

// Micro-batches {0, 1} and {2} side by side: each padded to its own longest example, the second's
// columns after the first's, and its loss positions counted in the wider rows.
TEST(Batching, PacksMicroBatchesSideBySideAsBlocks) {
  std::vector<TokenizedExample> examples(3);
  examples[0].input_ids = {10, 11, 12};
  examples[0].prompt_length = 2;
  examples[1].input_ids = {20, 21};
  examples[1].prompt_length = 1;
  examples[2].input_ids = {30, 31, 32, 33};
  examples[2].prompt_length = 3;
  const Batch batch = collate_pass(examples, {{0, 1}, {2}}, at::kCPU);
  EXPECT_EQ(batch.block_lengths, (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(at::equal(batch.input_ids,
                        at::tensor({10, 11, 12, 30, 31, 32, 33, 20, 21, 0, 0, 0, 0, 0}, at::kLong).view({2, 7})));
  EXPECT_TRUE(at::equal(batch.attention_mask,
                        at::tensor({1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, at::kLong).view({2, 7})));
  // Row 0: 12 from column 1; 33 from column 3 + 2 = 5. Row 1: 21 from column 0 (flat 7).
  EXPECT_TRUE(at::equal(batch.loss_positions, at::tensor({1, 7, 5}, at::kLong)));
  EXPECT_TRUE(at::equal(batch.loss_targets, at::tensor({12, 21, 33}, at::kLong)));
  EXPECT_EQ(batch.tokens, 9);
}

// Padded positions per micro-batch (examples x longest) fill passes in order up to the budget.
TEST(Batching, GroupsMicroBatchesIntoPassesUpToTheBudget) {
  const auto examples = examples_of_lengths(8);  // lengths 3, 10, 6, 13, 9, 5, 12, 8
  const std::vector<std::vector<int64_t>> micro_batches = {{3, 6}, {1, 4}, {7, 2}, {5, 0}};  // 26, 20, 16, 10
  EXPECT_EQ(group_passes(micro_batches, {0, 1, 2, 3}, examples, 46),
            (std::vector<std::vector<size_t>>{{0, 1}, {2, 3}}));
  EXPECT_EQ(group_passes(micro_batches, {0, 1, 2, 3}, examples, 45),
            (std::vector<std::vector<size_t>>{{0}, {1, 2}, {3}}));
  EXPECT_EQ(group_passes(micro_batches, {1, 3}, examples, 20), (std::vector<std::vector<size_t>>{{1}, {3}}));
  EXPECT_EQ(group_passes(micro_batches, {0, 1, 2, 3}, examples, 0),
            (std::vector<std::vector<size_t>>{{0}, {1}, {2}, {3}}));
}

// A pass of three micro-batches, LoRA dropout on, each micro-batch's masks from its own seed: its
// summed loss and LoRA gradients equal those of the micro-batches run one at a time with the same
// seeds (nothing leaks between blocks: attention, positions and masks stay within each).
TEST(Batching, APackedPassHasTheLossAndGradientsOfItsMicroBatchesRunApart) {
  model::Model model = model::make_random_model(model::tiny_qwen2_config(50), 4);
  model::LoraConfig lora;
  lora.dropout = 0.5;
  lora.target_modules = {"q_proj", "v_proj", "down_proj"};
  model::attach_new_lora(model, lora, 5);
  std::vector<at::Tensor> parameters;
  at::Generator b_values = at::make_generator<at::CPUGeneratorImpl>(7);
  for (const model::NamedLora& adapter : model::attached_lora(model)) {
    adapter.weights->b.normal_(0.0, 2.0, b_values);  // a fresh adapter's B is zero, which would hide the masks
    for (at::Tensor tensor : {adapter.weights->a, adapter.weights->b}) parameters.push_back(tensor.requires_grad_(true));
  }
  const auto examples = examples_of_lengths(7);
  const std::vector<std::vector<int64_t>> micro_batches = {{3, 6, 1}, {4, 2, 0}, {5}};
  const std::vector<uint64_t> seeds = {11, 12, 13};
  const auto gradients = [&] {
    std::vector<at::Tensor> taken;
    for (at::Tensor& parameter : parameters) {
      taken.push_back(parameter.grad().clone());
      parameter.mutable_grad().reset();
    }
    return taken;
  };

  const at::Tensor packed = summed_target_loss(model, collate_pass(examples, micro_batches, at::kCPU), true, seeds);
  packed.backward();
  const std::vector<at::Tensor> packed_gradients = gradients();
  double apart = 0.0;
  for (size_t j = 0; j < micro_batches.size(); ++j) {
    const at::Tensor loss = summed_target_loss(model, collate_pass(examples, {micro_batches[j]}, at::kCPU), true, {seeds[j]});
    loss.backward();
    apart += loss.item<double>();
  }
  const std::vector<at::Tensor> apart_gradients = gradients();
  EXPECT_NEAR(packed.item<double>(), apart, 1e-5 * std::abs(apart));
  for (size_t i = 0; i < parameters.size(); ++i) {
    const double scale = apart_gradients[i].abs().max().item<double>();
    EXPECT_GT(scale, 0.0) << i;
    EXPECT_LE((packed_gradients[i] - apart_gradients[i]).abs().max().item<double>(), 1e-5 * scale) << i;
  }
  // The masks matter: other seeds give another loss.
  const double other_masks =
      summed_target_loss(model, collate_pass(examples, micro_batches, at::kCPU), true, {21, 22, 23}).item<double>();
  EXPECT_GT(std::abs(other_masks - apart), 1e-3 * std::abs(apart));
}

}  // namespace
}  // namespace qtalign::train
