#include "study/demo_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "eval/eval_test_support.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "model/checkpoint.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

TEST(DemoModel, IsTheSameForASeedAndDiffersBetweenSeeds) {
  testing::TempDir dir;
  const std::filesystem::path tokenizer_dir = testing::qwen_tokenizer_file().parent_path();
  write_demo_checkpoint(dir / "a", tokenizer_dir, 5);
  write_demo_checkpoint(dir / "b", tokenizer_dir, 5);
  write_demo_checkpoint(dir / "c", tokenizer_dir, 6);
  EXPECT_EQ(io::read_file(dir / "a" / "model.safetensors"), io::read_file(dir / "b" / "model.safetensors"));
  EXPECT_NE(io::read_file(dir / "a" / "model.safetensors"), io::read_file(dir / "c" / "model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "a" / "tokenizer.json"));
  EXPECT_EQ(model::load_model(dir / "a").config.num_hidden_layers, demo_model_config().num_hidden_layers);
}

// The reading layer's output at the last position of a 400-token random prompt, after replacing the
// token `distance` places before it (0 = unchanged).
at::Tensor read_at_last_position(const model::Model& model, int64_t layer, int64_t distance) {
  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(42);
  at::Tensor ids = at::randint(1000, 100000, {1, 400}, generator, at::TensorOptions().dtype(at::kLong));
  if (distance > 0) ids[0][399 - distance] = 7;
  model::ForwardOptions options;
  options.capture_hidden_states = true;
  const model::ForwardOutput output = model::forward(model, {ids}, options);
  return output.hidden_states.at(layer + 1)[0][399];
}

// What the windows are for: a token of the item (10 to 45 places before the answer) changes the reading
// layer's output by about its own size, a token of the demonstrations (hundreds of places back) by
// under 2% (what is left of it comes through layer 0's random, near-uniform attention, about 1/400 of
// each position the window reads). In the unarranged random model no single token moves it much.
TEST(DemoModel, ReadsTheItemBeforeTheAnswerAndNotTheDemonstrations) {
  at::NoGradGuard no_grad;
  const DemoReader reader;
  model::Model model = model::make_random_model(demo_model_config(), 3, at::kFloat);
  const at::Tensor random_unchanged = read_at_last_position(model, reader.layer, 0);
  const double random_near = (read_at_last_position(model, reader.layer, 20) - random_unchanged).norm().item<double>();
  arrange_item_reader(model, reader);
  const at::Tensor unchanged = read_at_last_position(model, reader.layer, 0);
  const double scale = unchanged.norm().item<double>();
  for (const double distance : reader.peak_distances) {
    const double near = (read_at_last_position(model, reader.layer, static_cast<int64_t>(distance)) - unchanged).norm().item<double>();
    EXPECT_GT(near, 0.3 * scale) << "a token " << distance << " places back";
    EXPECT_GT(near, 1000 * random_near) << "a token " << distance << " places back";
  }
  for (const int64_t distance : {150, 250, 350}) {
    const double far = (read_at_last_position(model, reader.layer, distance) - unchanged).norm().item<double>();
    EXPECT_LT(far, 0.02 * scale) << "a token " << distance << " places back";
  }
}

TEST(DemoModel, RefusesALayerTheModelDoesNotHave) {
  model::Model model = model::make_random_model(demo_model_config(), 3, at::kFloat);
  DemoReader reader;
  reader.layer = demo_model_config().num_hidden_layers;
  EXPECT_THROW(arrange_item_reader(model, reader), Error);
}

TEST(DemoModel, DescriptionSaysWhatItIs) {
  const std::string description = demo_model_description();
  EXPECT_NE(description.find("not the study's results"), std::string::npos) << description;
  EXPECT_NE(description.find("random weights"), std::string::npos) << description;
  EXPECT_NE(description.find("4-layer, hidden-64"), std::string::npos) << description;
}

}  // namespace
}  // namespace qtalign::study
