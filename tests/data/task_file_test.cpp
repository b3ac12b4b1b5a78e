#include "data/task_file.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "data/data_fixtures.h"
#include "data/prompt_format.h"
#include "data/task_check.h"
#include "data/task_items.h"
#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using fixtures::Json;
using testing::error_of;
using testing::TempDir;

// The study's tasks written as task files read back into the very prompts prompts.json gives: every
// item of every language (20 x (500 + 600 + 500) = 32,000 prompts), and the same-language prompts of
// the emotion lens block.
TEST(TaskFile, StudyTasksAsTaskFilesGiveByteIdenticalPrompts) {
  const Protocol protocol = load_protocol(testing::shared_data_dir());
  TempDir dir;
  size_t compared = 0;
  for (const std::string& name : protocol.study_task_names()) {
    const auto file = dir / (name + ".json");
    io::write_file_atomically(file, study_task_file(protocol, name).dump(2));
    const TaskProtocol from_file = read_task_file(file);
    const TaskProtocol& study = protocol.task(name);
    EXPECT_EQ(from_file.name, name);
    EXPECT_EQ(from_file.language_order, protocol.languages);
    EXPECT_EQ(from_file.fields, study.fields);
    EXPECT_EQ(from_file.labels, study.labels);
    for (const std::string& language : protocol.languages) {
      const std::vector<TaskItem> items = read_test_set(protocol, name, language);
      const std::vector<TaskItem> file_items = read_task_items(from_file.language(language).file, from_file, language);
      ASSERT_EQ(items.size(), file_items.size());
      for (size_t i = 0; i < items.size(); ++i) {
        ASSERT_EQ(evaluation_prompt(from_file, language, file_items[i]), evaluation_prompt(study, language, items[i]))
            << name << "/" << language << " item " << i;
        ASSERT_EQ(file_items[i].label, items[i].label);
        ++compared;
      }
      EXPECT_EQ(shared_prompt_prefix(from_file, language), shared_prompt_prefix(study, language));
      if (study.lens && study.lens->native_labels.count(language))
        EXPECT_EQ(evaluation_prompt(from_file, language, file_items[0], AnswerType::same_language),
                  evaluation_prompt(study, language, items[0], AnswerType::same_language));
    }
  }
  EXPECT_EQ(compared, 32000u);
}

