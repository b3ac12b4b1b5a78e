#pragma once
// Items of a task file (a test set or an English training file): the fields the templates use and
// the answer, mapped to its English label.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/protocol.h"

namespace qtalign::data {

struct TaskItem {
  size_t index = 0;                           // position in its file, from 0
  std::map<std::string, std::string> fields;  // the task's fields, e.g. premise, hypothesis
  std::string answer;                         // the file's "answer" value, e.g. "蕴含"
  std::string label;                          // its English label via the language's answer_map
};

// Whether items must carry a known answer. Question translation needs only the questions, and the
// English training files do not fit the test sets' answer maps (15 snli_en10k_train items have no
// answer; paws_en10k_train answers yes/no).
enum class Answers {
  required,  // every item has an "answer" in the language's answer_map (test sets)
  ignored,   // "answer" is not read; answer and label stay empty
};

// Reads items of `task` written in `language` from a JSON array or JSONL file; throws Error naming
// the file (and the item index) for invalid JSON or UTF-8, no items, a missing or non-string field,
// or (when required) an answer absent from the language's answer_map.
std::vector<TaskItem> read_task_items(const std::filesystem::path& file, const TaskProtocol& task,
                                      const std::string& language, Answers answers = Answers::required);

// Reads the test set of a task in a language (the file prompts.json names) and checks its item
// count against prompts.json.
std::vector<TaskItem> read_test_set(const Protocol& protocol, const std::string& task,
                                    const std::string& language);

// Item `index` (from 0) of a test set; throws Error naming the file when it has no such item.
TaskItem read_test_item(const Protocol& protocol, const std::string& task, const std::string& language,
                        size_t index);

}  // namespace qtalign::data
