#include "data/protocol.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <set>

#include "data/demonstrations.h"
#include "data/prompt_format.h"
#include "io/error.h"
#include "io/json_file.h"
#include "data/protocol_reader.h"
#include "data/task_file.h"

namespace qtalign::data {

std::vector<std::string> template_fields(const ProtocolReader& reader, const std::string& template_text,
                                         const std::string& where) {
  if (template_text.rfind("{demonstrations}\n", 0) != 0)
    reader.fail(where, "must start with \"{demonstrations}\\n\"");
  const auto placeholders = template_placeholders(template_text, reader.file().string() + ": " + where);
  std::vector<std::string> fields;
  for (size_t i = 1; i < placeholders.size(); ++i) {
    if (placeholders[i] == "demonstrations") reader.fail(where, "{demonstrations} appears twice");
    if (std::find(fields.begin(), fields.end(), placeholders[i]) != fields.end())
      reader.fail(where, "{" + placeholders[i] + "} appears twice");
    if (placeholders[i] == "answer") reader.fail(where, "{answer} is not an item field a prompt may show");
    fields.push_back(placeholders[i]);
  }
  if (fields.empty()) reader.fail(where, "uses no item field");
  return fields;
}

namespace {

// The item fields of a task: those most of its languages' templates use (the first language's on a
// tie), so that a template that differs is blamed rather than every other one.
std::vector<std::string> majority_fields(const ProtocolReader& reader, const Json& language_block,
                                         const std::vector<std::string>& languages, const std::string& where) {
  std::vector<std::pair<std::vector<std::string>, size_t>> counts;  // in order of first use
  for (const auto& code : languages) {
    const std::string at = where + "." + code;
    std::vector<std::string> fields =
        template_fields(reader, reader.string_member(language_block[code], "template", at), at + ".template");
    const auto found = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == fields; });
    if (found == counts.end()) counts.emplace_back(std::move(fields), 1);
    else ++found->second;
  }
  return std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

void require_placeholders(const ProtocolReader& reader, const std::string& template_text,
                          const std::set<std::string>& expected, const std::string& where) {
  const auto found = template_placeholders(template_text, reader.file().string() + ": " + where);
  const std::set<std::string> found_set(found.begin(), found.end());
  if (found_set != expected)
    reader.fail(where, fmt::format("expected exactly the placeholders {{{}}}", fmt::join(expected, "}, {")));
}

LanguageProtocol read_language(const ProtocolReader& reader, const Json& json, const TaskProtocol& task,
                               const std::string& where) {
  LanguageProtocol language;
  language.demonstrations = reader.string_member(json, "demonstrations", where);
  language.template_text = reader.string_member(json, "template", where);
  language.answer_map = reader.string_map_member(json, "answer_map", where);
  language.count = reader.positive_integer_member(json, "count", where);
  language.file = reader.string_member(json, "file", where);
  reader.require_data_file(language.file, where + ".file");
  const auto fields = template_fields(reader, language.template_text, where + ".template");
  if (fields != task.fields)
    reader.fail(where + ".template",
                fmt::format("uses the fields {{{}}}, most languages {{{}}}", listed(fields), listed(task.fields)));
  check_answer_map(reader, language.answer_map, task.labels, where + ".answer_map");
  return language;
}

LensProtocol read_lens(const ProtocolReader& reader, const Json& json, const TaskProtocol& task,
                       const std::vector<std::string>& languages, const std::string& where) {
  LensProtocol lens;
  std::vector<std::string> sorted_labels = task.labels;
  std::sort(sorted_labels.begin(), sorted_labels.end());
  const Json& native = reader.object_member(json, "native_labels", where);
  for (const auto& [code, words] : native.items()) {
    const std::string at = where + ".native_labels." + code;
    if (std::find(languages.begin(), languages.end(), code) == languages.end())
      reader.fail(at, "unknown language (valid: " + listed(languages) + ")");
    auto map = reader.string_map_member(native, code, where + ".native_labels");
    if (keys_of(map) != sorted_labels) reader.fail(at, "expected one word for each label " + listed(task.labels));
    lens.native_labels[code] = std::move(map);
  }
  lens.demonstrations = reader.string_map_member(json, "demonstrations", where);
  for (const auto& entry : lens.demonstrations)
    if (!lens.native_labels.count(entry.first))
      reader.fail(where + ".demonstrations." + entry.first, "language has no native_labels");
  return lens;
}

// Same-language answers need the lens words; a forced prefix must begin every word of its language
// and leave something to score; task-agnostic words cover every label once.
OutputTypesProtocol read_output_types(const ProtocolReader& reader, const Json& json, const TaskProtocol& task,
                                      const std::string& where) {
  if (!json.is_object()) reader.fail(where, "expected a JSON object");
  OutputTypesProtocol output_types;
  if (json.contains("same_language")) {
    const std::string at = where + ".same_language";
    if (!task.lens) reader.fail(at, "same-language answers need the task's lens block (native_labels, demonstrations)");
    const Json& same_language = json["same_language"];
    if (!same_language.is_object()) reader.fail(at, "expected a JSON object");
    if (same_language.contains("forced_prefix"))
      output_types.forced_prefixes = reader.string_map_member(same_language, "forced_prefix", at);
    for (const auto& [code, prefix] : output_types.forced_prefixes) {
      const std::string prefix_at = at + ".forced_prefix." + code;
      const auto words = task.lens->native_labels.find(code);
      if (words == task.lens->native_labels.end()) reader.fail(prefix_at, "language has no lens native_labels");
      if (prefix.empty()) reader.fail(prefix_at, "empty prefix");
      for (const auto& [label, word] : words->second)
        if (word.size() <= prefix.size() || word.compare(0, prefix.size(), prefix) != 0)
          reader.fail(prefix_at, "'" + prefix + "' is not a proper prefix of the " + label + " word '" + word + "'");
    }
  }
  if (json.contains("task_agnostic")) {
    const std::string at = where + ".task_agnostic";
    output_types.task_agnostic_labels = reader.string_map_member(json["task_agnostic"], "labels", at);
    std::vector<std::string> sorted_labels = task.labels;
    std::sort(sorted_labels.begin(), sorted_labels.end());
    if (keys_of(output_types.task_agnostic_labels) != sorted_labels)
      reader.fail(at + ".labels", "expected one word for each label " + listed(task.labels));
    std::set<std::string> words;
    for (const auto& [label, word] : output_types.task_agnostic_labels) {
      if (word.empty()) reader.fail(at + ".labels." + label, "empty word");
      if (!words.insert(word).second) reader.fail(at + ".labels", "two labels share the word '" + word + "'");
    }
  }
  return output_types;
}

TaskProtocol read_task(const ProtocolReader& reader, const Json& json, const std::string& name,
                       const std::vector<std::string>& languages) {
  const std::string where = "tasks." + name;
  TaskProtocol task;
  task.name = name;
  const int64_t shots = reader.positive_integer_member(json, "shots", where);
  if (shots > std::numeric_limits<int>::max()) reader.fail(where + ".shots", "too large");
  task.shots = static_cast<int>(shots);
  task.labels = reader.string_list_member(json, "labels", where);
  const Json& language_block = reader.object_member(json, "languages", where);
  if (!language_block.contains(languages.front()))
    reader.fail(where + ".languages", "missing language '" + languages.front() + "'");
  for (const auto& code : languages)
    if (!language_block.contains(code)) reader.fail(where + ".languages", "missing language '" + code + "'");
  task.fields = majority_fields(reader, language_block, languages, where + ".languages");
  for (const auto& code : languages)
    task.languages[code] = read_language(reader, language_block[code], task, where + ".languages." + code);
  for (const auto& entry : language_block.items())
    if (!task.languages.count(entry.key()))
      reader.fail(where + ".languages." + entry.key(), "not in the top-level languages list");
  task.language_order = languages;
  check_demonstration_counts(reader, task, where + ".languages");
  read_answer_type_blocks(reader, json, task, languages, where);
  return task;
}

QuestionTranslationProtocol read_question_translation(const ProtocolReader& reader, const Json& root,
                                                      const std::map<std::string, TaskProtocol>& tasks,
                                                      const std::vector<std::string>& languages) {
  const std::string where = "question_translation";
  const Json& json = reader.object_member(root, where, "");
  QuestionTranslationProtocol qt;
  qt.input_template = reader.string_member(json, "input_template", where);
  qt.target_template = reader.string_member(json, "target_template", where);
  require_placeholders(reader, qt.input_template, {"question_x", "language_name"}, where + ".input_template");
  require_placeholders(reader, qt.target_template, {"question_en"}, where + ".target_template");
  qt.language_names = reader.string_map_member(json, "language_names", where);
  for (const auto& code : languages)
    if (!qt.language_names.count(code)) reader.fail(where + ".language_names", "missing language '" + code + "'");
  // A shipped set belongs to the task whose folder holds it (e.g. "snli/snli_zh10k_train_question.json").
  for (const auto& [code, file] : reader.string_map_member(json, "shipped_sets", where)) {
    const std::string at = where + ".shipped_sets." + code;
    reader.require_data_file(file, at);
    if (std::find(languages.begin(), languages.end(), code) == languages.end())
      reader.fail(at, "unknown language (valid: " + listed(languages) + ")");
    const std::string task = file.substr(0, file.find('/'));
    if (file.find('/') == std::string::npos || !tasks.count(task))
      reader.fail(at, "'" + file + "' is not in a task folder (" + listed(keys_of(tasks)) + ")");
    qt.shipped_sets[task][code] = file;
  }
  qt.english_source = reader.string_map_member(json, "english_source", where);
  for (const auto& [task, file] : qt.english_source) {
    if (!tasks.count(task))
      reader.fail(where + ".english_source." + task, "unknown task (valid: " + listed(keys_of(tasks)) + ")");
    reader.require_data_file(file, where + ".english_source." + task);
  }
  return qt;
}

}  // namespace

