#include "data/task_items.h"

#include <fmt/format.h>

#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::data {

std::vector<TaskItem> read_task_items(const std::filesystem::path& file, const TaskProtocol& task,
                                      const std::string& language, Answers answers) {
  const LanguageProtocol& protocol = task.language(language);
  const std::vector<io::Json> records = io::read_json_records(file);
  if (records.empty()) fail_at(file, "no items (an empty " + task.name + " set)");
  std::vector<TaskItem> items;
  items.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string where = "item " + std::to_string(i);
    TaskItem item;
    item.index = i;
    for (const auto& field : task.fields) item.fields[field] = io::required_field<std::string>(records[i], field, file, where);
    if (answers == Answers::ignored) {
      items.push_back(std::move(item));
      continue;
    }
    item.answer = io::required_field<std::string>(records[i], "answer", file, where);
    const auto label = protocol.answer_map.find(item.answer);
    if (label == protocol.answer_map.end()) {
      std::string known;
      for (const auto& entry : protocol.answer_map) known += (known.empty() ? "'" : ", '") + entry.first + "'";
      fail_at(file, fmt::format("{}: answer '{}' is not a {} answer for language {} (known: {})", where, item.answer,
                                task.name, language, known));
    }
    item.label = label->second;
    items.push_back(std::move(item));
  }
  return items;
}

std::vector<TaskItem> read_test_set(const Protocol& protocol, const std::string& task, const std::string& language) {
  const TaskProtocol& task_protocol = protocol.task(task);
  const std::filesystem::path file = protocol.test_set_path(task, language);
  std::vector<TaskItem> items = read_task_items(file, task_protocol, language);
  const int64_t expected = task_protocol.language(language).count;
  if (static_cast<int64_t>(items.size()) != expected)
    fail_at(file, fmt::format("{} items, but prompts.json says {}", items.size(), expected));
  return items;
}

}  // namespace qtalign::data
