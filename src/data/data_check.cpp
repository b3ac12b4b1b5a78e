#include "data/data_check.h"

#include <fmt/format.h>

#include "data/question_translation.h"
#include "data/task_items.h"
#include "io/error.h"

namespace qtalign::data {
namespace {

// Throws Error unless the test set of `language` is parallel to the English one, label by label.
void check_parallel(const Protocol& protocol, const std::string& task_name, const std::string& language,
                    const std::vector<TaskItem>& english, const std::vector<TaskItem>& translated) {
  if (translated.size() != english.size())
    fail_at(protocol.test_set_path(task_name, language),
            fmt::format("{} items, the English set has {}", translated.size(), english.size()));
  for (size_t i = 0; i < english.size(); ++i)
    if (translated[i].label != english[i].label)
      fail_at(protocol.test_set_path(task_name, language),
              fmt::format("item {} is '{}' but the English item is '{}'", i, translated[i].label, english[i].label));
}

}  // namespace

DataCheck check_data_files(const Protocol& protocol) {
  DataCheck check;
  for (const auto& task_name : protocol.study_task_names()) {
    const std::vector<TaskItem> english = read_test_set(protocol, task_name, "en");
    for (const auto& language : protocol.languages) {
      const std::vector<TaskItem> translated = read_test_set(protocol, task_name, language);
      check_parallel(protocol, task_name, language, english, translated);
      ++check.files;
      check.items += translated.size();
    }
    const auto shipped = protocol.question_translation.shipped_sets.find(task_name);
    if (shipped == protocol.question_translation.shipped_sets.end()) continue;
    for (const auto& entry : shipped->second) {
      check.items += read_shipped_set(protocol, task_name, entry.first).size();
      ++check.files;
    }
  }
  return check;
}

}  // namespace qtalign::data