void check_answer_map(const ProtocolReader& reader, const std::map<std::string, std::string>& answer_map,
                      const std::vector<std::string>& labels, const std::string& where) {
  std::set<std::string> labels_reached;
  for (const auto& [value, label] : answer_map) {
    if (std::find(labels.begin(), labels.end(), label) == labels.end())
      reader.fail(where + "." + value, "'" + label + "' is not one of the labels " + listed(labels));
    if (!labels_reached.insert(label).second) reader.fail(where, "two answers map to '" + label + "'");
  }
  if (labels_reached.size() != labels.size()) reader.fail(where, "does not cover every label of " + listed(labels));
}

// Prompts show what the block holds, so a block of another size would silently change the shots.
void check_demonstration_counts(const ProtocolReader& reader, const TaskProtocol& task, const std::string& where) {
  for (const auto& [code, language] : task.languages) {
    const size_t held = answer_line_ends(language.demonstrations, task.demonstration_words(code)).size();
    if (held != static_cast<size_t>(task.shots))
      reader.fail(where + (where.empty() ? "" : ".") + code + ".demonstrations",
                  fmt::format("holds {} demonstrations (answer lines ending in a quoted label), but the task's shots is {}",
                              held, task.shots));
  }
}

void read_answer_type_blocks(const ProtocolReader& reader, const Json& json, TaskProtocol& task,
                             const std::vector<std::string>& languages, const std::string& where) {
  const std::string prefix = where.empty() ? "" : where + ".";
  if (json.contains("lens")) task.lens = read_lens(reader, json["lens"], task, languages, prefix + "lens");
  if (json.contains("output_types"))
    task.output_types = read_output_types(reader, json["output_types"], task, prefix + "output_types");
}

