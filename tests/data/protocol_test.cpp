#include "data/protocol.h"

#include <gtest/gtest.h>

#include "data/data_fixtures.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using testing::error_of;
using fixtures::Json;
using testing::TempDir;

const std::vector<std::string> kLanguages = {"en", "zh", "de", "fr", "es", "it", "nl", "ja", "ru", "sv",
                                             "sl", "pl", "bg", "no", "ms", "is", "hi", "th", "sw", "bn"};

TEST(Protocol, ReadsTheStudyProtocol) {
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  EXPECT_EQ(protocol.languages, kLanguages);  // SPEC section 4
  EXPECT_EQ(protocol.task_names(), (std::vector<std::string>{"emotion", "paws", "snli"}));
  // Shots and fields as SPEC section 6 and the data README state them.
  EXPECT_EQ(protocol.task("emotion").shots, 2);
  EXPECT_EQ(protocol.task("snli").shots, 6);
  EXPECT_EQ(protocol.task("paws").shots, 4);
  EXPECT_EQ(protocol.task("emotion").fields, (std::vector<std::string>{"input"}));
  EXPECT_EQ(protocol.task("snli").fields, (std::vector<std::string>{"premise", "hypothesis"}));
  EXPECT_EQ(protocol.task("paws").fields, (std::vector<std::string>{"sentence1", "sentence2"}));
  EXPECT_EQ(protocol.task("snli").labels, (std::vector<std::string>{"entailment", "neutral", "contradiction"}));
  EXPECT_EQ(protocol.task("emotion").labels, (std::vector<std::string>{"positive", "negative"}));
  // The README's label-word notes.
  EXPECT_EQ(protocol.task("snli").language("ja").answer_map.at("中性"), "neutral");
  EXPECT_EQ(protocol.task("snli").language("bn").answer_map.at("ধারণ করে"), "entailment");
  EXPECT_EQ(protocol.task("snli").language("no").answer_map.at("nøytral"), "contradiction");
  EXPECT_EQ(protocol.task("snli").language("no").answer_map.at("motsigelse"), "neutral");
  // The lens block belongs to emotion only, with native words and demonstrations for every language
  // prompts.json lists there (all 20 today).
  ASSERT_TRUE(protocol.task("emotion").lens.has_value());
  EXPECT_FALSE(protocol.task("snli").lens.has_value());
  const Json raw_lens = fixtures::raw_json("prompts.json")["tasks"]["emotion"]["lens"];
  EXPECT_EQ(protocol.task("emotion").lens->native_labels.size(), raw_lens["native_labels"].size());
  EXPECT_EQ(protocol.task("emotion").lens->demonstrations.size(), raw_lens["demonstrations"].size());
  for (const auto& [code, block] : raw_lens["demonstrations"].items())
    EXPECT_EQ(protocol.task("emotion").lens->demonstrations.at(code), block.get<std::string>()) << code;
  EXPECT_EQ(protocol.task("emotion").lens->native_labels.at("zh").at("positive"), "积极");
  // Question translation.
  const auto& qt = protocol.question_translation;
  EXPECT_EQ(qt.input_template, "{question_x}\nTranslate the input from {language_name} to English:\n");
  EXPECT_EQ(qt.language_name("zh"), "Chinese");
  EXPECT_EQ(qt.language_name("sw"), "Swahili");
  ASSERT_EQ(qt.shipped_sets.size(), 1u);
  EXPECT_EQ(qt.shipped_sets.at("snli").size(), 5u);
  EXPECT_EQ(qt.shipped_sets.at("snli").at("zh"), "snli/snli_zh10k_train_question.json");
  EXPECT_EQ(qt.english_source.at("paws"), "paws/paws_en10k_train.json");
  EXPECT_TRUE(contains(protocol.scoring, "prefix-sum"));
  EXPECT_EQ(protocol.test_set_path("snli", "zh"), testing::shared_data_dir() / "snli/snli_zh600_test.json");
}