// A small multiple-choice benchmark: 4 options, 3 languages (eu is none of the study's 20), one
// template with translated words, answers given as option text (en), as a letter (de) and as an index
// through an answer map (eu), items as JSONL, JSON and TSV.
struct ChoiceTask {
  TempDir dir;
  std::filesystem::path file = dir / "capitals.json";
  // Item files live in a subfolder: every *.json file of a tasks directory is a task file.
  ChoiceTask() {
    std::filesystem::create_directory(dir / "items");
    io::write_file_atomically(dir / "items/en.jsonl",
                              "{\"q\": \"Capital of France?\", \"a\": \"Paris\", \"b\": \"Rome\", \"c\": \"Oslo\", \"d\": \"Bern\", \"gold\": \"Paris\"}\n"
                              "{\"q\": \"Capital of Italy?\", \"a\": \"Oslo\", \"b\": \"Rome\", \"c\": \"Paris\", \"d\": \"Bern\", \"gold\": \"Rome\"}\n");
    io::write_file_atomically(dir / "items/de.json",
                              "[{\"q\": \"Hauptstadt Frankreichs?\", \"a\": \"Paris\", \"b\": \"Rom\", \"c\": \"Oslo\", \"d\": \"Bern\", \"gold\": \"A\"},"
                              " {\"q\": \"Hauptstadt Italiens?\", \"a\": \"Oslo\", \"b\": \"Rom\", \"c\": \"Paris\", \"d\": \"Bern\", \"gold\": \"B\"}]");
    io::write_file_atomically(dir / "items/eu.tsv",
                              "galdera\ta\tb\tc\td\tgold\n"
                              "Frantziako hiriburua?\tParis\tErroma\tOslo\tBerna\t0\n"
                              "Italiako hiriburua?\tOslo\tErroma\tParis\tBerna\t1\n");
  }
  void write(const std::function<void(Json&)>& edit = {}) {
    Json task = Json::parse(R"({
      "options": ["a", "b", "c", "d"],
      "shots": 1,
      "template": "{demonstrations}\n{Q}: {question}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\n{Answer}: \"",
      "items": {"fields": {"question": "q"}, "answer": "gold"},
      "languages": [
        {"code": "en", "name": "English", "items": "items/en.jsonl", "words": {"Q": "Question", "Answer": "Answer"},
         "demonstrations": "Question: Capital of Spain?\nA. Lima\nB. Madrid\nC. Kyiv\nD. Oslo\nAnswer: \"B\""},
        {"code": "de", "name": "German", "items": "items/de.json", "words": {"Q": "Frage", "Answer": "Antwort"},
         "demonstrations": "Frage: Hauptstadt Spaniens?\nA. Lima\nB. Madrid\nC. Kiew\nD. Oslo\nAntwort: \"B\""},
        {"code": "eu", "name": "Basque", "items": {"file": "items/eu.tsv", "fields": {"question": "galdera"},
                                                   "answer_map": {"0": "A", "1": "B", "2": "C", "3": "D"}},
         "words": {"Q": "Galdera", "Answer": "Erantzuna"},
         "demonstrations": "Galdera: Espainiako hiriburua?\nA. Lima\nB. Madril\nC. Kiev\nD. Oslo\nErantzuna: \"B\""}
      ]})");
    if (edit) edit(task);
    io::write_file_atomically(file, task.dump(1));
  }
};

TEST(TaskFile, ReadsAMultipleChoiceTaskInThreeLanguages) {
  ChoiceTask fixture;
  fixture.write();
  const TaskProtocol task = read_task_file(fixture.file);
  EXPECT_EQ(task.name, "capitals");
  EXPECT_EQ(task.labels, (std::vector<std::string>{"A", "B", "C", "D"}));
  EXPECT_EQ(task.fields, (std::vector<std::string>{"question", "a", "b", "c", "d"}));
  EXPECT_EQ(task.language_order, (std::vector<std::string>{"en", "de", "eu"}));
  EXPECT_EQ(task.language_names.at("eu"), "Basque");
  for (const std::string& language : task.language_order) {
    const std::vector<TaskItem> items = read_task_items(task.language(language).file, task, language);
    ASSERT_EQ(items.size(), 2u) << language;
    EXPECT_EQ(items[0].label, "A") << language;
    EXPECT_EQ(items[1].label, "B") << language;
  }
  const std::vector<TaskItem> eu = read_task_items(task.language("eu").file, task, "eu");
  EXPECT_EQ(evaluation_prompt(task, "eu", eu[1]),
            "Galdera: Espainiako hiriburua?\nA. Lima\nB. Madril\nC. Kiev\nD. Oslo\nErantzuna: \"B\"\n"
            "Galdera: Italiako hiriburua?\nA. Oslo\nB. Erroma\nC. Paris\nD. Berna\nErantzuna: \"");
}

