#pragma once
// Keeping evaluation items out of training when training data is built from the test sets themselves
// (emotion and paws ship no non-English training text): the test indices are split, stratified by
// English label, into an evaluation part and a training part; question-translation data may only use
// the training part, and evaluation uses only the evaluation part (recorded in a JSON file).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/task_items.h"

namespace qtalign::data {

struct EvaluationSplit {
  std::string task;
  uint64_t seed = 0;
  size_t test_count = 0;                 // items in the task's test sets
  std::vector<size_t> evaluation_indices;  // sorted; evaluate only these
  std::vector<size_t> training_indices;    // sorted; the rest, usable for training
};

// Splits the English test set: per label, round(eval_fraction * n_label) items (seeded) go to
// evaluation; eval_fraction in (0, 1], 1 keeping every item for evaluation.
EvaluationSplit split_test_set(const std::string& task, const std::vector<TaskItem>& english_test,
                               double eval_fraction, uint64_t seed);

// Writes {"task","seed","test_count","evaluation_indices","training_indices"} as JSON, atomically.
void write_evaluation_split(const std::filesystem::path& file, const EvaluationSplit& split);

// Reads a split file; throws Error naming the file for missing fields, indices out of range,
// repeats, or parts that overlap.
EvaluationSplit read_evaluation_split(const std::filesystem::path& file);

// The evaluation items of `file`'s split for `task` (none when `file` is empty); throws Error naming
// the file when it splits another task.
std::vector<size_t> evaluation_items_of(const std::filesystem::path& file, const std::string& task);

}  // namespace qtalign::data
