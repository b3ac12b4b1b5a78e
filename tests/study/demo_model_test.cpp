#include "study/demo_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "eval/eval_test_support.h"
#include "data/protocol.h"
#include "data/question_translation_build.h"
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
  training.epochs = 1;
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

  // One epoch over the 3 x 8 examples, logged step by step up to its end.
  const std::string log = io::read_file(dir / "a" / "training" / "training_log.jsonl");
  ASSERT_GE(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_NE(log.find("\"epoch\":1.0"), std::string::npos) << log;

  // The trained model is the rescaled random start with changed linear layers: embeddings and norms
  // only rescaled.
  const DemoTraining settings = tiny_training();
  const model::Model start = model::make_random_model(demo_model_config(), 5, at::kFloat);
  const model::Model trained = model::load_model(dir / "a");
  EXPECT_TRUE(same_values(trained.embed_tokens, (start.embed_tokens * settings.embedding_scale).to(at::kBFloat16)));
  EXPECT_TRUE(same_values(trained.norm, (start.norm * settings.final_norm_scale).to(at::kBFloat16)));
  EXPECT_TRUE(same_values(trained.layers[0].input_layernorm, start.layers[0].input_layernorm.to(at::kBFloat16)));
  for (size_t layer = 0; layer < start.layers.size(); ++layer) {
    EXPECT_FALSE(same_values(trained.layers[layer].q_proj.weight, start.layers[layer].q_proj.weight.to(at::kBFloat16)));
    EXPECT_FALSE(
        same_values(trained.layers[layer].down_proj.weight, start.layers[layer].down_proj.weight.to(at::kBFloat16)));
  }

  write_demo_checkpoint(dir / "c", tokenizer_dir, 6, testing::shared_data_dir(), tiny_training());
  EXPECT_NE(io::read_file(dir / "a" / "model.safetensors"), io::read_file(dir / "c" / "model.safetensors"));
}

TEST(DemoModel, TrainsOnLabelledEnglishItemsButNeverOnEmotionItemsTheStudyEvaluates) {
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  DemoTraining settings;
  settings.examples_per_task = 40;
  const std::vector<DemoItem> items = demo_training_items(protocol, settings, 3);
  std::map<std::string, std::map<std::string, int>> labels;
  for (const DemoItem& item : items) ++labels[item.task][item.label];
  // 40 of each task; every label of each task among them (snli has 3, paws and emotion 2).
  ASSERT_EQ(items.size(), 120u);
  EXPECT_EQ(labels["snli"].size(), 3u);
  EXPECT_EQ(labels["paws"].size(), 2u);
  EXPECT_EQ(labels["emotion"].size(), 2u);
  for (const auto& [task, counts] : labels)
    for (const auto& [label, count] : counts)
      EXPECT_TRUE(std::count(protocol.task(task).labels.begin(), protocol.task(task).labels.end(), label)) << label;

  // paws_en10k_train answers yes/no: read straight from the file, "yes" is a paraphrase ("same").
  const io::Json paws = io::read_json_file(protocol.path_of(protocol.question_translation.english_source.at("paws")));
  for (const DemoItem& item : items) {
    if (item.task != "paws") continue;
    EXPECT_EQ(item.label, paws[item.index]["answer"].get<std::string>() == "yes" ? "same" : "different");
    EXPECT_NE(item.prompt.find(paws[item.index]["sentence1"].get<std::string>()), std::string::npos);
  }

  // The emotion items are among those the study's question-translation build (as `run --task emotion
  // --seed 3` makes it) may tune on; none is an evaluation item.
  data::BuildOptions build;
  build.task = "emotion";
  build.languages = {"zh"};
  build.seed = 3;
  build.exclude_test = true;
  build.size = 100;
  const data::BuildResult built = data::build_question_translation_set(protocol, build);
  ASSERT_TRUE(built.evaluation_split);
  const std::vector<size_t>& evaluation = built.evaluation_split->evaluation_indices;
  const std::vector<size_t>& tuning = built.evaluation_split->training_indices;
  for (const DemoItem& item : items) {
    if (item.task != "emotion") continue;
    EXPECT_TRUE(std::binary_search(tuning.begin(), tuning.end(), item.index)) << item.index;
    EXPECT_FALSE(std::binary_search(evaluation.begin(), evaluation.end(), item.index)) << item.index;
  }
}

TEST(DemoModel, DescriptionSaysWhatItIs) {
  const std::string description = demo_model_description();
  EXPECT_NE(description.find("not the study's results"), std::string::npos) << description;
  EXPECT_NE(description.find("4-layer, hidden-64"), std::string::npos) << description;
}

}  // namespace
}  // namespace qtalign::study
