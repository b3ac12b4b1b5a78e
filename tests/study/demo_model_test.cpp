#include "study/demo_model.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "eval/eval_test_support.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "model/checkpoint.h"
#include "model/random_model.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

// A few steps of the demo's training (the real one runs about a minute): same machinery, small numbers.
DemoTraining tiny_training() {
  DemoTraining training;
  training.examples_per_task = 8;
  training.micro_batch = 4;
  training.rank = 4;
  return training;
}

bool same_values(const at::Tensor& a, const at::Tensor& b) { return at::equal(a.to(at::kFloat), b.to(at::kFloat)); }

TEST(DemoModel, TrainsTheRandomLinearLayersDeterministically) {
  testing::TempDir dir;
  const std::filesystem::path tokenizer_dir = testing::qwen_tokenizer_file().parent_path();
  write_demo_checkpoint(dir / "a", tokenizer_dir, 5, testing::shared_data_dir(), tiny_training());
  write_demo_checkpoint(dir / "b", tokenizer_dir, 5, testing::shared_data_dir(), tiny_training());
  EXPECT_EQ(io::read_file(dir / "a" / "model.safetensors"), io::read_file(dir / "b" / "model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "a" / "tokenizer.json"));

  // One epoch over the 2 x 8 examples, logged step by step up to its end.
  const std::string log = io::read_file(dir / "a" / "training" / "training_log.jsonl");
  ASSERT_GE(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_NE(log.find("\"epoch\":1.0"), std::string::npos) << log;

  // The trained model is the random start with changed linear layers: embeddings and norms untouched.
  const model::Model start = model::make_random_model(demo_model_config(), 5, at::kFloat);
  const model::Model trained = model::load_model(dir / "a");
  EXPECT_TRUE(same_values(trained.embed_tokens, start.embed_tokens.to(at::kBFloat16)));
  EXPECT_TRUE(same_values(trained.layers[0].input_layernorm, start.layers[0].input_layernorm.to(at::kBFloat16)));
  for (size_t layer = 0; layer < start.layers.size(); ++layer) {
    EXPECT_FALSE(same_values(trained.layers[layer].q_proj.weight, start.layers[layer].q_proj.weight.to(at::kBFloat16)));
    EXPECT_FALSE(
        same_values(trained.layers[layer].down_proj.weight, start.layers[layer].down_proj.weight.to(at::kBFloat16)));
  }

  write_demo_checkpoint(dir / "c", tokenizer_dir, 6, testing::shared_data_dir(), tiny_training());
  EXPECT_NE(io::read_file(dir / "a" / "model.safetensors"), io::read_file(dir / "c" / "model.safetensors"));
}

TEST(DemoModel, DescriptionSaysWhatItIs) {
  const std::string description = demo_model_description();
  EXPECT_NE(description.find("not the study's results"), std::string::npos) << description;
  EXPECT_NE(description.find("4-layer, hidden-64"), std::string::npos) << description;
}

}  // namespace
}  // namespace qtalign::study
