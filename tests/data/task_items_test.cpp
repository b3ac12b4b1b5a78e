#include "data/task_items.h"

#include <gtest/gtest.h>

#include "data/data_fixtures.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using testing::error_of;
using fixtures::Json;
using testing::TempDir;

class TaskItemsTest : public ::testing::Test {
 protected:
  const Protocol protocol = load_protocol(testing::shared_data_dir());
};

TEST_F(TaskItemsTest, ReadsItemsWithTheirFieldsAndEnglishLabels) {
  const std::vector<TaskItem> items = read_test_set(protocol, "snli", "zh");
  const Json raw = fixtures::raw_json("snli/snli_zh600_test.json");
  ASSERT_EQ(items.size(), 600u);
  for (size_t i : {size_t{0}, size_t{1}, size_t{299}, size_t{599}}) {
    EXPECT_EQ(items[i].index, i);
    EXPECT_EQ(items[i].fields.at("premise"), raw[i]["premise"].get<std::string>());
    EXPECT_EQ(items[i].fields.at("hypothesis"), raw[i]["hypothesis"].get<std::string>());
    EXPECT_EQ(items[i].fields.size(), 2u);
    EXPECT_EQ(items[i].answer, raw[i]["answer"].get<std::string>());
  }
  EXPECT_EQ(items[0].answer, "中立");
  EXPECT_EQ(items[0].label, "neutral");
  EXPECT_EQ(items[1].label, "entailment");
}

// The README's description of the sets: counts, labels balanced, parallel to English item by item.
TEST_F(TaskItemsTest, AllSixtyTestSetsAreBalancedAndParallelToEnglish) {
  const std::map<std::string, size_t> per_label = {{"emotion", 250}, {"snli", 200}, {"paws", 250}};
  size_t files = 0, items_read = 0;
  for (const auto& task : protocol.task_names()) {
    const std::vector<TaskItem> english = read_test_set(protocol, task, "en");
    for (const auto& language : protocol.languages) {
      const std::vector<TaskItem> items = read_test_set(protocol, task, language);
      ASSERT_EQ(items.size(), english.size()) << task << "/" << language;
      std::map<std::string, size_t> counts;
      for (size_t i = 0; i < items.size(); ++i) {
        ++counts[items[i].label];
        EXPECT_EQ(items[i].label, english[i].label) << task << "/" << language << " item " << i;
      }
      for (const auto& label : protocol.task(task).labels) EXPECT_EQ(counts[label], per_label.at(task)) << task << "/" << language;
      ++files;
      items_read += items.size();
    }
  }
  EXPECT_EQ(files, 60u);
  EXPECT_EQ(items_read, 20u * (500 + 600 + 500));
}

// The English training files do not fit the answer maps: they are read for their questions only.
TEST_F(TaskItemsTest, TrainingFilesAreReadWithoutAnswers) {
  const auto snli_train = protocol.path_of(protocol.question_translation.english_source.at("snli"));
  const std::string missing = error_of([&] { read_task_items(snli_train, protocol.task("snli"), "en"); });
  EXPECT_TRUE(contains(missing, "snli_en10k_train.json: language en: item 531: missing field 'answer'")) << missing;
  const auto snli_items = read_task_items(snli_train, protocol.task("snli"), "en", Answers::ignored);
  ASSERT_EQ(snli_items.size(), 10000u);
  EXPECT_EQ(snli_items[531].fields.at("hypothesis"), "He is outside.");
  EXPECT_TRUE(snli_items[0].answer.empty());
  EXPECT_TRUE(snli_items[0].label.empty());

  const auto paws_train = protocol.path_of(protocol.question_translation.english_source.at("paws"));
  const std::string unknown = error_of([&] { read_task_items(paws_train, protocol.task("paws"), "en"); });
  EXPECT_TRUE(contains(unknown, "item 0: answer '")) << unknown;
  EXPECT_TRUE(contains(unknown, "is not a paws answer for language en (known: 'different', 'same')")) << unknown;
  EXPECT_EQ(read_task_items(paws_train, protocol.task("paws"), "en", Answers::ignored).size(), 10000u);
  // Fields stay required.
  TempDir dir;
  io::write_file_atomically(dir / "x.json", "[{\"sentence1\": \"a\"}]");
  EXPECT_TRUE(contains(error_of([&] { read_task_items(dir / "x.json", protocol.task("paws"), "en", Answers::ignored); }),
                       "language en: template field {sentence2}: no item has it"));
}

