#pragma once
// `qtalign task check` and `task new`: a task file validated down to its last item, summarised for the
// person writing it, and a starting file written from a JSONL file's fields.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/protocol.h"
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

}  // namespace qtalign::data
