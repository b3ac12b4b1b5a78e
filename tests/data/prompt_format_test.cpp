#include "data/prompt_format.h"

#include <gtest/gtest.h>

#include "data/data_fixtures.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using testing::error_of;
using fixtures::Json;
using testing::TempDir;

class PromptFormatTest : public ::testing::Test {
 protected:
  const Protocol protocol = load_protocol(testing::shared_data_dir());

  std::string demonstrations(const std::string& task, const std::string& language) const {
    return fixtures::raw_json("prompts.json")["tasks"][task]["languages"][language]["demonstrations"].get<std::string>();
  }
};

// Each case: the markers of a language's template, written out by hand.
struct HandTemplate {
  std::string task, language, file;
  std::vector<std::pair<std::string, std::string>> marker_then_field;  // e.g. {"\n前提: ", "premise"}
  std::string closing;                                                 // e.g. "\n答案: \""
};

const std::vector<HandTemplate> kHandTemplates = {
    {"snli", "en", "snli/snli_en600_test.json", {{"\nPremise: ", "premise"}, {"\nHypothesis: ", "hypothesis"}}, "\nAnswer: \""},
    {"snli", "zh", "snli/snli_zh600_test.json", {{"\n前提: ", "premise"}, {"\n假设: ", "hypothesis"}}, "\n答案: \""},
    {"snli", "de", "snli/snli_de600_test.json", {{"\nPrämisse: ", "premise"}, {"\nHypothese: ", "hypothesis"}}, "\nAntwort: \""},
    {"snli", "bn", "snli/snli_bn600_test.json", {{"\nভিত্তি: ", "premise"}, {"\nহাইপোথিসিস: ", "hypothesis"}}, "\nউত্তর: \""},
    {"snli", "no", "snli/snli_no600_test.json", {{"\nPremiss: ", "premise"}, {"\nHypotese: ", "hypothesis"}}, "\nSvar: \""},
    {"emotion", "en", "emotion/emotion_en500_test.json", {{"\n", "input"}}, "\nEmotion: \""},
    {"emotion", "zh", "emotion/emotion_zh500_test.json", {{"\n", "input"}}, "\n情感: \""},
    {"emotion", "th", "emotion/emotion_th500_test.json", {{"\n", "input"}}, "\nอารมณ์: \""},
    {"emotion", "ru", "emotion/emotion_ru500_test.json", {{"\n", "input"}}, "\nЭмоция: \""},
    {"paws", "en", "paws/paws_en500_test.json", {{"\nSentence 1: ", "sentence1"}, {"\nSentence 2: ", "sentence2"}}, "\nAnswer: \""},
    {"paws", "ja", "paws/paws_ja500_test.json", {{"\n文 1: ", "sentence1"}, {"\n文 2: ", "sentence2"}}, "\n答え: \""},
    {"paws", "sw", "paws/paws_sw500_test.json", {{"\nSentensi 1: ", "sentence1"}, {"\nSentensi 2: ", "sentence2"}}, "\nJibu: \""},
};

TEST_F(PromptFormatTest, PromptsEqualHandBuiltStrings) {
  size_t checked = 0;
  for (const HandTemplate& hand : kHandTemplates) {
    const Json raw = fixtures::raw_json(hand.file);
    const std::vector<TaskItem> items = read_test_set(protocol, hand.task, hand.language);
    for (size_t i : {size_t{0}, size_t{1}, size_t{137}, raw.size() - 1}) {
      std::string question;
      for (const auto& [marker, field] : hand.marker_then_field) question += marker + raw[i][field].get<std::string>();
      question += hand.closing;
      const std::string prompt = demonstrations(hand.task, hand.language) + question;
      const TaskProtocol& task = protocol.task(hand.task);
      EXPECT_EQ(evaluation_prompt(task, hand.language, items[i]), prompt) << hand.task << "/" << hand.language << " " << i;
      // The question drops the demonstrations and the newline after them.
      EXPECT_EQ(question_text(task, hand.language, items[i]), question.substr(1)) << hand.task << "/" << hand.language;
      EXPECT_EQ(prompt.back(), '"');
      ++checked;
    }
  }
  EXPECT_EQ(checked, 48u);
}

