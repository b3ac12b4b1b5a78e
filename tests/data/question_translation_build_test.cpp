#include "data/question_translation_build.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <unordered_set>

#include "data/data_fixtures.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using testing::error_of;
using fixtures::Json;
using testing::TempDir;

class BuildTest : public ::testing::Test {
 protected:
  const Protocol protocol = load_protocol(testing::shared_data_dir());

  BuildResult build(const std::string& task, const std::vector<std::string>& languages, size_t size, uint64_t seed,
                    bool exclude_test = false, QuestionSource source = QuestionSource::automatic) const {
    BuildOptions options;
    options.task = task;
    options.languages = languages;
    options.size = size;
    options.seed = seed;
    options.exclude_test = exclude_test;
    options.source = source;
    return build_question_translation_set(protocol, options);
  }
};

std::map<std::string, size_t> count_languages(const std::vector<QuestionTranslationExample>& examples) {
  std::map<std::string, size_t> counts;
  for (const auto& example : examples) ++counts[example.language];
  return counts;
}

bool same_examples(const std::vector<QuestionTranslationExample>& a, const std::vector<QuestionTranslationExample>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].input != b[i].input || a[i].target != b[i].target || a[i].language != b[i].language || a[i].index != b[i].index)
      return false;
  return true;
}

TEST_F(BuildTest, ShippedMixtureIsSplitEvenlyDeterministicAndDrawnFromTheShippedRecords) {
  const BuildResult result = build("snli", {"zh", "de"}, 10000, 0);
  EXPECT_EQ(count_languages(result.examples), (std::map<std::string, size_t>{{"de", 5000}, {"zh", 5000}}));
  const Json zh = fixtures::raw_json("snli/snli_zh10k_train_question.json");
  const Json de = fixtures::raw_json("snli/snli_de10k_train_question.json");
  std::set<std::pair<std::string, int64_t>> drawn;
  for (const auto& example : result.examples) {
    const Json& record = (example.language == "zh" ? zh : de)[example.index];
    ASSERT_EQ(example.input, record["input"].get<std::string>());
    ASSERT_EQ(example.target, record["answer"].get<std::string>());
    drawn.insert({example.language, example.index});
  }
  EXPECT_EQ(drawn.size(), 10000u);  // no item twice
  EXPECT_EQ(result.languages.at("zh").source, "snli/snli_zh10k_train_question.json");
  EXPECT_EQ(result.languages.at("zh").source_kind, QuestionSource::shipped);
  EXPECT_EQ(result.languages.at("zh").drawn, 5000u);
  EXPECT_FALSE(result.evaluation_split.has_value());
  // The mixture is interleaved, not one language after the other.
  EXPECT_EQ(count_languages({result.examples.begin(), result.examples.begin() + 100}).size(), 2u);

  EXPECT_TRUE(same_examples(result.examples, build("snli", {"zh", "de"}, 10000, 0).examples));
  EXPECT_FALSE(same_examples(result.examples, build("snli", {"zh", "de"}, 10000, 1).examples));
}

TEST_F(BuildTest, RepeatedTargetsAreDroppedFromAPool) {
  const Json raw = fixtures::raw_json("snli/snli_es10k_train_question.json");
  std::unordered_set<std::string> distinct;
  for (const auto& record : raw) distinct.insert(record["answer"].get<std::string>());
  const BuildResult everything = build("snli", {"es"}, 0, 0);
  EXPECT_EQ(everything.examples.size(), distinct.size());
  EXPECT_EQ(everything.languages.at("es").available, distinct.size());
  std::unordered_set<std::string> targets;
  for (const auto& example : everything.examples) EXPECT_TRUE(targets.insert(example.target).second);
}

TEST_F(BuildTest, RemainderGoesToTheFirstLanguages) {
  const BuildResult result = build("snli", {"sw", "it", "es"}, 1000, 4);
  EXPECT_EQ(result.languages.at("sw").drawn, 334u);
  EXPECT_EQ(result.languages.at("it").drawn, 333u);
  EXPECT_EQ(count_languages(result.examples), (std::map<std::string, size_t>{{"es", 333}, {"it", 333}, {"sw", 334}}));
}

