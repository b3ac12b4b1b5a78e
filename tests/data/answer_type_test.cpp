#include "data/answer_type.h"

#include <gtest/gtest.h>

#include "data/data_fixtures.h"
#include "data/prompt_format.h"
#include "data/task_items.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using fixtures::Json;
using testing::error_of;
using testing::TempDir;

// Every "quoted" occurrence of `from` replaced by `to` (the test's own rewrite of the demonstrations).
std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

class AnswerTypeTest : public ::testing::Test {
 protected:
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  const Json prompts = fixtures::raw_json("prompts.json");

  std::string lens_demonstrations(const std::string& language) const {
    return prompts["tasks"]["emotion"]["lens"]["demonstrations"][language].get<std::string>();
  }
  std::string english_demonstrations(const std::string& language) const {
    return prompts["tasks"]["emotion"]["languages"][language]["demonstrations"].get<std::string>();
  }
  // The emotion prompt of item `index` in `language` with a given few-shot block, by hand.
  std::string hand_prompt(const std::string& language, const std::string& block, const std::string& answer_line,
                          size_t index) const {
    const Json raw = fixtures::raw_json("emotion/emotion_" + language + "500_test.json");
    return block + "\n" + raw[index]["input"].get<std::string>() + answer_line;
  }
  std::string prompt(const std::string& language, AnswerType type, size_t index) const {
    return evaluation_prompt(protocol.task("emotion"), language, read_test_set(protocol, "emotion", language)[index], type);
  }
};

TEST(AnswerTypeNames, ParseAndNameRoundTrip) {
  EXPECT_EQ(parse_answer_type("english"), AnswerType::english);
  EXPECT_EQ(parse_answer_type("same-language"), AnswerType::same_language);
  EXPECT_EQ(parse_answer_type("task-agnostic"), AnswerType::task_agnostic);
  EXPECT_EQ(answer_type_name(AnswerType::same_language), "same-language");
  EXPECT_EQ(answer_type_name(AnswerType::task_agnostic), "task-agnostic");
  const std::string message = error_of([] { parse_answer_type("native"); });
  EXPECT_TRUE(contains(message, "'native'") && contains(message, "same-language")) << message;
}

TEST_F(AnswerTypeTest, SameLanguagePromptsEqualHandBuiltStrings) {
  EXPECT_EQ(prompt("zh", AnswerType::same_language, 3), hand_prompt("zh", lens_demonstrations("zh"), "\n情感: \"", 3));
  EXPECT_TRUE(contains(prompt("zh", AnswerType::same_language, 3), "情感: \"积极\"\n"));
  EXPECT_EQ(prompt("th", AnswerType::same_language, 0), hand_prompt("th", lens_demonstrations("th"), "\nอารมณ์: \"", 0));
  EXPECT_EQ(prompt("en", AnswerType::same_language, 7), hand_prompt("en", lens_demonstrations("en"), "\nEmotion: \"", 7));

  const AnswerWords zh = answer_words(protocol.task("emotion"), "zh", AnswerType::same_language);
  EXPECT_EQ(zh.words, (std::vector<std::string>{"积极", "消极"}));
  EXPECT_EQ(zh.forced_prefix, "");
  EXPECT_EQ(zh.scored_words(), zh.words);
  EXPECT_EQ(zh.demonstrations, lens_demonstrations("zh"));
}

TEST_F(AnswerTypeTest, ThaiForcesTheSharedPrefixAndScoresTheRemainders) {
  const AnswerWords th = answer_words(protocol.task("emotion"), "th", AnswerType::same_language);
  EXPECT_EQ(th.words, (std::vector<std::string>{"เชิงบวก", "เชิงลบ"}));
  EXPECT_EQ(th.forced_prefix, "เชิง");
  EXPECT_EQ(th.scored_words(), (std::vector<std::string>{"บวก", "ลบ"}));
  // The prefix is appended as tokens by scoring, never into the prompt text.
  const std::string thai = prompt("th", AnswerType::same_language, 4);
  const std::string ending = "\nอารมณ์: \"";
  EXPECT_EQ(thai.substr(thai.size() - ending.size()), ending);
  // Other answer types of Thai have no forced prefix.
  EXPECT_EQ(answer_words(protocol.task("emotion"), "th", AnswerType::task_agnostic).forced_prefix, "");
  EXPECT_EQ(answer_words(protocol.task("emotion"), "th", AnswerType::english).forced_prefix, "");
}

TEST_F(AnswerTypeTest, TaskAgnosticPromptsRewriteTheEnglishLabelDemonstrations) {
  // The English block, rewritten by hand: the trailing blanks after the first answer stay.
  const std::string english_block =
      "It starts off a bit slow, but once the product placement jokes start it takes off.\nEmotion: \"ox\"             \n"
      "I've read this book with much expectation, it was very boring all through out the book\nEmotion: \"horse\"";
  EXPECT_EQ(prompt("en", AnswerType::task_agnostic, 2), hand_prompt("en", english_block, "\nEmotion: \"", 2));
  for (const std::string language : {"zh", "th"}) {
    const std::string block = replace_all(replace_all(english_demonstrations(language), "\"positive\"", "\"ox\""),
                                          "\"negative\"", "\"horse\"");
    ASSERT_NE(block, english_demonstrations(language));
    const std::string answer_line = language == "zh" ? "\n情感: \"" : "\nอารมณ์: \"";
    EXPECT_EQ(prompt(language, AnswerType::task_agnostic, 9), hand_prompt(language, block, answer_line, 9)) << language;
    const AnswerWords words = answer_words(protocol.task("emotion"), language, AnswerType::task_agnostic);
    EXPECT_EQ(words.words, (std::vector<std::string>{"ox", "horse"}));
    EXPECT_EQ(words.scored_words(), words.words);
  }
  EXPECT_TRUE(contains(prompt("zh", AnswerType::task_agnostic, 0), "情感: \"ox\"\n"));
}

