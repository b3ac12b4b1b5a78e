#pragma once
// A task as one file: labels or multiple-choice options, a template per language (or one template with
// translated words), where each language's items are (JSON array, JSONL, CSV or TSV, with field and
// answer mappings), the demonstrations (written out, or drawn from a dev file with a seed, balanced
// over labels), and optionally same-language label words (the study's lens and output_types blocks).
// The layout is described in README.md ("Your own tasks"); the study's three tasks are prompts.json's
// built-in reading and export to this layout byte for byte (study_task_file).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/protocol.h"
#include "data/task_items.h"
#include "io/json_file.h"

namespace qtalign::data {

// Reads and validates a task file; item files are read only where the demonstrations are drawn from a
// dev file. Throws Error "<file>: <json path>: problem" naming the field and the language.
TaskProtocol read_task_file(const std::filesystem::path& file);

// Demonstrations drawn from a dev file: the few-shot block and each demonstration's answer.
struct DrawnDemonstrations {
  std::string block;
  std::vector<std::string> answers;  // in block order: the label, or under option-text scoring the option's text
};

// The `shots` demonstrations drawn from `dev` (items of `language`): balanced over the labels (label
// i of the task at positions i, i + L, ...), each label's items in the order of a shuffle seeded by
// (seed, label), each written as the question followed by its answer (the label, or under option-text
// scoring the text of its option) and the closing quote. Throws Error naming `context` when a label
// has too few items.
DrawnDemonstrations drawn_demonstrations(const TaskProtocol& task, const std::string& language,
                                         const std::vector<TaskItem>& dev, int shots, uint64_t seed,
                                         const std::string& context);

// One of the study's tasks (prompts.json) written as a task file: its items are the data directory's
// files by absolute path, so the file reads back into the same prompts.
io::Json study_task_file(const Protocol& protocol, const std::string& task);

}  // namespace qtalign::data
