// libFuzzer target: the JSON data readers on arbitrary bytes taken as a whole file, read as
// prompts.json (load_protocol), as records (read_json_records), as task items (read_task_items, with
// and without answers) and as question-translation examples (read_examples). Each must either throw
// qtalign::Error or return what its contract promises: records are objects, items carry every field
// of the task and a mapped label, a loaded protocol renders its own prompts.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "data/prompt_format.h"
#include "data/protocol.h"
#include "data/question_translation.h"
#include "data/task_items.h"
#include "io/error.h"
#include "io/json_file.h"

namespace {

namespace data = qtalign::data;
namespace fs = std::filesystem;

// A scratch directory for this process: the readers take paths, libFuzzer gives bytes.
const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path path = fs::temp_directory_path() / ("qtalign_data_fuzz_" + std::to_string(getpid()));
    fs::create_directories(path);
    return path;
  }();
  return dir;
}

// An NLI-like task in English and Chinese, as prompts.json would describe it.
const data::TaskProtocol& nli_task() {
  static const data::TaskProtocol task = [] {
    data::TaskProtocol nli;
    nli.name = "nli";
    nli.shots = 1;
    nli.labels = {"entailment", "neutral", "contradiction"};
    nli.fields = {"premise", "hypothesis"};
    data::LanguageProtocol en;
    en.demonstrations = "Premise: a\nHypothesis: b\nAnswer: \"neutral\"";
    en.template_text = "{demonstrations}\nPremise: {premise}\nHypothesis: {hypothesis}\nAnswer: \"";
    en.answer_map = {{"entailment", "entailment"}, {"neutral", "neutral"}, {"contradiction", "contradiction"}};
    en.count = 1;
    en.file = "nli/en.json";
    data::LanguageProtocol zh = en;
    zh.answer_map = {{"蕴含", "entailment"}, {"中立", "neutral"}, {"矛盾", "contradiction"}};
    zh.file = "nli/zh.json";
    nli.languages = {{"en", en}, {"zh", zh}};
    return nli;
  }();
  return task;
}

void check_records(const fs::path& file) {
  for (const auto& record : qtalign::io::read_json_records(file))
    if (!record.is_object()) __builtin_trap();
}

void check_task_items(const fs::path& file, const std::string& language, data::Answers answers) {
  const data::TaskProtocol& task = nli_task();
  const auto items = data::read_task_items(file, task, language, answers);
  if (items.empty()) __builtin_trap();
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].index != i || items[i].fields.size() != task.fields.size()) __builtin_trap();
    const bool labelled = !items[i].label.empty();
    if (labelled != (answers == data::Answers::required)) __builtin_trap();
    if (labelled && task.language(language).answer_map.at(items[i].answer) != items[i].label) __builtin_trap();
    data::evaluation_prompt(task, language, items[i]);
  }
}

void check_examples(const fs::path& file) {
  if (data::read_examples(file, "zh").empty()) __builtin_trap();
}

// A protocol that loads must render every task's prompts and questions in every language.
void check_protocol(const fs::path& dir) {
  const data::Protocol protocol = data::load_protocol(dir);
  if (protocol.languages.empty() || data::parse_language_list(protocol, "all") != protocol.languages) __builtin_trap();
  for (const auto& [name, task] : protocol.tasks) {
    data::TaskItem item;
    for (const auto& field : task.fields) item.fields[field] = "<" + field + ">";
    for (const auto& language : protocol.languages) {
      const std::string prompt = data::evaluation_prompt(task, language, item);
      if (prompt.rfind(data::shared_prompt_prefix(task, language), 0) != 0) __builtin_trap();
      data::question_translation_input(protocol, language, data::question_text(task, language, item));
      if (task.lens && task.lens->demonstrations.count(language))
        data::evaluation_prompt(task, language, item, data::AnswerType::same_language);
    }
  }
}

// A plain write: the atomic writers fsync, which would cost most of each run.
void write_bytes(const fs::path& file, std::string_view bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename Check>
void expect_error_or_success(Check&& check) {
  try {
    check();
  } catch (const qtalign::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const fs::path file = scratch_dir() / "prompts.json";
  write_bytes(file, bytes);
  expect_error_or_success([&] { check_records(file); });
  expect_error_or_success([&] { check_task_items(file, "en", data::Answers::required); });
  expect_error_or_success([&] { check_task_items(file, "zh", data::Answers::required); });
  expect_error_or_success([&] { check_task_items(file, "zh", data::Answers::ignored); });
  expect_error_or_success([&] { check_examples(file); });
  expect_error_or_success([&] { check_protocol(scratch_dir()); });
  return 0;
}