TEST(Protocol, EveryLanguageBlockEqualsTheRawJson) {
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  const Json raw = fixtures::raw_json("prompts.json");
  size_t blocks = 0;
  for (const auto& [task_name, task_json] : raw["tasks"].items()) {
    const TaskProtocol& task = protocol.task(task_name);
    EXPECT_EQ(task.shots, task_json["shots"].get<int>());
    for (const auto& code : kLanguages) {
      const Json& block = task_json["languages"][code];
      const LanguageProtocol& language = task.language(code);
      EXPECT_EQ(language.demonstrations, block["demonstrations"].get<std::string>()) << task_name << "/" << code;
      EXPECT_EQ(language.template_text, block["template"].get<std::string>()) << task_name << "/" << code;
      EXPECT_EQ(language.answer_map, (block["answer_map"].get<std::map<std::string, std::string>>()));
      EXPECT_EQ(language.count, block["count"].get<int64_t>());
      EXPECT_EQ(language.file, block["file"].get<std::string>());
      ++blocks;
    }
  }
  EXPECT_EQ(blocks, 60u);
}

TEST(Protocol, UnknownTaskAndLanguageListTheValidOnes) {
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  const std::string task = error_of([&] { protocol.task("xnli"); });
  EXPECT_TRUE(contains(task, "unknown task 'xnli' (valid: emotion, paws, snli)")) << task;
  const std::string language = error_of([&] { protocol.task("snli").language("xx"); });
  EXPECT_TRUE(contains(language, "unknown language 'xx'")) << language;
  EXPECT_TRUE(contains(language, "bn, de, en")) << language;
  EXPECT_TRUE(contains(error_of([&] { protocol.require_language("EN"); }), "unknown language 'EN'"));
  EXPECT_TRUE(contains(error_of([&] { protocol.task("snli").lens_protocol(); }), "no logit-lens"));
}

TEST(Protocol, ParsesLanguageLists) {
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  EXPECT_EQ(parse_language_list(protocol, "zh, de,zh"), (std::vector<std::string>{"zh", "de"}));
  EXPECT_EQ(parse_language_list(protocol, "all"), kLanguages);
  EXPECT_TRUE(contains(error_of([&] { parse_language_list(protocol, "zh,xx"); }), "unknown language 'xx'"));
  EXPECT_TRUE(contains(error_of([&] { parse_language_list(protocol, "zh,"); }), "empty language"));
  EXPECT_TRUE(contains(error_of([&] { parse_language_list(protocol, ""); }), "empty language"));
}

// Loads a copy of prompts.json after `edit` and returns the error (or "" if it loads).
std::string load_error(const std::function<void(Json&)>& edit) {
  TempDir dir;
  fixtures::make_data_dir(dir.path(), edit);
  const std::string message = error_of([&] { load_protocol(dir.path()); });
  EXPECT_TRUE(contains(message, (dir.path() / "prompts.json").string())) << message;
  return message;
}

TEST(Protocol, MalformedPromptsJsonIsRejectedWithThePath) {
  TempDir unchanged;
  fixtures::make_data_dir(unchanged.path());
  EXPECT_NO_THROW(load_protocol(unchanged.path()));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["snli"]["languages"]["zh"].erase("template"); }),
                       "tasks.snli.languages.zh: missing field 'template'"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["paws"]["languages"].erase("sw"); }),
                       "tasks.paws.languages: missing language 'sw'"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["shots"] = "two"; }),
                       "tasks.emotion.shots: expected a positive integer"));
  // Found with data_fuzz's target: 2^32 + 1 shots used to become 1.
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["shots"] = 4294967297; }),
                       "tasks.emotion.shots: too large"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["snli"]["languages"]["de"]["answer_map"]["Neutral"] = "neutre"; }),
                       "tasks.snli.languages.de.answer_map.Neutral: 'neutre' is not one of the labels"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["snli"]["languages"]["de"]["answer_map"].erase("neutral"); }),
                       "does not cover every label"));
  EXPECT_TRUE(contains(load_error([](Json& p) {
                         p["tasks"]["snli"]["languages"]["zh"]["template"] = "{demonstrations}\n前提: {premis}\n假设: {hypothesis}\n答案: \"";
                       }),
                       "tasks.snli.languages.zh.template: uses the fields {premis, hypothesis}"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["paws"]["languages"]["de"]["template"] = "{demonstrations}\nSatz 1: {sentence1\n"; }),
                       "unclosed '{'"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["paws"]["languages"]["en"]["template"] = "Sentence 1: {sentence1}"; }),
                       "must start with"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["question_translation"]["language_names"].erase("bn"); }),
                       "question_translation.language_names: missing language 'bn'"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["question_translation"]["input_template"] = "{question_x} to English"; }),
                       "question_translation.input_template: expected exactly the placeholders"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["question_translation"]["shipped_sets"]["xx"] = "snli/x.json"; }),
                       "question_translation.shipped_sets.xx: unknown language"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["emotion"]["lens"]["native_labels"]["zh"].erase("negative"); }),
                       "tasks.emotion.lens.native_labels.zh: expected one word for each label"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p.erase("scoring"); }), "missing field 'scoring'"));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["languages"].push_back("zh"); }), "languages: 'zh' appears twice"));
}