TEST_F(BuildTest, ExcludeTestHoldsOutEvaluationItemsOfTestSetSources) {
  const BuildResult result = build("emotion", {"zh", "de"}, 400, 2, true);
  ASSERT_TRUE(result.evaluation_split.has_value());
  const EvaluationSplit& split = *result.evaluation_split;
  EXPECT_EQ(split.evaluation_indices.size(), 250u);
  const std::set<size_t> evaluation(split.evaluation_indices.begin(), split.evaluation_indices.end());
  const Json english = fixtures::raw_json("emotion/emotion_en500_test.json");
  std::set<std::string> evaluation_targets;
  for (size_t index : evaluation) evaluation_targets.insert(english[index]["input"].get<std::string>() + "\nEmotion: \"");
  EXPECT_EQ(count_languages(result.examples), (std::map<std::string, size_t>{{"de", 200}, {"zh", 200}}));
  for (const auto& example : result.examples) {
    EXPECT_EQ(evaluation.count(static_cast<size_t>(example.index)), 0u) << example.index;
    EXPECT_EQ(evaluation_targets.count(example.target), 0u);
    EXPECT_EQ(example.target, english[example.index]["input"].get<std::string>() + "\nEmotion: \"");
  }
  EXPECT_EQ(result.languages.at("zh").excluded, 250u);
  EXPECT_EQ(result.languages.at("zh").source_kind, QuestionSource::test_sets);
  EXPECT_EQ(result.languages.at("zh").available, 250u);
  // Without exclusion the same build may use evaluation items.
  const BuildResult open = build("emotion", {"zh"}, 500, 2);
  EXPECT_EQ(open.examples.size(), 500u);
  // Asking for more than the training part holds fails, naming the language and the pool.
  const std::string message = error_of([&] { build("emotion", {"zh"}, 300, 2, true); });
  EXPECT_TRUE(contains(message, "zh: 300 examples asked for but only 250 distinct ones are available after excluding 250 evaluation items")) << message;
  EXPECT_TRUE(contains(message, "emotion_zh500_test.json")) << message;
}

TEST_F(BuildTest, ExcludeTestWithShippedSetsKeepsTheWholeTestSetForEvaluation) {
  const BuildResult result = build("snli", {"zh"}, 1000, 0, true);
  ASSERT_TRUE(result.evaluation_split.has_value());
  EXPECT_EQ(result.evaluation_split->evaluation_indices.size(), 600u);
  EXPECT_EQ(result.languages.at("zh").excluded, 0u);  // the study's training items are not test items
}

TEST_F(BuildTest, ExcludeTestDropsTestQuestionsFromUserFiles) {
  // A parallel pair of user files: three training items and two test items (English and French).
  TempDir dir;
  const Json train = fixtures::raw_json("snli/snli_en10k_train.json");
  const Json test_en = fixtures::raw_json("snli/snli_en600_test.json");
  const Json test_fr = fixtures::raw_json("snli/snli_fr600_test.json");
  const Json fr_map = fixtures::raw_json("prompts.json")["tasks"]["snli"]["languages"]["fr"]["answer_map"];
  const auto french_answer = [&](const std::string& label) {
    for (const auto& [value, english_label] : fr_map.items())
      if (english_label == label) return value;
    return std::string();
  };
  Json en = Json::array(), fr = Json::array();
  for (int i = 0; i < 3; ++i) {
    en.push_back(train[i]);
    fr.push_back({{"premise", "prémisse " + std::to_string(i)}, {"hypothesis", "hypothèse"},
                  {"answer", french_answer(train[i]["answer"].get<std::string>())}});
    if (i == 1) en.back().erase("answer");  // answers are not needed for question translation
  }
  for (int i : {10, 20}) {
    en.push_back(test_en[i]);
    fr.push_back(test_fr[i]);
  }
  io::write_file_atomically(dir / "en.json", en.dump());
  io::write_file_atomically(dir / "fr.json", fr.dump());
  BuildOptions options;
  options.task = "snli";
  options.languages = {"fr"};
  options.size = 0;
  options.source = QuestionSource::files;
  options.file_x = dir / "fr.json";
  options.file_target = dir / "en.json";
  options.exclude_test = true;
  const BuildResult result = build_question_translation_set(protocol, options);
  EXPECT_EQ(result.languages.at("fr").excluded, 2u);
  ASSERT_EQ(result.examples.size(), 3u);
  std::set<int64_t> indices;
  for (const auto& example : result.examples) indices.insert(example.index);
  EXPECT_EQ(indices, (std::set<int64_t>{0, 1, 2}));
  options.exclude_test = false;
  EXPECT_EQ(build_question_translation_set(protocol, options).examples.size(), 5u);
}