// Demonstrations drawn from a dev file: balanced over the labels (interleaved in label order), the
// same for the same seed, other items for another seed, each an item of the dev file with its label.
TEST(TaskFile, DevDemonstrationsAreLabelBalancedAndSeeded) {
  TempDir dir;
  std::string dev;
  const std::vector<std::string> labels = {"yes", "no", "maybe"};
  for (int i = 0; i < 30; ++i)
    dev += fmt::format("{{\"text\": \"sentence {}\", \"label\": \"{}\"}}\n", i, labels[static_cast<size_t>(i) % 3]);
  io::write_file_atomically(dir / "dev.jsonl", dev);
  io::write_file_atomically(dir / "test.jsonl", "{\"text\": \"t\", \"label\": \"no\"}\n");
  const auto write = [&](const std::string& name, int seed) {
    io::write_file_atomically(dir / name, fmt::format(R"({{"labels": ["yes", "no", "maybe"], "shots": 6,
      "template": "{{demonstrations}}\nText: {{text}}\nLabel: \"", "items": {{"answer": "label"}},
      "demonstrations": {{"seed": {}}},
      "languages": [{{"code": "en", "name": "English", "items": "test.jsonl", "demonstrations": {{"dev": "dev.jsonl"}}}}]}})",
                                                      seed));
    return read_task_file(dir / name).language("en").demonstrations;
  };
  const std::string first = write("a.json", 7);
  EXPECT_EQ(write("b.json", 7), first);
  EXPECT_NE(write("c.json", 8), first);
  std::vector<std::string> lines;
  for (size_t start = 0, end; start <= first.size(); start = end + 1) {
    end = first.find('\n', start);
    if (end == std::string::npos) end = first.size();
    lines.push_back(first.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 12u);  // six (text, label) pairs
  std::set<std::string> texts;
  for (size_t shot = 0; shot < 6; ++shot) {
    const std::string& label = labels[shot % 3];
    EXPECT_EQ(lines[2 * shot + 1], "Label: \"" + label + "\"") << first;
    const int number = std::stoi(lines[2 * shot].substr(std::string("Text: sentence ").size()));
    EXPECT_EQ(labels[static_cast<size_t>(number) % 3], label) << "a dev item shown with another label: " << first;
    texts.insert(lines[2 * shot]);
  }
  EXPECT_EQ(texts.size(), 6u);
  // Too few items of a label for the balance: refused, naming the label.
  io::write_file_atomically(dir / "dev.jsonl", "{\"text\": \"x\", \"label\": \"yes\"}\n{\"text\": \"y\", \"label\": \"no\"}\n"
                                               "{\"text\": \"z\", \"label\": \"maybe\"}\n");
  EXPECT_TRUE(contains(error_of([&] { write("d.json", 7); }), "need 2 items labelled 'yes', the dev file has 1"));
}

// Option-text scoring (an XCOPA-like continuation task): the options need not be shown, every item
// carries them, and each demonstration drawn from the dev file is answered with its gold option's text.
TEST(TaskFile, OptionTextScoringAnswersDemonstrationsWithTheOptionsText) {
  TempDir dir;
  std::string dev;
  for (int i = 0; i < 6; ++i)
    dev += fmt::format("{{\"premise\": \"premise {}\", \"first\": \"first {}\", \"second\": \"second {}\", \"gold\": {}}}\n", i,
                       i, i, i % 2);
  io::write_file_atomically(dir / "dev.jsonl", dev);
  io::write_file_atomically(dir / "test.jsonl",
                            "{\"premise\": \"The glass fell.\", \"first\": \"It broke\", \"second\": \"It sang\", \"gold\": 0}\n");
  io::write_file_atomically(dir / "copa.json", R"({"options": ["first", "second"], "scoring": "option_text", "shots": 4,
    "template": "{demonstrations}\nPremise: {premise}\nSo: \"", "items": {"answer": "gold", "answer_map": {"0": "A", "1": "B"}},
    "languages": [{"code": "en", "name": "English", "items": "test.jsonl", "demonstrations": {"dev": "dev.jsonl", "seed": 3}}]})");
  const TaskProtocol task = read_task_file(dir / "copa.json");
  EXPECT_EQ(task.option_scoring, OptionScoring::option_text);
  EXPECT_EQ(task.fields, (std::vector<std::string>{"premise"}));
  EXPECT_EQ(task.item_fields(), (std::vector<std::string>{"premise", "first", "second"}));
  const std::vector<TaskItem> items = read_task_items(task.language("en").file, task, "en");
  EXPECT_EQ(items[0].fields.at("second"), "It sang");
  EXPECT_EQ(items[0].label, "A");
  // Four demonstrations, labels A B A B: each line pair a dev item and the text of its gold option.
  const std::string& block = task.language("en").demonstrations;
  const std::vector<std::string>& answers = task.language("en").demonstration_answers;
  ASSERT_EQ(answers.size(), 4u) << block;
  EXPECT_EQ(task.demonstration_words("en"), answers);
  size_t start = 0;
  for (size_t shot = 0; shot < 4; ++shot) {
    const size_t line = block.find('\n', start);
    const int number = std::stoi(block.substr(start + std::string("Premise: premise ").size()));
    EXPECT_EQ(number % 2, static_cast<int>(shot % 2)) << block;
    const std::string expected = (shot % 2 == 0 ? "first " : "second ") + std::to_string(number);
    EXPECT_EQ(answers[shot], expected);
    const size_t end = block.find('\n', line + 1);
    EXPECT_EQ(block.substr(line + 1, (end == std::string::npos ? block.size() : end) - line - 1), "So: \"" + expected + "\"");
    start = end + 1;
  }
}

