#include "data/question_translation.h"

#include <gtest/gtest.h>

#include "data/data_fixtures.h"
#include "data/prompt_format.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using testing::error_of;
using fixtures::Json;
using testing::TempDir;

class QuestionTranslationTest : public ::testing::Test {
 protected:
  const Protocol protocol = load_protocol(testing::shared_data_dir());
};

// The study's shipped snli sets against what qtalign builds from snli_en10k_train.json and prompts.json.
TEST_F(QuestionTranslationTest, ShippedSetsEqualWhatWeBuild) {
  const std::map<std::string, std::string> names = {
      {"de", "German"}, {"es", "Spanish"}, {"it", "Italian"}, {"sw", "Swahili"}, {"zh", "Chinese"}};
  const Json english = fixtures::raw_json("snli/snli_en10k_train.json");
  const std::vector<TaskItem> english_items =
      read_task_items(protocol.path_of(protocol.question_translation.english_source.at("snli")), protocol.task("snli"), "en",
                      Answers::ignored);
  ASSERT_EQ(english.size(), 10000u);
  size_t targets = 0, inputs = 0, questions = 0;
  for (const auto& [language, name] : names) {
    const Json raw = fixtures::raw_json("snli/snli_" + language + "10k_train_question.json");
    const std::vector<QuestionTranslationExample> shipped = read_shipped_set(protocol, "snli", language);
    ASSERT_EQ(shipped.size(), english.size()) << language;
    // The X-side markers of the question, cut out of the language's raw template by hand.
    const std::string template_text =
        fixtures::raw_json("prompts.json")["tasks"]["snli"]["languages"][language]["template"].get<std::string>();
    const size_t premise_at = template_text.find("{premise}"), hypothesis_at = template_text.find("{hypothesis}");
    const std::string opening = template_text.substr(17, premise_at - 17);  // after "{demonstrations}\n"
    const std::string middle = template_text.substr(premise_at + 9, hypothesis_at - premise_at - 9);
    const std::string closing = template_text.substr(hypothesis_at + 12);
    const std::string instruction = "\nTranslate the input from " + name + " to English:\n";
    for (size_t i = 0; i < shipped.size(); ++i) {
      const std::string hand_target = "Premise: " + english[i]["premise"].get<std::string>() + "\nHypothesis: " +
                                      english[i]["hypothesis"].get<std::string>() + "\nAnswer: \"";
      EXPECT_EQ(shipped[i].target, raw[i]["answer"].get<std::string>());
      EXPECT_EQ(shipped[i].index, static_cast<int64_t>(i));
      EXPECT_EQ(shipped[i].language, language);
      if (question_translation_target(protocol, "snli", english_items[i]) == shipped[i].target &&
          hand_target == shipped[i].target)
        ++targets;
      const std::string& input = shipped[i].input;
      ASSERT_GT(input.size(), instruction.size());
      ASSERT_EQ(input.substr(input.size() - instruction.size()), instruction) << language << " " << i;
      const std::string question_x = input.substr(0, input.size() - instruction.size());
      if (question_translation_input(protocol, language, question_x) == input) ++inputs;
      // The X question has the language's template shape (its fields are not available to rebuild it).
      if (question_x.rfind(opening, 0) == 0 && question_x.find(middle, opening.size()) != std::string::npos &&
          question_x.size() >= closing.size() && question_x.compare(question_x.size() - closing.size(), closing.size(), closing) == 0)
        ++questions;
    }
  }
  EXPECT_EQ(targets, 50000u);
  EXPECT_EQ(inputs, 50000u);
  EXPECT_EQ(questions, 50000u);
}