// The study's zh/es => Italian setting: questions from the parallel test sets, the instruction naming
// Italian, the Italian question as the answer; built here by hand from the raw files.
TEST_F(BuildTest, TargetLanguageExamplesEqualHandBuiltOnes) {
  BuildOptions options;
  options.task = "snli";
  options.languages = {"zh"};
  options.target = "it";
  options.size = 0;
  const BuildResult result = build_question_translation_set(protocol, options);
  EXPECT_EQ(result.target, "it");
  EXPECT_EQ(result.languages.at("zh").source_kind, QuestionSource::test_sets);  // zh's shipped set is into English
  const Json zh = fixtures::raw_json("snli/snli_zh600_test.json");
  const Json it = fixtures::raw_json("snli/snli_it600_test.json");
  ASSERT_EQ(result.examples.size(), zh.size());
  std::set<int64_t> indices;
  for (const QuestionTranslationExample& example : result.examples) {
    const size_t i = static_cast<size_t>(example.index);
    ASSERT_TRUE(indices.insert(example.index).second);
    ASSERT_EQ(example.input, "前提: " + zh[i]["premise"].get<std::string>() + "\n假设: " +
                                 zh[i]["hypothesis"].get<std::string>() +
                                 "\n答案: \"\nTranslate the input from Chinese to Italian:\n");
    ASSERT_EQ(example.target, "Premessa: " + it[i]["premise"].get<std::string>() + "\nIpotesi: " +
                                  it[i]["hypothesis"].get<std::string>() + "\nRisposta: \"");
    ASSERT_EQ(example.language, "zh");
    ASSERT_EQ(example.target_language, "it");
  }

  // A mixture into Italian keeps the evaluation items out by their Italian questions too.
  options.languages = {"zh", "es"};
  options.size = 100;
  options.exclude_test = true;
  const BuildResult mixture = build_question_translation_set(protocol, options);
  EXPECT_EQ(count_languages(mixture.examples), (std::map<std::string, size_t>{{"es", 50}, {"zh", 50}}));
  ASSERT_TRUE(mixture.evaluation_split.has_value());
  const auto& evaluation = mixture.evaluation_split->evaluation_indices;
  for (const QuestionTranslationExample& example : mixture.examples) {
    EXPECT_FALSE(std::binary_search(evaluation.begin(), evaluation.end(), static_cast<size_t>(example.index)));
    EXPECT_TRUE(contains(example.input, "to Italian:\n"));
  }
}

TEST_F(BuildTest, TargetLanguageRequestsAreChecked) {
  BuildOptions options;
  options.task = "snli";
  options.languages = {"zh", "it"};
  options.target = "it";
  const std::string same = error_of([&] { build_question_translation_set(protocol, options); });
  EXPECT_TRUE(contains(same, "'it' cannot be a tuning language when it is the target")) << same;
  options.languages = {"zh"};
  options.source = QuestionSource::shipped;
  const std::string shipped = error_of([&] { build_question_translation_set(protocol, options); });
  EXPECT_TRUE(contains(shipped, "translate into English only, not Italian")) << shipped;
  options.source = QuestionSource::automatic;
  options.target = "xx";
  EXPECT_TRUE(contains(error_of([&] { build_question_translation_set(protocol, options); }), "unknown language 'xx'"));
}

TEST(SeenLanguages, AreTheSourcesThenTheTarget) {
  EXPECT_EQ(seen_languages({"zh", "es"}, "it"), (std::vector<std::string>{"zh", "es", "it"}));
  EXPECT_EQ(seen_languages({"en", "ja"}, "zh"), (std::vector<std::string>{"en", "ja", "zh"}));
  EXPECT_EQ(seen_languages({"zh", "de"}, "en"), (std::vector<std::string>{"zh", "de", "en"}));
  EXPECT_EQ(seen_languages({"zh", "en"}, "en"), (std::vector<std::string>{"zh", "en"}));
}

TEST_F(BuildTest, BadRequestsAreRejected) {
  EXPECT_TRUE(contains(error_of([&] { build("xnli", {"zh"}, 10, 0); }), "unknown task 'xnli' (valid: emotion, paws, snli)"));
  EXPECT_TRUE(contains(error_of([&] { build("snli", {"zh", "xx"}, 10, 0); }), "unknown language 'xx'"));
  EXPECT_TRUE(contains(error_of([&] { build("snli", {"en"}, 10, 0); }), "'en' cannot be a tuning language"));
  EXPECT_TRUE(contains(error_of([&] { build("snli", {}, 10, 0); }), "no tuning language"));
  EXPECT_TRUE(contains(error_of([&] { build("snli", {"zh", "de", "es"}, 2, 0); }), "size 2 is smaller than the number of languages"));
  EXPECT_TRUE(contains(error_of([&] { build("paws", {"zh"}, 10, 0, false, QuestionSource::shipped); }),
                       "no shipped question-translation set for paws/zh"));
  EXPECT_TRUE(contains(error_of([&] { build("snli", {"zh"}, 10, 0, false, QuestionSource::files); }), "needs both parallel files"));
  EXPECT_TRUE(contains(error_of([&] { build("snli", {"fr"}, 601, 0); }), "fr: 601 examples asked for but only 600"));
  EXPECT_TRUE(contains(error_of([&] { parse_question_source("web"); }), "valid: auto, shipped, test, files"));
}

TEST_F(BuildTest, ParallelFilesGoWithTheFilesSourceOnly) {
  BuildOptions options;
  options.task = "snli";
  options.languages = {"zh"};
  options.file_target = protocol.test_set_path("snli", "en");
  EXPECT_EQ(error_of([&] { build_question_translation_set(protocol, options); }),
            "--x-file and --target-file go with --source files");
  options.file_target.clear();
  options.file_x = protocol.test_set_path("snli", "zh");
  options.source = QuestionSource::test_sets;
  EXPECT_EQ(error_of([&] { build_question_translation_set(protocol, options); }),
            "--x-file and --target-file go with --source files");
}

}  // namespace
}  // namespace qtalign::data