TEST_F(PromptFormatTest, EveryItemOfEverySetMatchesAPythonReference) {
  // The reference fills each template with Python's re.sub; it writes, per set, the questions (the
  // prompt after "{demonstrations}\n").
  TempDir dir;
  const std::string script = R"(
import json, re, sys
data = sys.argv[1]
prompts = json.load(open(data + '/prompts.json', encoding='utf-8'))
out = {}
for task, spec in prompts['tasks'].items():
    for lang, block in spec['languages'].items():
        body = block['template'][len('{demonstrations}\n'):]
        items = json.load(open(data + '/' + block['file'], encoding='utf-8'))
        out[task + '/' + lang] = [re.sub(r'\{(\w+)\}', lambda m: item[m.group(1)], body) for item in items]
json.dump(out, open(sys.argv[2], 'w', encoding='utf-8'), ensure_ascii=False)
)";
  io::write_file_atomically(dir / "reference.py", script);
  const auto result = testing::run_command(testing::python() + " " + testing::shell_quote((dir / "reference.py").string()) + " " +
                                           testing::shell_quote(testing::shared_data_dir().string()) + " " +
                                           testing::shell_quote((dir / "questions.json").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const Json reference = Json::parse(io::read_file(dir / "questions.json"));
  size_t checked = 0;
  for (const auto& task_name : protocol.task_names()) {
    const TaskProtocol& task = protocol.task(task_name);
    for (const auto& language : protocol.languages) {
      const Json& questions = reference.at(task_name + "/" + language);
      const std::vector<TaskItem> items = read_test_set(protocol, task_name, language);
      ASSERT_EQ(items.size(), questions.size());
      const std::string prefix = shared_prompt_prefix(task, language);
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string expected = questions[i].get<std::string>();
        ASSERT_EQ(question_text(task, language, items[i]), expected) << task_name << "/" << language << " " << i;
        const std::string prompt = evaluation_prompt(task, language, items[i]);
        ASSERT_EQ(prompt, task.language(language).demonstrations + "\n" + expected);
        ASSERT_EQ(prompt.compare(0, prefix.size(), prefix), 0) << task_name << "/" << language;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 20u * (500 + 600 + 500));
}

TEST_F(PromptFormatTest, SharedPrefixEndsBeforeTheFirstItemField) {
  EXPECT_EQ(shared_prompt_prefix(protocol.task("snli"), "zh"), demonstrations("snli", "zh") + "\n前提: ");
  EXPECT_EQ(shared_prompt_prefix(protocol.task("emotion"), "en"), demonstrations("emotion", "en") + "\n");
  EXPECT_EQ(shared_prompt_prefix(protocol.task("paws"), "de"), demonstrations("paws", "de") + "\nSatz 1: ");
}

TEST_F(PromptFormatTest, SameLanguagePromptsUseTheLensDemonstrations) {
  const Json lens = fixtures::raw_json("prompts.json")["tasks"]["emotion"]["lens"];
  const Json raw = fixtures::raw_json("emotion/emotion_zh500_test.json");
  const std::vector<TaskItem> items = read_test_set(protocol, "emotion", "zh");
  const std::string expected = lens["demonstrations"]["zh"].get<std::string>() + "\n" + raw[5]["input"].get<std::string>() + "\n情感: \"";
  EXPECT_EQ(evaluation_prompt(protocol.task("emotion"), "zh", items[5], AnswerType::same_language), expected);
  EXPECT_TRUE(contains(expected, "情感: \"积极\""));
  EXPECT_EQ(shared_prompt_prefix(protocol.task("emotion"), "zh", AnswerType::same_language),
            lens["demonstrations"]["zh"].get<std::string>() + "\n");

  // A language whose lens demonstrations are missing is refused by name.
  TaskProtocol without_german = protocol.task("emotion");
  without_german.lens->demonstrations.erase("de");
  const std::vector<TaskItem> german = read_test_set(protocol, "emotion", "de");
  const std::string missing =
      error_of([&] { evaluation_prompt(without_german, "de", german[0], AnswerType::same_language); });
  EXPECT_TRUE(contains(missing, "answer type same-language is not available for emotion/de")) << missing;
  EXPECT_TRUE(contains(missing, "zh")) << missing;
  const std::vector<TaskItem> snli = read_test_set(protocol, "snli", "en");
  EXPECT_TRUE(contains(error_of([&] { evaluation_prompt(protocol.task("snli"), "en", snli[0], AnswerType::same_language); }),
                       "no tasks.snli.output_types"));
}

TEST(RenderTemplate, FillsPlaceholdersOnceAndRejectsUnknownOnes) {
  EXPECT_EQ(render_template("a {x} b {y}{x}", {{"x", "1"}, {"y", "{x}"}}, "t"), "a 1 b {x}1");
  EXPECT_EQ(render_template("no placeholders", {}, "t"), "no placeholders");
  EXPECT_EQ(template_placeholders("{a}\n{b} {a}", "t"), (std::vector<std::string>{"a", "b", "a"}));
  EXPECT_EQ(error_of([] { render_template("{premise} {hypotesis}", {{"premise", "p"}}, "snli/xx item 4"); }),
            "snli/xx item 4: no value for the placeholder {hypotesis}");
  EXPECT_TRUE(contains(error_of([] { render_template("{premise", {{"premise", "p"}}, "t"); }), "t: template has an unclosed '{'"));
  EXPECT_TRUE(contains(error_of([] { render_template("a } b", {}, "t"); }), "'}' without '{'"));
  EXPECT_TRUE(contains(error_of([] { render_template("{a{b}}", {}, "t"); }), "unclosed '{'"));
  EXPECT_TRUE(contains(error_of([] { template_placeholders("x {} y", "t"); }), "empty placeholder"));
}

TEST_F(PromptFormatTest, ItemsWithoutTheTemplateFieldsAreRejected) {
  TaskItem item;
  item.index = 7;
  item.fields = {{"premise", "p"}};
  const std::string message = error_of([&] { evaluation_prompt(protocol.task("snli"), "zh", item); });
  EXPECT_EQ(message, "snli/zh item 7: no value for the placeholder {hypothesis}");
}

}  // namespace
}  // namespace qtalign::data