const LanguageProtocol& TaskProtocol::language(const std::string& code) const {
  const auto found = languages.find(code);
  if (found == languages.end())
    throw Error(fmt::format("unknown language '{}' for task {} (valid: {})", code, name, listed(keys_of(languages))));
  return found->second;
}

const LensProtocol& TaskProtocol::lens_protocol() const {
  if (!lens) throw Error("task " + name + " has no logit-lens prompts in prompts.json (only emotion has)");
  return *lens;
}

std::vector<std::string> TaskProtocol::item_fields() const {
  std::vector<std::string> all = fields;
  for (const std::string& option : options)
    if (std::find(all.begin(), all.end(), option) == all.end()) all.push_back(option);
  return all;
}

const std::vector<std::string>& TaskProtocol::demonstration_words(const std::string& code) const {
  return option_scoring == OptionScoring::option_text ? language(code).demonstration_answers : labels;
}

const std::string& QuestionTranslationProtocol::language_name(const std::string& code) const {
  const auto found = language_names.find(code);
  if (found == language_names.end())
    throw Error(fmt::format("unknown language '{}' (valid: {})", code, listed(keys_of(language_names))));
  return found->second;
}

const TaskProtocol& Protocol::task(const std::string& name) const {
  const auto found = tasks.find(name);
  if (found == tasks.end())
    throw Error(fmt::format("unknown task '{}' (valid: {})", name, listed(task_names())));
  return found->second;
}

void Protocol::require_language(const std::string& code) const {
  std::vector<std::string> known = languages;
  for (const auto& entry : tasks)
    for (const std::string& language : entry.second.language_order)
      if (std::find(known.begin(), known.end(), language) == known.end()) known.push_back(language);
  if (std::find(known.begin(), known.end(), code) == known.end())
    throw Error(fmt::format("unknown language '{}' (valid: {})", code, listed(known)));
}

