#pragma once
// `qtalign task check`, `task new` and `task export`: a task file validated down to its last item,
// summarised for the person writing it, a starting file written from a JSONL file's fields, one of the
// study's tasks written as a task file; and the options each command lists.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/data_dir.h"
#include "data/protocol.h"
#include "io/options.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::data {

struct TokenCounts {
  size_t min = 0, max = 0;
  double mean = 0;
};

struct LanguageCheck {
  std::string code, name;
  std::filesystem::path items_file;
  size_t items = 0;
  std::map<std::string, size_t> label_counts;  // label -> items answering it
  std::string first_prompt;                    // item 0's evaluation prompt
  std::optional<TokenCounts> prompt_tokens;    // with a tokenizer: over every item's prompt
};

struct TaskCheck {
  TaskProtocol task;
  std::vector<LanguageCheck> languages;  // in the task's order
};

// Reads a task file and every item of every language (so any refusal read_task_file or
// read_task_items would make later comes now, located by field, language and item); with a
// tokenizer, counts each prompt's tokens. Throws Error with the located problem.
TaskCheck check_task_file(const std::filesystem::path& file, const tokenizer::Tokenizer* tokenizer = nullptr);

// The summary `task check` prints: languages, items, label balance, token counts, a prompt per language.
std::string format_task_check(const TaskCheck& check);

// A starting task file (JSON with // comments) for the items of `jsonl`: its string fields become the
// template's fields, `answer_field` (must be in every record) gives the labels (its distinct values,
// in order of first appearance); throws Error naming the file for no records or a missing answer field.
std::string new_task_file(const std::filesystem::path& jsonl, const std::string& answer_field,
                          const std::string& language);

// What `qtalign task check`, `task new` and `task export` are asked for.
struct TaskCheckSpec {
  std::filesystem::path file;
  std::filesystem::path tokenizer;  // tokenizer.json or a checkpoint directory (empty: no token counts)
};
struct NewTaskSpec {
  std::filesystem::path items, out;
  std::string answer = "answer";  // the field holding each item's answer
  std::string language = "en";
};
struct TaskExportSpec {
  std::string task;
  std::filesystem::path out, data_dir;
};

// Every option of each task command, in its order, with the field of `spec` (const or not) each
// reads and writes (positional ones named without dashes).
template <class Spec, class Visit, io::IfSpec<Spec, TaskCheckSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  visit(io::option("file", "the task file").mandatory(), spec.file);
  visit(io::option("--tokenizer", "tokenizer.json (or a checkpoint directory) to count prompt tokens with"),
        spec.tokenizer);
}
template <class Spec, class Visit, io::IfSpec<Spec, NewTaskSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  visit(io::option("items", "a JSONL (or JSON array) file of items").mandatory(), spec.items);
  visit(io::option("--answer", "the field holding each item's answer").shown(), spec.answer);
  visit(io::option("--lang", "the items' language code").shown(), spec.language);
  visit(io::option("--out", "the task file to write (*.json)").mandatory(), spec.out);
}
template <class Spec, class Visit, io::IfSpec<Spec, TaskExportSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  visit(io::option("--task", "emotion, snli or paws").mandatory(), spec.task);
  visit(io::option("--out", "the task file to write").mandatory(), spec.out);
  visit(data_dir_option(), spec.data_dir);
}

// The summary `task check` prints for the spec's file (check_task_file, with the tokenizer when given).
std::string check_task(const TaskCheckSpec& spec);

// Writes new_task_file of the spec's items to spec.out; throws Error naming spec.out when it exists.
void write_new_task(const NewTaskSpec& spec);

// Writes the study's task spec.task (study_task_file) to spec.out, from the data in spec.data_dir.
void export_study_task(const TaskExportSpec& spec);

}  // namespace qtalign::data