TEST_F(AnswerTypeTest, EnglishIsTheTaskItself) {
  const AnswerWords words = answer_words(protocol.task("snli"), "de", AnswerType::english);
  EXPECT_EQ(words.words, (std::vector<std::string>{"entailment", "neutral", "contradiction"}));
  EXPECT_EQ(words.demonstrations, prompts["tasks"]["snli"]["languages"]["de"]["demonstrations"].get<std::string>());
  EXPECT_EQ(words.forced_prefix, "");
}

TEST_F(AnswerTypeTest, RefusesTasksAndLanguagesWithoutTheData) {
  for (const AnswerType type : {AnswerType::same_language, AnswerType::task_agnostic}) {
    const std::string message = error_of([&] { answer_words(protocol.task("paws"), "fr", type); });
    EXPECT_TRUE(contains(message, "answer type " + answer_type_name(type) + " is not available for paws/fr")) << message;
    EXPECT_TRUE(contains(message, "no tasks.paws.output_types")) << message;
  }
  TaskProtocol without_swahili = protocol.task("emotion");
  without_swahili.lens->native_labels.erase("sw");
  without_swahili.lens->demonstrations.erase("sw");
  const std::string message = error_of([&] { answer_words(without_swahili, "sw", AnswerType::same_language); });
  EXPECT_TRUE(contains(message, "same-language is not available for emotion/sw")) << message;
  EXPECT_TRUE(contains(message, "no lens native_labels and demonstrations")) << message;
  EXPECT_TRUE(contains(error_of([&] { answer_words(protocol.task("emotion"), "xx", AnswerType::english); }),
                       "unknown language 'xx'"));
}

TEST(RewriteDemonstrationAnswers, ReplacesQuotedLabelsOnceAndCountsThem) {
  const std::map<std::string, std::string> words = {{"positive", "negative"}, {"negative", "x"}};
  // One pass: the word a label becomes is not rewritten again.
  EXPECT_EQ(rewrite_demonstration_answers("a: \"positive\"\nb: \"negative\"", words, 2, "t"),
            "a: \"negative\"\nb: \"x\"");
  // Unquoted label words are text, not answers.
  EXPECT_EQ(rewrite_demonstration_answers("positive: \"positive\"", words, 1, "t"), "positive: \"negative\"");
  const std::string message = error_of([&] { rewrite_demonstration_answers("a: \"positive\"", words, 2, "emotion/xx"); });
  EXPECT_TRUE(contains(message, "emotion/xx: found 1 quoted answers to rewrite")) << message;
}

// prompts.json's output_types are validated like the rest of the file.
TEST(OutputTypes, AreReadAndValidatedWithTheProtocol) {
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  ASSERT_TRUE(protocol.task("emotion").output_types.has_value());
  EXPECT_FALSE(protocol.task("snli").output_types.has_value());
  EXPECT_EQ(protocol.task("emotion").output_types->forced_prefixes,
            (std::map<std::string, std::string>{{"th", "เชิง"}}));
  EXPECT_EQ(protocol.task("emotion").output_types->task_agnostic_labels,
            (std::map<std::string, std::string>{{"negative", "horse"}, {"positive", "ox"}}));

  const auto load_error = [](const std::function<void(Json&)>& edit) {
    TempDir dir;
    fixtures::make_data_dir(dir.path(), edit);
    return error_of([&] { load_protocol(dir.path()); });
  };
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["output_types"]["same_language"]["forced_prefix"]["th"] = "เชิงบ"; }),
                       "tasks.emotion.output_types.same_language.forced_prefix.th: 'เชิงบ' is not a proper prefix"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["output_types"]["same_language"]["forced_prefix"]["zh"] = "积"; }),
                       "forced_prefix.zh: '积' is not a proper prefix of the negative word '消极'"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["output_types"]["task_agnostic"]["labels"].erase("negative"); }),
                       "tasks.emotion.output_types.task_agnostic.labels: expected one word for each label"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["output_types"]["task_agnostic"]["labels"]["negative"] = "ox"; }),
                       "two labels share the word 'ox'"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"].erase("lens"); }),
                       "tasks.emotion.output_types.same_language: same-language answers need the task's lens block"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["output_types"] = 3; }),
                       "tasks.emotion.output_types: expected a JSON object"));
}

// Task-agnostic words mean labels only through the demonstrations that answer with them.
TEST(RequireAnswerable, TaskAgnosticAnswersNeedADemonstration) {
  EXPECT_TRUE(contains(error_of([] { require_answerable(AnswerType::task_agnostic, 0); }),
                       "answer type task-agnostic needs demonstrations, and 0 shots gives none"));
  require_answerable(AnswerType::task_agnostic, 1);
  require_answerable(AnswerType::task_agnostic, -1);  // the task's own, at least one
  require_answerable(AnswerType::english, 0);
  require_answerable(AnswerType::same_language, 0);
}

}  // namespace
}  // namespace qtalign::data