TEST_F(QuestionTranslationTest, ExamplesFromParallelTestFilesAreHandBuildable) {
  const auto examples = examples_from_parallel_files(protocol, "snli", "zh", protocol.test_set_path("snli", "zh"),
                                                     protocol.test_set_path("snli", "en"));
  const Json zh = fixtures::raw_json("snli/snli_zh600_test.json");
  const Json en = fixtures::raw_json("snli/snli_en600_test.json");
  ASSERT_EQ(examples.size(), 600u);
  for (size_t i : {size_t{0}, size_t{42}, size_t{599}}) {
    EXPECT_EQ(examples[i].input, "前提: " + zh[i]["premise"].get<std::string>() + "\n假设: " + zh[i]["hypothesis"].get<std::string>() +
                                     "\n答案: \"\nTranslate the input from Chinese to English:\n");
    EXPECT_EQ(examples[i].target, "Premise: " + en[i]["premise"].get<std::string>() + "\nHypothesis: " +
                                      en[i]["hypothesis"].get<std::string>() + "\nAnswer: \"");
    EXPECT_EQ(examples[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(examples[i].language, "zh");
  }
  const auto emotion = examples_from_parallel_files(protocol, "emotion", "hi", protocol.test_set_path("emotion", "hi"),
                                                    protocol.test_set_path("emotion", "en"));
  const Json hi = fixtures::raw_json("emotion/emotion_hi500_test.json");
  const Json emotion_en = fixtures::raw_json("emotion/emotion_en500_test.json");
  EXPECT_EQ(emotion[3].input, hi[3]["input"].get<std::string>() + "\nभावना: \"\nTranslate the input from Hindi to English:\n");
  EXPECT_EQ(emotion[3].target, emotion_en[3]["input"].get<std::string>() + "\nEmotion: \"");
}

TEST_F(QuestionTranslationTest, NonParallelFilesAreRejected) {
  TempDir dir;
  const Json en = fixtures::raw_json("paws/paws_en500_test.json");
  Json shorter = en;
  shorter.erase(shorter.size() - 1);
  io::write_file_atomically(dir / "short.json", shorter.dump());
  const std::string count = error_of([&] {
    examples_from_parallel_files(protocol, "paws", "de", dir / "short.json", protocol.test_set_path("paws", "en"));
  });
  EXPECT_TRUE(contains(count, (dir / "short.json").string() + ": 499 items, but its parallel English file")) << count;

  Json swapped = en;
  std::swap(swapped[0], swapped[1]);  // item 0 is "same" in the English file; the swap makes it "different"
  ASSERT_NE(en[0]["answer"], en[1]["answer"]);
  io::write_file_atomically(dir / "swapped.json", swapped.dump());
  const std::string labels = error_of([&] {
    examples_from_parallel_files(protocol, "paws", "en", dir / "swapped.json", protocol.test_set_path("paws", "en"));
  });
  EXPECT_TRUE(contains(labels, (dir / "swapped.json").string() + ": item 0 is labelled")) << labels;
  EXPECT_TRUE(contains(labels, "not parallel")) << labels;
}

TEST_F(QuestionTranslationTest, WrittenExamplesReadBackAndAreJsonLines) {
  TempDir dir;
  std::vector<QuestionTranslationExample> examples = {{"问题\n\"", "question\n\"", "zh", 3}, {"Frage", "question 2", "de", 9000}};
  write_examples(dir / "out" / "train.jsonl", examples);
  const std::string text = io::read_file(dir / "out" / "train.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  const Json first = Json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(first, (Json{{"input", "问题\n\""}, {"target", "question\n\""}, {"language", "zh"}, {"target_language", "en"},
                         {"index", 3}}));
  const auto back = read_examples(dir / "out" / "train.jsonl");
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back[i].input, examples[i].input);
    EXPECT_EQ(back[i].target, examples[i].target);
    EXPECT_EQ(back[i].language, examples[i].language);
    EXPECT_EQ(back[i].index, examples[i].index);
  }
  // Nothing but the finished file is left in the directory.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "out"), std::filesystem::directory_iterator()), 1);
}

TEST_F(QuestionTranslationTest, BadExampleFilesAreRejected) {
  TempDir dir;
  const auto error_for = [&](const std::string& contents) {
    io::write_file_atomically(dir / "qt.jsonl", contents);
    const std::string message = error_of([&] { read_examples(dir / "qt.jsonl", "zh"); });
    EXPECT_TRUE(contains(message, (dir / "qt.jsonl").string() + ": ")) << message;
    return message;
  };
  EXPECT_TRUE(contains(error_for("{\"input\": \"a\", \"answer\": \"b\"}\n{\"answer\": \"b\"}\n"), "record 1: missing field 'input'"));
  EXPECT_TRUE(contains(error_for("{\"input\": \"a\"}\n"), "record 0: missing field 'target' (or 'answer')"));
  EXPECT_TRUE(contains(error_for("{\"input\": \"a\", \"target\": 5}\n"), "field 'target' has the wrong type"));
  EXPECT_TRUE(contains(error_for("[]"), "no question-translation examples"));
  EXPECT_TRUE(contains(error_for("{\"input\": \"\xff\", \"target\": \"b\"}\n"), "invalid JSON"));
  const std::string none = error_of([&] { read_shipped_set(protocol, "paws", "zh"); });
  EXPECT_TRUE(contains(none, "no shipped question-translation set for paws/zh (shipped: none)")) << none;
  EXPECT_TRUE(contains(error_of([&] { read_shipped_set(protocol, "snli", "fr"); }), "(shipped: de, es, it, sw, zh)"));
}

}  // namespace
}  // namespace qtalign::data