// `task check` refuses each problem with one line naming the field, the language and the item.
TEST(TaskCheck, RefusesEachProblemWithALocatedError) {
  const auto refusal = [](const std::function<void(Json&)>& edit, const std::function<void(ChoiceTask&)>& files = {}) {
    ChoiceTask fixture;
    if (files) files(fixture);
    fixture.write(edit);
    const std::string message = error_of([&] { check_task_file(fixture.file); });
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  };
  // A label outside the label set.
  EXPECT_TRUE(contains(refusal([](Json& t) { t["languages"][2]["items"]["answer_map"]["3"] = "E"; }),
                       "languages.eu.items.answer_map.3: 'E' is not one of the labels A, B, C, D"));
  // An item missing a field.
  EXPECT_TRUE(contains(refusal({}, [](ChoiceTask& f) {
                         io::write_file_atomically(f.dir / "items/de.json",
                                                   "[{\"q\": \"x\", \"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"d\": \"4\", \"gold\": \"A\"},"
                                                   " {\"q\": \"y\", \"a\": \"1\", \"b\": \"2\", \"d\": \"4\", \"gold\": \"A\"}]");
                       }),
                       "de.json: language de: item 1: missing field 'c'"));
  // A language without a template.
  EXPECT_TRUE(contains(refusal([](Json& t) {
                         t.erase("template");
                         t["languages"][0]["template"] = "{demonstrations}\n{question} {a} {b} {c} {d}\n\"";
                         t["languages"][1]["template"] = "{demonstrations}\n{question} {a} {b} {c} {d}\n\"";
                       }),
                       "languages.eu: no template (give languages.eu.template or a top-level template)"));
  // A template field no item has.
  EXPECT_TRUE(contains(refusal([](Json& t) { t["items"]["fields"]["question"] = "frage"; }),
                       "language en: template field {question} (column 'frage'): no item has it"));
  // Duplicate options: in the task file, and within an item.
  EXPECT_TRUE(contains(refusal([](Json& t) { t["options"] = {"a", "b", "a", "d"}; }), "options: 'a' appears twice"));
  EXPECT_TRUE(contains(refusal({}, [](ChoiceTask& f) {
                         io::write_file_atomically(f.dir / "items/en.jsonl",
                                                   "{\"q\": \"x\", \"a\": \"Paris\", \"b\": \"Rome\", \"c\": \"Paris\", \"d\": \"Bern\", \"gold\": \"A\"}\n");
                       }),
                       "en.jsonl: language en: item 0: options A and C ({a}, {c}) are both 'Paris'"));
  // An empty file: the task file, and a language's items.
  {
    ChoiceTask fixture;
    io::write_file_atomically(fixture.file, "");
    EXPECT_TRUE(contains(error_of([&] { check_task_file(fixture.file); }), "capitals.json: file is empty"));
  }
  EXPECT_TRUE(contains(refusal({}, [](ChoiceTask& f) { io::write_file_atomically(f.dir / "items/eu.tsv", ""); }),
                       "eu.tsv: file is empty"));
  // An answer that is neither mapped nor an option's text, located by language and item.
  EXPECT_TRUE(contains(refusal({}, [](ChoiceTask& f) {
                         io::write_file_atomically(f.dir / "items/en.jsonl",
                                                   "{\"q\": \"x\", \"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"d\": \"4\", \"gold\": \"Lyon\"}\n");
                       }),
                       "language en: item 0: answer 'Lyon' is not a capitals answer for language en"));
  // A scoring that is neither rule, option text without options, option text with a written-out block.
  EXPECT_TRUE(contains(refusal([](Json& t) { t["scoring"] = "logits"; }),
                       "capitals.json: scoring: 'logits' is not one of letters, option_text"));
  EXPECT_TRUE(contains(refusal([](Json& t) {
                         t["scoring"] = "option_text";
                         t.erase("options");
                         t["labels"] = {"A", "B", "C", "D"};
                       }),
                       "scoring: option_text scores each item's options, and the task has no \"options\""));
  EXPECT_TRUE(contains(refusal([](Json& t) { t["scoring"] = "option_text"; }),
                       "languages.en.demonstrations: option_text scoring draws its demonstrations from a dev file"));
  // A misspelt key.
  EXPECT_TRUE(contains(refusal([](Json& t) { t["languages"][1]["demonstration"] = "x"; }), "languages[1].demonstration: unknown key"));
}