const std::string& ItemSource::column_of(const std::string& field) const {
  const auto found = columns.find(field);
  return found == columns.end() ? field : found->second;
}

std::vector<std::string> Protocol::task_names() const { return keys_of(tasks); }

std::vector<std::string> Protocol::study_task_names() const {
  std::vector<std::string> names;
  for (const auto& [name, task] : tasks)
    if (task.source.empty()) names.push_back(name);
  return names;
}

std::filesystem::path Protocol::path_of(const std::string& relative) const { return data_dir / relative; }

std::filesystem::path Protocol::test_set_path(const std::string& task_name, const std::string& language) const {
  return path_of(task(task_name).language(language).file);
}

namespace {

// The task files' directory load_protocol reads (empty: none).
std::filesystem::path resolve_tasks_dir(const std::filesystem::path& data_dir, const std::filesystem::path& given) {
  if (!given.empty()) {
    if (!std::filesystem::is_directory(given)) fail_at(given, "is not a directory of task files (--tasks-dir)");
    return given;
  }
  const char* environment = std::getenv("QTALIGN_TASKS");
  if (environment && *environment) {
    if (!std::filesystem::is_directory(environment))
      fail_at(environment, "is not a directory of task files ($QTALIGN_TASKS)");
    return environment;
  }
  return std::filesystem::is_directory(data_dir / "tasks") ? data_dir / "tasks" : std::filesystem::path();
}

// Adds the task files of `dir` (sorted by name) to the protocol; a task's display names extend the
// question-translation language names where the study has none.
void add_task_files(Protocol& protocol, const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    TaskProtocol task = read_task_file(file);
    if (protocol.tasks.count(task.name))
      fail_at(file, "task '" + task.name + "' is already defined (" +
                        (protocol.tasks.at(task.name).source.empty() ? protocol.source : protocol.tasks.at(task.name).source)
                            .string() + ")");
    for (const auto& [code, name] : task.language_names) protocol.question_translation.language_names.emplace(code, name);
    protocol.tasks.emplace(task.name, std::move(task));
  }
}

// Splits "zh,de" into codes, keeping order and dropping repeats; `require` validates each.
template <typename Require>
std::vector<std::string> split_language_list(const std::string& list, const std::vector<std::string>& valid,
                                             Require require) {
  std::vector<std::string> codes;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string code = list.substr(start, end - start);
    code.erase(0, code.find_first_not_of(' '));
    code.erase(code.find_last_not_of(' ') + 1);
    if (code.empty()) throw Error("empty language in the list '" + list + "' (valid: " + listed(valid) + ")");
    require(code);
    if (std::find(codes.begin(), codes.end(), code) == codes.end()) codes.push_back(code);
    start = end + 1;
  }
  return codes;
}

}  // namespace

Protocol load_protocol(const std::filesystem::path& data_dir, const std::filesystem::path& tasks_dir) {
  Protocol protocol;
  protocol.data_dir = data_dir;
  protocol.source = data_dir / "prompts.json";
  const ProtocolReader reader(protocol.source);
  const Json root = io::read_json_file(protocol.source);
  if (!root.is_object()) reader.fail("", "expected a JSON object at the top level");
  protocol.languages = reader.string_list_member(root, "languages", "");
  const Json& tasks = reader.object_member(root, "tasks", "");
  for (const auto& [name, task] : tasks.items())
    protocol.tasks[name] = read_task(reader, task, name, protocol.languages);
  protocol.scoring = reader.string_member(root, "scoring", "");
  protocol.question_translation = read_question_translation(reader, root, protocol.tasks, protocol.languages);
  protocol.tasks_dir = resolve_tasks_dir(data_dir, tasks_dir);
  if (!protocol.tasks_dir.empty()) add_task_files(protocol, protocol.tasks_dir);
  return protocol;
}

std::vector<std::string> parse_language_list(const Protocol& protocol, const std::string& list) {
  if (list == "all") return protocol.languages;
  return split_language_list(list, protocol.languages, [&](const std::string& code) { protocol.require_language(code); });
}

std::vector<std::string> parse_task_language_list(const TaskProtocol& task, const std::string& list) {
  if (list == "all") return task.language_order;
  return split_language_list(list, task.language_order, [&](const std::string& code) { task.language(code); });
}

}  // namespace qtalign::data