// English comes first in the languages list; a field renamed in its template alone is its fault, not
// that of the next language compared with it.
TEST(Protocol, ATemplateWhoseFieldsDifferFromMostIsTheOneBlamed) {
  const std::string message = load_error([](Json& p) {
    p["tasks"]["snli"]["languages"]["en"]["template"] =
        "{demonstrations}\nPremise: {premis}\nHypothesis: {hypothesis}\nAnswer: \"";
  });
  EXPECT_TRUE(contains(message, "tasks.snli.languages.en.template: uses the fields {premis, hypothesis}, most "
                                "languages {premise, hypothesis}"))
      << message;
}

// A file named by prompts.json lies in the data directory: test sets, shipped training sets and the
// English sources are read (and shown in prompts), so "../.." or an absolute path would read any file.
TEST(Protocol, FilesOutsideTheDataDirectoryAreRefused) {
  const std::string outside = "is not a file inside the data directory";
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["snli"]["languages"]["zh"]["file"] = "../../etc/passwd"; }),
                       "tasks.snli.languages.zh.file: '../../etc/passwd' " + outside));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["paws"]["languages"]["de"]["file"] = "/etc/passwd"; }),
                       "tasks.paws.languages.de.file: '/etc/passwd' " + outside));
  EXPECT_TRUE(contains(load_error([](Json& p) {
                         p["question_translation"]["shipped_sets"]["zh"] = "snli/../../../etc/passwd";
                       }),
                       "question_translation.shipped_sets.zh: 'snli/../../../etc/passwd' " + outside));
  EXPECT_TRUE(contains(load_error([](Json& p) { p["question_translation"]["english_source"]["snli"] = "/etc/passwd"; }),
                       "question_translation.english_source.snli: '/etc/passwd' " + outside));
}

TEST(Protocol, InvalidJsonNamesTheFile) {
  TempDir dir;
  io::write_file_atomically(dir / "prompts.json", "{\"languages\": [\"en\",");
  const std::string message = error_of([&] { load_protocol(dir.path()); });
  EXPECT_TRUE(contains(message, (dir / "prompts.json").string() + ": invalid JSON")) << message;
}

TEST(Protocol, ShotsMustCountTheDemonstrationsEachLanguageHolds) {
  // The shipped snli blocks hold 6 demonstrations each.
  EXPECT_TRUE(contains(load_error([](Json& p) { p["tasks"]["snli"]["shots"] = 5; }),
                       "tasks.snli.languages.bg.demonstrations: holds 6 demonstrations (answer lines ending in a "
                       "quoted label), but the task's shots is 5"));
  EXPECT_TRUE(contains(load_error([](Json& p) {
                         std::string& block = p["tasks"]["paws"]["languages"]["de"]["demonstrations"].get_ref<std::string&>();
                         block = block.substr(0, block.rfind('\n'));  // drops the last answer line
                       }),
                       "tasks.paws.languages.de.demonstrations: holds 3 demonstrations"));
}

}  // namespace
}  // namespace qtalign::data
