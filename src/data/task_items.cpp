#include "data/task_items.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "io/delimited_file.h"
#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::data {

namespace {

// The records of an item file in its source's format.
std::vector<io::Json> read_records(const std::filesystem::path& file, const ItemSource& source) {
  if (source.format == "csv") return io::read_delimited_records(file, ',');
  if (source.format == "tsv") return io::read_delimited_records(file, '\t');
  return io::read_json_records(file);
}

// An answer as text: a string as it is, an integer as written (answers such as 0 or 1).
std::string answer_text(const io::Json& record, const std::string& key, const std::filesystem::path& file,
                       const std::string& where) {
  const auto found = record.is_object() ? record.find(key) : record.end();
  if (found != record.end() && found->is_number_integer()) return found->dump();
  return io::required_field<std::string>(record, key, file, where);
}

// The label of an item's answer: through the answer map, else (multiple choice) the option whose text
// the answer is.
std::optional<std::string> label_of(const TaskProtocol& task, const LanguageProtocol& protocol, const TaskItem& item) {
  const auto mapped = protocol.answer_map.find(item.answer);
  if (mapped != protocol.answer_map.end()) return mapped->second;
  for (size_t o = 0; o < task.options.size(); ++o)
    if (item.fields.at(task.options[o]) == item.answer) return task.labels[o];
  return std::nullopt;
}

}  // namespace

std::vector<TaskItem> read_task_items(const std::filesystem::path& file, const TaskProtocol& task,
                                      const std::string& language, Answers answers) {
  const LanguageProtocol& protocol = task.language(language);
  const std::vector<io::Json> records = read_records(file, protocol.items);
  if (records.empty()) fail_at(file, "no items (an empty " + task.name + " set)");
  // A field no item has is the mapping's or the template's mistake, not item 0's.
  const std::vector<std::string> fields = task.item_fields();
  for (const auto& field : fields) {
    const std::string& column = protocol.items.column_of(field);
    const bool shown = std::find(task.fields.begin(), task.fields.end(), field) != task.fields.end();
    if (std::none_of(records.begin(), records.end(),
                     [&](const io::Json& record) { return record.is_object() && record.contains(column); }))
      fail_at(file, fmt::format("language {}: {} field {{{}}}{}: no item has it", language, shown ? "template" : "option",
                                field, column == field ? "" : " (column '" + column + "')"));
  }
  std::vector<TaskItem> items;
  items.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string where = "language " + language + ": item " + std::to_string(i);
    TaskItem item;
    item.index = i;
    for (const auto& field : fields)
      item.fields[field] = io::required_field<std::string>(records[i], protocol.items.column_of(field), file, where);
    for (size_t a = 0; a < task.options.size(); ++a)
      for (size_t b = a + 1; b < task.options.size(); ++b)
        if (item.fields[task.options[a]] == item.fields[task.options[b]])
          fail_at(file, fmt::format("{}: options {} and {} ({{{}}}, {{{}}}) are both '{}'", where, task.labels[a],
                                    task.labels[b], task.options[a], task.options[b], item.fields[task.options[a]]));
    if (answers == Answers::ignored) {
      items.push_back(std::move(item));
      continue;
    }
    item.answer = answer_text(records[i], protocol.items.answer, file, where);
    const auto label = label_of(task, protocol, item);
    if (!label) {
      std::string known;
      for (const auto& entry : protocol.answer_map) known += (known.empty() ? "'" : ", '") + entry.first + "'";
      fail_at(file, fmt::format("{}: answer '{}' is not a {} answer for language {} (known: {}{})", where, item.answer,
                                task.name, language, known, task.options.empty() ? "" : ", or an option's text"));
    }
    item.label = *label;
    items.push_back(std::move(item));
  }
  return items;
}

std::vector<TaskItem> read_test_set(const Protocol& protocol, const std::string& task, const std::string& language) {
  const TaskProtocol& task_protocol = protocol.task(task);
  const std::filesystem::path file = protocol.test_set_path(task, language);
  std::vector<TaskItem> items = read_task_items(file, task_protocol, language);
  const int64_t expected = task_protocol.language(language).count;
  if (expected > 0 && static_cast<int64_t>(items.size()) != expected)
    fail_at(file, fmt::format("{} items, but prompts.json says {}", items.size(), expected));
  return items;
}

TaskItem read_test_item(const Protocol& protocol, const std::string& task, const std::string& language,
                        size_t index) {
  protocol.task(task).language(language);
  std::vector<TaskItem> items = read_test_set(protocol, task, language);
  if (index >= items.size())
    fail_at(protocol.test_set_path(task, language),
            fmt::format("no item {} (it has {} items, numbered from 0)", index, items.size()));
  return std::move(items[index]);
}

}  // namespace qtalign::data
