#include "data/question_translation.h"

#include <fmt/format.h>

#include "data/prompt_format.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::data {

std::string question_translation_input(const Protocol& protocol, const std::string& language,
                                       const std::string& question_x, const std::string& target) {
  const QuestionTranslationProtocol& qt = protocol.question_translation;
  const std::string context = protocol.source.string() + ": question_translation.input_template";
  std::string template_text = qt.input_template;
  if (target != "en") {
    const std::string& english = qt.language_name("en");
    const size_t at = template_text.find(english);
    if (at == std::string::npos || template_text.find(english, at + 1) != std::string::npos)
      throw Error(fmt::format("{}: names '{}' {} times, so the target {} cannot replace it (it must name it once)",
                              context, english, at == std::string::npos ? "0" : "several", qt.language_name(target)));
    template_text.replace(at, english.size(), qt.language_name(target));
  }
  return render_template(template_text, {{"question_x", question_x}, {"language_name", qt.language_name(language)}},
                         context);
}

std::string question_translation_target(const Protocol& protocol, const std::string& task, const TaskItem& item_target,
                                        const std::string& target) {
  return render_template(protocol.question_translation.target_template,
                         {{"question_en", question_text(protocol.task(task), target, item_target)}},
                         protocol.source.string() + ": question_translation.target_template");
}

QuestionTranslationExample make_example(const Protocol& protocol, const std::string& task,
                                        const std::string& language, const TaskItem& item_x,
                                        const TaskItem& item_target, const std::string& target) {
  QuestionTranslationExample example;
  example.input =
      question_translation_input(protocol, language, question_text(protocol.task(task), language, item_x), target);
  example.target = question_translation_target(protocol, task, item_target, target);
  example.language = language;
  example.target_language = target;
  example.index = static_cast<int64_t>(item_x.index);
  return example;
}

std::vector<QuestionTranslationExample> examples_from_parallel_files(const Protocol& protocol,
                                                                     const std::string& task,
                                                                     const std::string& language,
                                                                     const std::filesystem::path& file_x,
                                                                     const std::filesystem::path& file_target,
                                                                     Answers answers, const std::string& target) {
  const TaskProtocol& task_protocol = protocol.task(task);
  const std::vector<TaskItem> items_x = read_task_items(file_x, task_protocol, language, answers);
  const std::vector<TaskItem> items_target = read_task_items(file_target, task_protocol, target, answers);
  if (items_x.size() != items_target.size())
    fail_at(file_x, fmt::format("{} items, but its parallel {} file {} has {}", items_x.size(),
                                protocol.question_translation.language_name(target), file_target.string(),
                                items_target.size()));
  std::vector<QuestionTranslationExample> examples;
  examples.reserve(items_x.size());
  for (size_t i = 0; i < items_x.size(); ++i) {
    if (answers == Answers::required && items_x[i].label != items_target[i].label)
      fail_at(file_x, fmt::format("item {} is labelled '{}' but item {} of {} is '{}': the files are not parallel",
                                  i, items_x[i].label, i, file_target.string(), items_target[i].label));
    examples.push_back(make_example(protocol, task, language, items_x[i], items_target[i], target));
  }
  return examples;
}

std::vector<QuestionTranslationExample> read_examples(const std::filesystem::path& file, const std::string& language) {
  const std::vector<io::Json> records = io::read_json_records(file);
  if (records.empty()) fail_at(file, "no question-translation examples");
  std::vector<QuestionTranslationExample> examples;
  examples.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const io::Json& record = records[i];
    const std::string where = "record " + std::to_string(i);
    QuestionTranslationExample example;
    example.input = io::required_field<std::string>(record, "input", file, where);
    const bool has_target = record.contains("target");
    if (!has_target && !record.contains("answer")) fail_at(file, where + ": missing field 'target' (or 'answer')");
    example.target = io::required_field<std::string>(record, has_target ? "target" : "answer", file, where);
    example.language = record.contains("language") ? io::required_field<std::string>(record, "language", file, where)
                                                   : language;
    if (record.contains("target_language"))
      example.target_language = io::required_field<std::string>(record, "target_language", file, where);
    example.index = record.contains("index") ? io::required_field<int64_t>(record, "index", file, where)
                                             : static_cast<int64_t>(i);
    examples.push_back(std::move(example));
  }
  return examples;
}

std::vector<QuestionTranslationExample> read_shipped_set(const Protocol& protocol, const std::string& task,
                                                         const std::string& language) {
  protocol.task(task);
  protocol.require_language(language);
  const auto& shipped = protocol.question_translation.shipped_sets;
  const auto for_task = shipped.find(task);
  if (for_task == shipped.end() || !for_task->second.count(language)) {
    std::string available;
    if (for_task != shipped.end())
      for (const auto& entry : for_task->second) available += (available.empty() ? "" : ", ") + entry.first;
    throw Error(fmt::format("no shipped question-translation set for {}/{} (shipped: {})", task, language,
                            available.empty() ? "none" : available));
  }
  return read_examples(protocol.path_of(for_task->second.at(language)), language);
}

void write_examples(const std::filesystem::path& file, const std::vector<QuestionTranslationExample>& examples) {
  io::AtomicFileWriter writer(file);
  for (const QuestionTranslationExample& example : examples) {
    const io::Json record = {{"input", example.input},
                             {"target", example.target},
                             {"language", example.language},
                             {"target_language", example.target_language},
                             {"index", example.index}};
    writer.write(record.dump(-1, ' ', false, io::Json::error_handler_t::strict));
    writer.write("\n");
  }
  writer.commit();
}

}  // namespace qtalign::data
