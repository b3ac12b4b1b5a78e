// LoRA training in process on a tiny random model with real question-translation examples (snli zh),
// tokenized as UTF-8 bytes so the vocabulary stays tiny.
#include "train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "data/question_translation.h"
#include "io/error.h"
#include "io/json_file.h"
#include "model/random_model.h"
#include "support/test_support.h"
#include "train/train_test_support.h"
#include "model/transformer.h"
#include "train/adamw.h"
#include "train/batching.h"
#include "train/lr_schedule.h"

namespace qtalign::train {
namespace {

constexpr int64_t kEos = 256;

std::vector<TokenizedExample> byte_examples(size_t first, size_t count, int64_t cutoff) {
  const std::vector<data::QuestionTranslationExample> examples =
      data::read_examples(testing::shared_data_dir() / "snli/snli_zh10k_train_question.json");
  std::vector<TokenizedExample> tokenized;
  for (size_t i = first; i < first + count; ++i) {
    TokenizedExample example;
    for (unsigned char byte : examples[i].input) example.input_ids.push_back(byte);
    example.prompt_length = static_cast<int64_t>(example.input_ids.size());
    for (unsigned char byte : examples[i].target) example.input_ids.push_back(byte);
    example.input_ids.push_back(kEos);
    cut_to_length(example, cutoff);
    tokenized.push_back(std::move(example));
  }
  return tokenized;
}

// A tiny qwen2 model over bytes with weights at the scale of trained models (embeddings ~1,
// projections ~1/sqrt(fan-in)), so that LoRA can move its predictions far from uniform.
model::Model byte_model() {
  model::Model model =
      model::make_random_model(model::tiny_qwen2_config(kEos + 1), 2, at::kFloat, testing::test_device());
  model.embed_tokens = model.embed_tokens * 50.0;
  model.lm_head = model.embed_tokens;
  model::for_each_linear(model, [](const std::string&, model::Linear& linear) {
    linear.weight = linear.weight * (1.0 / std::sqrt(double(linear.weight.size(1))) / 0.02);
  });
  return model;
}

TrainingSettings quick_settings() {
  TrainingSettings settings;
  settings.micro_batch = 4;
  settings.grad_accum = 1;
  settings.save_every = 0;
  return settings;
}

TEST(Trainer, LearnsQuestionTranslation) {
  model::Model model = byte_model();
  TrainingSettings settings = quick_settings();
  settings.lora_targets = model::parse_lora_targets("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
  settings.lora_dropout = 0.0;
  settings.epochs = 16;
  settings.lr = 1e-2;
  settings.eval_every = 0;
  const std::vector<TokenizedExample> train_set = byte_examples(0, 16, 512);
  testing::TempDir dir;
  distributed::ProcessGroup single;
  const TrainingSummary summary = train_lora(model, settings, train_set, {}, testing::quiet(dir.path()), single);

  const std::vector<io::Json> log = io::read_json_records(dir / "training_log.jsonl");
  ASSERT_EQ(log.size(), 64u);  // 16 examples in steps of 4, 16 epochs
  EXPECT_EQ(summary.steps, 64);
  double last_epoch = 0.0;
  for (size_t i = log.size() - 4; i < log.size(); ++i) last_epoch += log[i]["loss"].get<double>() / 4;
  EXPECT_DOUBLE_EQ(summary.first_loss, log.front()["loss"].get<double>());
  EXPECT_LT(last_epoch, 0.5 * summary.first_loss) << "first " << summary.first_loss << ", last epoch " << last_epoch;
  EXPECT_TRUE(std::filesystem::exists(dir / "adapter_model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "loss.png"));
  EXPECT_FALSE(std::filesystem::exists(dir / "final"));  // no validation set: the final adapter is the output
}

TEST(Trainer, KeepsTheAdapterWithTheBestValidationLoss) {
  model::Model model = byte_model();
  TrainingSettings settings = quick_settings();
  settings.lora_r = 4;
  settings.epochs = 3;
  settings.lr = 3e-2;
  settings.eval_every = 2;
  const std::vector<TokenizedExample> train_set = byte_examples(0, 8, 512);
  const std::vector<TokenizedExample> validation_set = byte_examples(100, 5, 512);
  testing::TempDir dir;
  distributed::ProcessGroup single;
  const TrainingSummary summary = train_lora(model, settings, train_set, validation_set, testing::quiet(dir.path()), single);

  const std::vector<io::Json> log = io::read_json_records(dir / "training_log.jsonl");
  ASSERT_EQ(log.size(), 6u);
  double best = 1e30;
  int64_t best_step = 0;
  for (const io::Json& record : log) {
    const int64_t step = record["step"].get<int64_t>();
    EXPECT_EQ(record.contains("val_loss"), step % 2 == 0) << step;
    if (record.contains("val_loss") && record["val_loss"].get<double>() < best) {
      best = record["val_loss"].get<double>();
      best_step = step;
    }
  }
  ASSERT_TRUE(summary.best_validation_loss.has_value());
  EXPECT_DOUBLE_EQ(*summary.best_validation_loss, best);
  EXPECT_EQ(summary.best_step, best_step);

  // Each adapter, loaded into the base model, has the validation loss the log recorded for it.
  for (const auto& [directory, expected] :
       std::vector<std::pair<std::filesystem::path, double>>{{dir.path(), best}, {dir / "final", log.back()["val_loss"].get<double>()}}) {
    model::Model fresh = byte_model();
    model::load_lora_adapter(fresh, directory);
    EXPECT_NEAR(validation_loss(fresh, validation_set, 4, single), expected, 1e-5) << directory;
  }
}

TEST(Trainer, ValidationLossIsTheMeanOverTargetTokens) {
  const model::Model model = byte_model();
  const std::vector<TokenizedExample> examples = byte_examples(0, 5, 512);
  distributed::ProcessGroup single;
  double sum = 0.0;
  int64_t targets = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    sum += summed_target_loss(model, collate_pass(examples, {{int64_t(i)}}, at::kCPU), false).item<double>();
    targets += examples[i].target_tokens();
  }
  EXPECT_NEAR(validation_loss(model, examples, 2, single), sum / double(targets), 1e-5);
}

TEST(Trainer, RejectsBadSettings) {
  model::Model model = byte_model();
  testing::TempDir dir;
  distributed::ProcessGroup single;
  TrainingSettings settings = quick_settings();
  EXPECT_THROW(train_lora(model, settings, {}, {}, testing::quiet(dir.path()), single), Error);
  settings.micro_batch = 0;
  EXPECT_THROW(train_lora(model, settings, byte_examples(0, 2, 512), {}, testing::quiet(dir.path()), single), Error);
  settings = quick_settings();
  settings.pass_positions = -2;
  EXPECT_THROW(train_lora(model, settings, byte_examples(0, 2, 512), {}, testing::quiet(dir.path()), single), Error);
  EXPECT_TRUE(model::attached_lora(model).empty());
}

// The adapters of `trained` and `expected` agree within 1e-5 per weight, and training moved B off zero.
void expect_same_moved_adapter(const model::Model& trained, const model::Model& expected) {
  const std::vector<model::NamedLora> got = model::attached_lora(trained), want = model::attached_lora(expected);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE((got[i].weights->a - want[i].weights->a).abs().max().item<double>(), 1e-5) << got[i].module;
    EXPECT_LE((got[i].weights->b - want[i].weights->b).abs().max().item<double>(), 1e-5) << got[i].module;
    EXPECT_GT(want[i].weights->b.abs().max().item<double>(), 1e-4) << "the adapter must have moved";
  }
}

// 2048 padded positions per pass on the 0.5B shape (24 x 1024), scaled by layers x hidden: 1.8B
// (24 x 2048) 1024, Mistral-7B (32 x 4096) 384, Qwen1.5-14B (40 x 5120) 2048 x 24576 / 204800 = 245.
TEST(Trainer, ScalesThePassToTheModel) {
  EXPECT_EQ(default_pass_positions(model::preset_config("qwen1.5-0.5b")), 2048);
  EXPECT_EQ(default_pass_positions(model::preset_config("qwen1.5-1.8b")), 1024);
  EXPECT_EQ(default_pass_positions(model::preset_config("mistral-7b")), 384);
  EXPECT_EQ(default_pass_positions(model::preset_config("qwen1.5-14b")), 245);
}

// The straightforward loss the trainer's must equal: logits at every position of the padded batch,
// log-softmax over the whole vocabulary, and -log p of each target token, summed.
at::Tensor full_logits_loss(const model::Model& model, const Batch& batch) {
  const at::Tensor hidden = model::forward(model, {batch.input_ids, batch.attention_mask}).final_hidden;
  const at::Tensor log_probabilities =
      at::log_softmax(model::logits(model, hidden), -1).reshape({-1, model.config.vocab_size});
  return -log_probabilities.index_select(0, batch.loss_positions).gather(1, batch.loss_targets.unsqueeze(1)).sum();
}

// The trainer against its steps written out plainly with the full-logits loss: the same examples per
// step, token-weighted loss, clipping, schedule and AdamW give the same losses and the same adapter.
TEST(Trainer, MatchesAPlainLoopWithTheFullLogitsLoss) {
  TrainingSettings settings = quick_settings();
  settings.lora_dropout = 0.0;
  settings.micro_batch = 2;
  settings.grad_accum = 3;
  settings.epochs = 2;
  settings.lr = 1e-3;
  settings.warmup_ratio = 0.25;
  settings.max_grad_norm = 0.5;
  settings.eval_every = 0;
  const std::vector<TokenizedExample> train_set = byte_examples(0, 14, 512);
  model::Model model = byte_model();
  testing::TempDir dir;
  distributed::ProcessGroup single;
  train_lora(model, settings, train_set, {}, testing::quiet(dir.path()), single);
  const std::vector<io::Json> log = io::read_json_records(dir / "training_log.jsonl");

  model::Model reference = byte_model();
  model::attach_new_lora(reference, lora_config(settings, ""), settings.seed);
  std::vector<at::Tensor> parameters;
  for (const model::NamedLora& adapter : model::attached_lora(reference))
    for (at::Tensor tensor : {adapter.weights->a, adapter.weights->b}) parameters.push_back(tensor.requires_grad_(true));
  AdamW optimizer(parameters, AdamWOptions{});
  const BatchLayout layout{static_cast<int64_t>(train_set.size()), settings.micro_batch, settings.grad_accum, 1,
                           settings.seed};
  const int64_t total_steps = layout.steps_per_epoch() * settings.epochs;
  const int64_t warmup_steps = warmup_steps_for_ratio(settings.warmup_ratio, total_steps);
  ASSERT_EQ(total_steps, 6);
  ASSERT_EQ(log.size(), 6u);
  for (int64_t step = 0; step < total_steps; ++step) {
    const std::vector<std::vector<int64_t>> micro_batches = step_micro_batches(layout, train_set, step);
    int64_t targets = 0;
    for (const auto& indices : micro_batches)
      for (int64_t index : indices) targets += train_set[index].target_tokens();
    double loss = 0.0;
    for (const auto& indices : micro_batches) {
      const at::Tensor sum = full_logits_loss(reference, collate_pass(train_set, {indices}, at::kCPU));
      (sum / double(targets)).backward();
      loss += sum.item<double>() / double(targets);
    }
    EXPECT_NEAR(log[step]["loss"].get<double>(), loss, 1e-5) << "step " << step + 1;
    double squares = 0.0;
    for (const at::Tensor& parameter : parameters) squares += parameter.grad().pow(2).sum().item<double>();
    const double norm = std::sqrt(squares);
    EXPECT_NEAR(log[step]["grad_norm"].get<double>(), norm, 1e-5 * norm) << "step " << step + 1;
    {
      const at::NoGradGuard no_gradients;
      for (const at::Tensor& parameter : parameters) parameter.grad().mul_(std::min(1.0, settings.max_grad_norm / (norm + 1e-6)));
    }
    optimizer.step(cosine_with_warmup_lr(settings.lr, step, warmup_steps, total_steps));
    for (at::Tensor& parameter : parameters) parameter.mutable_grad().reset();
  }
  expect_same_moved_adapter(model, reference);
}

// A step's micro-batches run together in one forward pass (the default) or one at a time
// (pass_positions 0), with LoRA dropout on: the same losses and the same adapter, since each
// micro-batch draws its dropout masks from its own generator either way.
TEST(Trainer, RunningMicroBatchesTogetherTrainsTheSameAdapter) {
  const auto train = [&](int64_t pass_positions, const std::filesystem::path& out) {
    TrainingSettings settings = quick_settings();
    settings.lora_dropout = 0.1;
    settings.micro_batch = 2;
    settings.grad_accum = 3;
    settings.lr = 1e-3;
    settings.eval_every = 0;
    settings.epochs = 1;
    settings.pass_positions = pass_positions;
    model::Model model = byte_model();
    distributed::ProcessGroup single;
    train_lora(model, settings, byte_examples(0, 12, 512), {}, testing::quiet(out), single);
    return model;
  };
  testing::TempDir together_dir, apart_dir;
  const model::Model together = train(1 << 20, together_dir.path());
  const model::Model apart = train(0, apart_dir.path());
  const std::vector<io::Json> together_log = io::read_json_records(together_dir / "training_log.jsonl");
  const std::vector<io::Json> apart_log = io::read_json_records(apart_dir / "training_log.jsonl");
  ASSERT_EQ(together_log.size(), 2u);
  ASSERT_EQ(apart_log.size(), together_log.size());
  for (size_t step = 0; step < apart_log.size(); ++step)
    EXPECT_NEAR(together_log[step]["loss"].get<double>(), apart_log[step]["loss"].get<double>(), 1e-5) << step;
  expect_same_moved_adapter(together, apart);
}

}  // namespace
}  // namespace qtalign::train
