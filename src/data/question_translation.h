#pragma once
// Question-translation examples (the study's training data): a task's question written in language X,
// followed by the translation instruction, as input; the same question in the target language (English
// unless another is chosen, e.g. "Translate the input from Chinese to Italian:") as target.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/protocol.h"
#include "data/task_items.h"

namespace qtalign::data {

struct QuestionTranslationExample {
  std::string input;     // question in X + "\nTranslate the input from <Language> to <Target>:\n"
  std::string target;    // the same question in the target language
  std::string language;  // X
  int64_t index = 0;     // the item's position in its source file (parallel files share positions)
  std::string target_language = "en";
};

// The input for a question in `language` translated into `target`: prompts.json's input_template with
// the question and the language's English name; for a target other than English, the template's one
// mention of English's name ("to English:") names the target instead. Throws Error when the template
// does not mention English exactly once.
std::string question_translation_input(const Protocol& protocol, const std::string& language,
                                       const std::string& question_x, const std::string& target = "en");

// The target for an item of `task` written in `target`: target_template with its question.
std::string question_translation_target(const Protocol& protocol, const std::string& task, const TaskItem& item_target,
                                        const std::string& target = "en");

// The example for a pair of parallel items (index = item_x.index).
QuestionTranslationExample make_example(const Protocol& protocol, const std::string& task,
                                        const std::string& language, const TaskItem& item_x,
                                        const TaskItem& item_target, const std::string& target = "en");

// Examples from two parallel task files (item i of `file_x` is the translation of item i of
// `file_target`, written in `target`); throws Error naming both files when the counts differ or, with
// Answers::required, when an item's English labels disagree (translations keep the label).
std::vector<QuestionTranslationExample> examples_from_parallel_files(const Protocol& protocol,
                                                                     const std::string& task,
                                                                     const std::string& language,
                                                                     const std::filesystem::path& file_x,
                                                                     const std::filesystem::path& file_target,
                                                                     Answers answers = Answers::required,
                                                                     const std::string& target = "en");

// Reads a question-translation file: JSON array or JSONL of objects with "input" and "target" (or
// "answer", the shipped sets' name), and optional "language" and "index" (defaults: `language`, the
// position); throws Error naming the file and the record for anything else, or for no records.
std::vector<QuestionTranslationExample> read_examples(const std::filesystem::path& file,
                                                      const std::string& language = "");

// Reads a shipped set (prompts.json question_translation.shipped_sets) for the task and language;
// throws Error listing the languages that have one.
std::vector<QuestionTranslationExample> read_shipped_set(const Protocol& protocol, const std::string& task,
                                                         const std::string& language);

// Writes examples as JSONL ({"input","target","language","target_language","index"} per line), atomically.
void write_examples(const std::filesystem::path& file, const std::vector<QuestionTranslationExample>& examples);

}  // namespace qtalign::data