TEST(TaskCheck, SummarisesLanguagesItemsBalanceAndPrompts) {
  ChoiceTask fixture;
  fixture.write();
  const TaskCheck check = check_task_file(fixture.file);
  ASSERT_EQ(check.languages.size(), 3u);
  EXPECT_EQ(check.languages[2].code, "eu");
  EXPECT_EQ(check.languages[2].items, 2u);
  EXPECT_EQ(check.languages[2].label_counts, (std::map<std::string, size_t>{{"A", 1}, {"B", 1}, {"C", 0}, {"D", 0}}));
  const std::string text = format_task_check(check);
  EXPECT_TRUE(contains(text, "3 languages: en de eu")) << text;
  EXPECT_TRUE(contains(text, "eu (Basque): 2 items (A 1, B 1, C 0, D 0)")) << text;
  EXPECT_TRUE(contains(text, "--- de item 0 prompt ---\nFrage: Hauptstadt Spaniens?")) << text;
}

// `task new` writes a file that `task check` accepts as it is (comments and all).
TEST(TaskCheck, NewTaskFileFromJsonlChecks) {
  TempDir dir;
  std::string items;
  for (int i = 0; i < 8; ++i)
    items += fmt::format("{{\"review\": \"text {}\", \"stars\": {}, \"label\": \"{}\"}}\n", i, i, i % 2 ? "good" : "bad");
  io::write_file_atomically(dir / "reviews.jsonl", items);
  const std::string text = new_task_file(dir / "reviews.jsonl", "label", "en");
  EXPECT_TRUE(contains(text, "// A qtalign task file")) << text;
  io::write_file_atomically(dir / "reviews.json", text);
  const TaskCheck check = check_task_file(dir / "reviews.json");
  EXPECT_EQ(check.task.labels, (std::vector<std::string>{"bad", "good"}));
  EXPECT_EQ(check.task.fields, (std::vector<std::string>{"review"}));
  EXPECT_EQ(check.languages[0].items, 8u);
  EXPECT_TRUE(contains(check.languages[0].first_prompt, "review: text 0\nAnswer: \"")) << check.languages[0].first_prompt;
  EXPECT_TRUE(contains(error_of([&] { new_task_file(dir / "reviews.jsonl", "verdict", "en"); }),
                       "record 0: missing the answer field 'verdict'"));
}

