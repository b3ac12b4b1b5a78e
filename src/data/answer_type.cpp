#include "data/answer_type.h"

#include <fmt/format.h>

#include "io/error.h"

namespace qtalign::data {
namespace {

std::string listed_keys(const std::map<std::string, std::string>& map) {
  std::string names;
  for (const auto& entry : map) names += (names.empty() ? "" : ", ") + entry.first;
  return names;
}

// Why `type` cannot be used for (task, language), as every refusal words it.
[[noreturn]] void refuse(const TaskProtocol& task, const std::string& language, AnswerType type,
                         const std::string& reason) {
  throw Error(fmt::format("answer type {} is not available for {}/{}: {}", answer_type_name(type), task.name,
                          language, reason));
}

const OutputTypesProtocol& output_types_of(const TaskProtocol& task, const std::string& language, AnswerType type) {
  if (!task.output_types)
    refuse(task, language, type, "prompts.json has no tasks." + task.name + ".output_types (only emotion has)");
  return *task.output_types;
}

AnswerWords same_language_words(const TaskProtocol& task, const std::string& language) {
  const OutputTypesProtocol& output_types = output_types_of(task, language, AnswerType::same_language);
  const LensProtocol& lens = task.lens_protocol();
  const auto words = lens.native_labels.find(language);
  const auto demonstrations = lens.demonstrations.find(language);
  if (words == lens.native_labels.end() || demonstrations == lens.demonstrations.end())
    refuse(task, language, AnswerType::same_language,
           "prompts.json has no lens native_labels and demonstrations for it (demonstrations exist for: " +
               listed_keys(lens.demonstrations) + ")");
  AnswerWords answer;
  answer.demonstrations = demonstrations->second;
  for (const std::string& label : task.labels) answer.words.push_back(words->second.at(label));
  const auto prefix = output_types.forced_prefixes.find(language);
  if (prefix != output_types.forced_prefixes.end()) answer.forced_prefix = prefix->second;
  return answer;
}

AnswerWords task_agnostic_words(const TaskProtocol& task, const std::string& language) {
  const OutputTypesProtocol& output_types = output_types_of(task, language, AnswerType::task_agnostic);
  if (output_types.task_agnostic_labels.empty())
    refuse(task, language, AnswerType::task_agnostic,
           "prompts.json has no tasks." + task.name + ".output_types.task_agnostic.labels");
  AnswerWords answer;
  answer.demonstrations =
      rewrite_demonstration_answers(task.language(language).demonstrations, output_types.task_agnostic_labels,
                                    task.shots, task.name + "/" + language + " demonstrations");
  for (const std::string& label : task.labels) answer.words.push_back(output_types.task_agnostic_labels.at(label));
  return answer;
}

}  // namespace

AnswerType parse_answer_type(const std::string& name) {
  if (name == "english") return AnswerType::english;
  if (name == "same-language") return AnswerType::same_language;
  if (name == "task-agnostic") return AnswerType::task_agnostic;
  throw Error("unknown answer type '" + name + "' (expected english, same-language or task-agnostic)");
}

void require_answerable(AnswerType type, int shots) {
  if (type == AnswerType::task_agnostic && shots == 0)
    throw Error("answer type task-agnostic needs demonstrations, and 0 shots gives none: its words (such as \"ox\") "
                "stand for the labels only through the demonstrations that answer with them, so the model could "
                "not know which word means which label (give --shots 1 or more, or leave the task's own)");
}

std::string answer_type_name(AnswerType type) {
  switch (type) {
    case AnswerType::english: return "english";
    case AnswerType::same_language: return "same-language";
    case AnswerType::task_agnostic: return "task-agnostic";
  }
  throw Error("unknown answer type");
}

std::vector<std::string> AnswerWords::scored_words() const {
  std::vector<std::string> scored;
  for (const std::string& word : words) scored.push_back(word.substr(forced_prefix.size()));
  return scored;
}

AnswerWords answer_words(const TaskProtocol& task, const std::string& language, AnswerType type) {
  task.language(language);
  if (type != AnswerType::english && task.option_scoring == OptionScoring::option_text)
    refuse(task, language, type, "its task file scores each option's own text (scoring option_text), not label words");
  if (type == AnswerType::same_language) return same_language_words(task, language);
  if (type == AnswerType::task_agnostic) return task_agnostic_words(task, language);
  return {task.language(language).demonstrations, task.labels, ""};
}

std::string rewrite_demonstration_answers(const std::string& demonstrations,
                                          const std::map<std::string, std::string>& words, int shots,
                                          const std::string& context) {
  std::string rewritten;
  int replaced = 0;
  size_t position = 0;
  while (position < demonstrations.size()) {
    bool matched = false;
    if (demonstrations[position] == '"') {
      for (const auto& [label, word] : words) {
        const std::string quoted = "\"" + label + "\"";
        if (demonstrations.compare(position, quoted.size(), quoted) != 0) continue;
        rewritten += "\"" + word + "\"";
        position += quoted.size();
        ++replaced;
        matched = true;
        break;
      }
    }
    if (!matched) rewritten += demonstrations[position++];
  }
  if (replaced != shots)
    throw Error(fmt::format("{}: found {} quoted answers to rewrite, expected one per demonstration ({})", context,
                            replaced, shots));
  return rewritten;
}

}  // namespace qtalign::data
