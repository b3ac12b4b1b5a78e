#pragma once
// The study's evaluation protocol, read from prompts.json: languages, per-task demonstrations,
// templates, answer maps, the logit-lens prompts, the scoring rule and question-translation settings.
// Nothing here is hard-coded; everything is validated when loaded.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qtalign::data {

// Where a language's items are and how their fields are named there (a task file's "items"; the
// study's files use the task's own field names and "answer").
struct ItemSource {
  std::string format = "json";                // json (a JSON array or JSONL) | csv | tsv
  std::map<std::string, std::string> columns;  // task field -> the file's field or column (absent: the same name)
  std::string answer = "answer";               // the file's field holding the answer

  // The file's name for a task field.
  const std::string& column_of(const std::string& field) const;
};

// One task in one language.
struct LanguageProtocol {
  std::string demonstrations;                     // the few-shot block, answers as English labels
  std::string template_text;                      // e.g. "{demonstrations}\nPremise: {premise}\n...: \""
  std::map<std::string, std::string> answer_map;  // value of an item's "answer" -> English label
  int64_t count = 0;                              // items in the test set (0 in a task file: not checked)
  std::string file;                               // the test set, relative to the data directory (or absolute)
  ItemSource items;                               // how the file names the fields
  std::vector<std::string> demonstration_answers;  // option-text scoring: each demonstration's answer, in order
};

// The logit-lens prompts (emotion only): demonstrations answered in the target language.
struct LensProtocol {
  std::map<std::string, std::map<std::string, std::string>> native_labels;  // lang -> English label -> word
  std::map<std::string, std::string> demonstrations;                        // lang -> native few-shot block
};

// How the answer may be written besides English labels (prompts.json tasks.<task>.output_types;
// emotion only). Same-language answers use the lens words and demonstrations.
struct OutputTypesProtocol {
  std::map<std::string, std::string> forced_prefixes;       // lang -> prefix every native word of it starts with
  std::map<std::string, std::string> task_agnostic_labels;  // English label -> word standing for it ("ox")
};

// What multiple choice scores after the prompt: the labels (option letters), or each item's own options.
enum class OptionScoring {
  letters,      // the labels A, B, C, ... as any task's labels (prefix-sum or sequence mode)
  option_text,  // each option's text by sequence log-likelihood, the demonstrations answered with option texts
};

struct TaskProtocol {
  std::string name;
  int shots = 0;
  std::vector<std::string> labels;                     // English label words, in prompts.json order
  std::vector<std::string> fields;                     // item fields the templates use, in template order
  std::map<std::string, LanguageProtocol> languages;   // every language of the task
  std::vector<std::string> language_order;             // the task's languages in table order
  std::vector<std::string> options;                    // multiple choice: the fields holding options, one per label
  OptionScoring option_scoring = OptionScoring::letters;  // a task file's "scoring"
  std::map<std::string, std::string> language_names;   // code -> display name, from a task file
  std::filesystem::path source;                        // the task file (empty: prompts.json)
  std::optional<LensProtocol> lens;
  std::optional<OutputTypesProtocol> output_types;

  // The task in `language`; throws Error listing the valid languages.
  const LanguageProtocol& language(const std::string& code) const;
  // The lens block; throws Error when the task has none.
  const LensProtocol& lens_protocol() const;
  // The fields every item must have: the template's, then options the template does not show.
  std::vector<std::string> item_fields() const;
  // The words the demonstrations of `language` answer with: the labels, or under option-text scoring
  // the option texts they were drawn with.
  const std::vector<std::string>& demonstration_words(const std::string& language) const;
};

struct QuestionTranslationProtocol {
  std::string input_template;                        // "{question_x}\nTranslate the input from {language_name} to English:\n"
  std::string target_template;                       // "{question_en}"
  std::map<std::string, std::string> language_names; // code -> English name ("zh" -> "Chinese")
  std::map<std::string, std::map<std::string, std::string>> shipped_sets;  // task -> lang -> file
  std::map<std::string, std::string> english_source; // task -> English training file

  // The language's English name; throws Error listing the known codes.
  const std::string& language_name(const std::string& code) const;
};

struct Protocol {
  std::filesystem::path data_dir;     // the directory holding prompts.json
  std::filesystem::path source;       // prompts.json itself, for error messages
  std::filesystem::path tasks_dir;    // where the task files were read (empty: none)
  std::vector<std::string> languages; // in prompts.json order (en first)
  std::map<std::string, TaskProtocol> tasks;
  std::string scoring;                // the prefix-sum rule, in words
  QuestionTranslationProtocol question_translation;

  // The task; throws Error listing the valid tasks.
  const TaskProtocol& task(const std::string& name) const;
  // Throws Error listing the valid languages unless `code` is one of them (the study's or a task file's).
  void require_language(const std::string& code) const;
  // Task names, sorted.
  std::vector<std::string> task_names() const;
  // The study's task names (prompts.json's, not the task files'), sorted: what "--task all" means.
  std::vector<std::string> study_task_names() const;
  // A data-relative path (as prompts.json writes them) made absolute under data_dir.
  std::filesystem::path path_of(const std::string& relative) const;
  // The test set file of a task in a language (validates both).
  std::filesystem::path test_set_path(const std::string& task, const std::string& language) const;
};

// Reads and validates <data_dir>/prompts.json (the study's tasks) and every task file (*.json) of the
// tasks directory: `tasks_dir` when given, else $QTALIGN_TASKS when set, else <data_dir>/tasks when it
// exists; throws Error "<file>: <json path>: problem", also for a task file naming a study task.
Protocol load_protocol(const std::filesystem::path& data_dir, const std::filesystem::path& tasks_dir = {});

// Splits "zh,de" (or "all") into validated language codes, keeping order and dropping repeats;
// throws Error listing the valid languages.
std::vector<std::string> parse_language_list(const Protocol& protocol, const std::string& list);

// As parse_language_list for the languages of a task: "all" is its languages in its order.
std::vector<std::string> parse_task_language_list(const TaskProtocol& task, const std::string& list);

}  // namespace qtalign::data