// What `qtalign task new`, `check` and `export` call: the new file written once and never over an
// existing one, its summary as format_task_check gives it, the study's task as study_task_file.
TEST(TaskCheck, TheTaskCommandsWriteCheckAndExport) {
  TempDir dir;
  std::string items;
  for (int i = 0; i < 8; ++i) items += fmt::format("{{\"text\": \"item {}\", \"label\": \"{}\"}}\n", i, i % 2 ? "x" : "y");
  io::write_file_atomically(dir / "items.jsonl", items);
  NewTaskSpec created;
  created.items = dir / "items.jsonl";
  created.out = dir / "task.json";
  created.answer = "label";
  write_new_task(created);
  EXPECT_EQ(io::read_file(created.out), new_task_file(created.items, "label", "en"));
  EXPECT_TRUE(contains(error_of([&] { write_new_task(created); }), "task.json: exists already"));
  EXPECT_EQ(check_task({created.out, {}}), format_task_check(check_task_file(created.out)));
  TaskExportSpec exported{"snli", dir / "snli.json", testing::shared_data_dir()};
  export_study_task(exported);
  EXPECT_EQ(Json::parse(io::read_file(exported.out)), study_task_file(load_protocol(testing::shared_data_dir()), "snli"));
}

// Task files in the tasks directory join the study's tasks; a name already taken is refused.
TEST(TaskFile, TasksDirectoryAddsTasksBesideTheStudys) {
  ChoiceTask fixture;
  fixture.write();
  const Protocol protocol = load_protocol(testing::shared_data_dir(), fixture.dir.path());
  EXPECT_EQ(protocol.task_names(), (std::vector<std::string>{"capitals", "emotion", "paws", "snli"}));
  EXPECT_EQ(protocol.study_task_names(), (std::vector<std::string>{"emotion", "paws", "snli"}));
  EXPECT_EQ(protocol.question_translation.language_name("eu"), "Basque");
  EXPECT_NO_THROW(protocol.require_language("eu"));
  EXPECT_EQ(parse_task_language_list(protocol.task("capitals"), "all"), (std::vector<std::string>{"en", "de", "eu"}));
  EXPECT_TRUE(contains(error_of([&] { parse_task_language_list(protocol.task("capitals"), "en,zh"); }),
                       "unknown language 'zh' for task capitals"));
  EXPECT_EQ(read_test_set(protocol, "capitals", "eu").size(), 2u);
  fixture.write([](Json& t) { t["name"] = "snli"; });
  EXPECT_TRUE(contains(error_of([&] { load_protocol(testing::shared_data_dir(), fixture.dir.path()); }),
                       "task 'snli' is already defined"));
}

// The tasks directory: the one given wins over $QTALIGN_TASKS, which is read when none is given.
TEST(TaskFile, TasksDirectoryIsTheGivenOneElseTheEnvironments) {
  ChoiceTask given;
  given.write();
  ChoiceTask environment;
  environment.write([](Json& t) { t["name"] = "capitals_env"; });
  const char* previous = std::getenv("QTALIGN_TASKS");
  const std::string kept = previous ? previous : "";
  ::setenv("QTALIGN_TASKS", environment.dir.path().c_str(), 1);
  const Protocol from_environment = load_protocol(testing::shared_data_dir());
  const Protocol from_option = load_protocol(testing::shared_data_dir(), given.dir.path());
  if (previous) ::setenv("QTALIGN_TASKS", kept.c_str(), 1);
  else ::unsetenv("QTALIGN_TASKS");
  EXPECT_EQ(from_environment.tasks_dir, environment.dir.path());
  EXPECT_EQ(from_environment.task_names(), (std::vector<std::string>{"capitals_env", "emotion", "paws", "snli"}));
  EXPECT_EQ(from_option.tasks_dir, given.dir.path());
  EXPECT_EQ(from_option.task_names(), (std::vector<std::string>{"capitals", "emotion", "paws", "snli"}));
}

}  // namespace
}  // namespace qtalign::data
