#include "eval/few_shot.h"

#include <gtest/gtest.h>

#include <regex>

#include "data/prompt_format.h"
#include "data/task_items.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::eval {
namespace {

// Lines of a block that end with a quoted label (trailing blanks allowed).
int answer_lines(const std::string& block, const std::vector<std::string>& labels) {
  int count = 0;
  std::string alternatives;
  for (const std::string& label : labels) alternatives += (alternatives.empty() ? "" : "|") + label;
  const std::regex answer("\"(" + alternatives + ")\"[ \t]*$");
  size_t start = 0;
  while (start <= block.size()) {
    size_t end = block.find('\n', start);
    if (end == std::string::npos) end = block.size();
    if (std::regex_search(block.substr(start, end - start), answer)) ++count;
    start = end + 1;
  }
  return count;
}

class FewShot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { protocol_ = new data::Protocol(data::load_protocol(testing::shared_data_dir())); }
  static void TearDownTestSuite() { delete protocol_; }
  static const data::Protocol& protocol() { return *protocol_; }

 private:
  static data::Protocol* protocol_;
};
data::Protocol* FewShot::protocol_ = nullptr;

TEST_F(FewShot, TheTasksOwnShotCountChangesNothing) {
  const data::TaskProtocol& snli = protocol().task("snli");
  const data::TaskProtocol same = with_shots(snli, snli.shots);
  for (const auto& [language, original] : snli.languages) {
    EXPECT_EQ(same.languages.at(language).demonstrations, original.demonstrations);
    EXPECT_EQ(same.languages.at(language).template_text, original.template_text);
  }
}

TEST_F(FewShot, CutsEveryLanguageAfterItsKthAnswerLine) {
  for (const std::string task_name : {"emotion", "snli", "paws"}) {
    const data::TaskProtocol& task = protocol().task(task_name);
    for (int shots = 1; shots < task.shots; ++shots) {
      const data::TaskProtocol cut = with_shots(task, shots);
      EXPECT_EQ(cut.shots, shots);
      for (const auto& [language, original] : task.languages) {
        const std::string& block = cut.languages.at(language).demonstrations;
        SCOPED_TRACE(task_name + "/" + language + " shots " + std::to_string(shots));
        ASSERT_LT(block.size(), original.demonstrations.size());
        EXPECT_EQ(original.demonstrations.compare(0, block.size(), block), 0);  // a prefix of the block
        EXPECT_EQ(original.demonstrations[block.size()], '\n');                // ends at a line end
        EXPECT_EQ(answer_lines(block, task.labels), shots);
        EXPECT_EQ(answer_lines(original.demonstrations.substr(block.size()), task.labels), task.shots - shots);
        EXPECT_EQ(cut.languages.at(language).template_text, original.template_text);
      }
    }
  }
}

TEST_F(FewShot, KeepsTrailingBlanksOfTheLastKeptAnswer) {
  // The first English emotion answer line carries trailing spaces in the study's prompt.
  const data::TaskProtocol cut = with_shots(protocol().task("emotion"), 1);
  const std::string& block = cut.languages.at("en").demonstrations;
  EXPECT_EQ(block.back(), ' ');
  EXPECT_NE(block.find("\"positive\" "), std::string::npos);
}

TEST_F(FewShot, ZeroShotsIsTheBareQuestion) {
  const data::TaskProtocol& paws = protocol().task("paws");
  const data::TaskProtocol zero = with_shots(paws, 0);
  for (const std::string language : {"en", "zh", "bn"}) {
    const std::vector<data::TaskItem> items = data::read_test_set(protocol(), "paws", language);
    EXPECT_EQ(data::evaluation_prompt(zero, language, items[3]), data::question_text(paws, language, items[3]));
  }
}

// --shots 0: the prompt is the item alone, exactly as the template formats it, under every answer type.
TEST_F(FewShot, ZeroShotPromptsAreTheItemAloneBuiltByHand) {
  const data::TaskProtocol zero_snli = with_shots(protocol().task("snli"), 0);
  const std::vector<data::TaskItem> snli = data::read_test_set(protocol(), "snli", "zh");
  const std::string expected_snli = "前提: " + snli[5].fields.at("premise") + "\n假设: " + snli[5].fields.at("hypothesis") +
                                    "\n答案: \"";
  EXPECT_EQ(data::evaluation_prompt(zero_snli, "zh", snli[5]), expected_snli);
  EXPECT_EQ(zero_snli.shots, 0);

  const data::TaskProtocol zero_emotion = with_shots(protocol().task("emotion"), 0);
  for (const data::AnswerType type :
       {data::AnswerType::english, data::AnswerType::same_language, data::AnswerType::task_agnostic}) {
    const std::vector<data::TaskItem> th = data::read_test_set(protocol(), "emotion", "th");
    EXPECT_EQ(data::evaluation_prompt(zero_emotion, "th", th[0], type), th[0].fields.at("input") + "\nอารมณ์: \"");
    const std::vector<data::TaskItem> en = data::read_test_set(protocol(), "emotion", "en");
    EXPECT_EQ(data::evaluation_prompt(zero_emotion, "en", en[1], type), en[1].fields.at("input") + "\nEmotion: \"");
    // The shared prefix of a zero-shot prompt is empty: the item starts it.
    EXPECT_EQ(data::shared_prompt_prefix(zero_emotion, "en", type), "");
  }
  // Thai still forces its prefix (appended as tokens when scoring).
  EXPECT_EQ(data::answer_words(zero_emotion, "th", data::AnswerType::same_language).forced_prefix, "เชิง");
}

// Same-language prompts use the lens blocks, cut after their k-th native answer.
TEST_F(FewShot, CutsTheSameLanguageBlocksAfterTheirNativeAnswers) {
  const data::TaskProtocol one = with_shots(protocol().task("emotion"), 1);
  const std::string zh = data::answer_words(one, "zh", data::AnswerType::same_language).demonstrations;
  EXPECT_EQ(zh, "一开始有点慢，但一旦植入式笑话开始，它就会起飞。\n情感: \"积极\"");
  const std::string th = data::answer_words(one, "th", data::AnswerType::same_language).demonstrations;
  EXPECT_EQ(answer_lines(th, {"เชิงบวก", "เชิงลบ"}), 1);
  EXPECT_EQ(th.substr(th.size() - std::string("\"เชิงบวก\"").size()), "\"เชิงบวก\"");
  // Task-agnostic follows the cut English block.
  EXPECT_EQ(data::answer_words(one, "en", data::AnswerType::task_agnostic).demonstrations,
            "It starts off a bit slow, but once the product placement jokes start it takes off.\nEmotion: \"ox\"             ");
}

TEST_F(FewShot, RejectsShotCountsOutsideTheProtocol) {
  const data::TaskProtocol& emotion = protocol().task("emotion");
  EXPECT_THROW(with_shots(emotion, 3), Error);
  EXPECT_THROW(with_shots(emotion, -1), Error);
}

}  // namespace
}  // namespace qtalign::eval