TEST_F(TaskItemsTest, ReadsJsonLinesLikeArrays) {
  TempDir dir;
  io::write_file_atomically(dir / "items.jsonl",
                            "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"answer\": \"same\"}\n\n"
                            "{\"sentence1\": \"c\", \"sentence2\": \"d\", \"answer\": \"different\"}\n");
  const std::vector<TaskItem> items = read_task_items(dir / "items.jsonl", protocol.task("paws"), "en");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].fields.at("sentence1"), "c");
  EXPECT_EQ(items[1].label, "different");
  EXPECT_EQ(items[1].index, 1u);
}

// Writes `contents` as a snli file and returns the error of reading it as snli/<language>.
std::string snli_error(const Protocol& protocol, const std::string& contents, const std::string& language = "de") {
  TempDir dir;
  const auto file = dir / "snli_test.json";
  io::write_file_atomically(file, contents);
  const std::string message = error_of([&] { read_task_items(file, protocol.task("snli"), language); });
  EXPECT_TRUE(contains(message, file.string() + ": ")) << message;
  return message;
}

TEST_F(TaskItemsTest, BadFilesAreRejectedNamingTheFileAndItem) {
  const std::string good = "{\"premise\": \"p\", \"hypothesis\": \"h\", \"answer\": \"neutral\"}";
  EXPECT_TRUE(contains(snli_error(protocol, "[" + good + ", {\"premise\": \"p\", \"answer\": \"neutral\"}]"),
                       "item 1: missing field 'hypothesis'"));
  EXPECT_TRUE(contains(snli_error(protocol, "[" + good + ", " + good + ", {\"premise\": \"p\", \"hypothesis\": \"h\", \"answer\": \"vielleicht\"}]"),
                       "item 2: answer 'vielleicht' is not a snli answer for language de"));
  EXPECT_TRUE(contains(snli_error(protocol, "[" + good + "]", "zh"), "item 0: answer 'neutral' is not a snli answer"));
  EXPECT_TRUE(contains(snli_error(protocol, "[{\"premise\": 3, \"hypothesis\": \"h\", \"answer\": \"neutral\"}]"),
                       "item 0: field 'premise' has the wrong type"));
  EXPECT_TRUE(contains(snli_error(protocol, "[]"), "no items"));
  EXPECT_TRUE(contains(snli_error(protocol, "  \n"), "file is empty"));
  EXPECT_TRUE(contains(snli_error(protocol, "[" + good + ","), "invalid JSON"));
  EXPECT_TRUE(contains(snli_error(protocol, "[\"premise\"]"), "record 0 is not a JSON object"));
  EXPECT_TRUE(contains(snli_error(protocol, "[{\"premise\": \"caf\xC3\x28\", \"hypothesis\": \"h\", \"answer\": \"neutral\"}]"),
                       "invalid JSON"));
  const std::string missing = error_of([&] { read_task_items("/nonexistent/x.json", protocol.task("snli"), "de"); });
  EXPECT_TRUE(contains(missing, "/nonexistent/x.json: no such file")) << missing;
  EXPECT_TRUE(contains(error_of([&] { read_task_items("/nonexistent/x.json", protocol.task("snli"), "xx"); }),
                       "unknown language 'xx'"));
}

TEST_F(TaskItemsTest, TestSetCountMustMatchPromptsJson) {
  TempDir dir;
  fixtures::make_data_dir(dir.path(), [](Json& p) { p["tasks"]["paws"]["languages"]["fr"]["count"] = 501; });
  const Protocol edited = load_protocol(dir.path());
  const std::string message = error_of([&] { read_test_set(edited, "paws", "fr"); });
  EXPECT_TRUE(contains(message, "paws_fr500_test.json: 500 items, but prompts.json says 501")) << message;
}

TEST_F(TaskItemsTest, OneTestItemIsItsTestSetsItemOrAnErrorNamingTheFile) {
  const std::vector<TaskItem> items = read_test_set(protocol, "paws", "fr");
  const TaskItem last = read_test_item(protocol, "paws", "fr", 499);
  EXPECT_EQ(last.index, 499u);
  EXPECT_EQ(last.fields, items[499].fields);
  EXPECT_EQ(last.label, items[499].label);
  EXPECT_EQ(error_of([&] { read_test_item(protocol, "paws", "fr", 500); }),
            protocol.test_set_path("paws", "fr").string() + ": no item 500 (it has 500 items, numbered from 0)");
  EXPECT_TRUE(contains(error_of([&] { read_test_item(protocol, "paws", "xx", 0); }), "unknown language 'xx'"));
}

}  // namespace
}  // namespace qtalign::data
