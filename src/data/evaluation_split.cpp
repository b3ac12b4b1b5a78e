#include "data/evaluation_split.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "data/sampling.h"
#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::data {

EvaluationSplit split_test_set(const std::string& task, const std::vector<TaskItem>& english_test,
                               double eval_fraction, uint64_t seed) {
  if (!(eval_fraction > 0.0 && eval_fraction <= 1.0))
    throw Error(fmt::format("evaluation fraction {} is outside (0, 1]", eval_fraction));
  EvaluationSplit split;
  split.task = task;
  split.seed = seed;
  split.test_count = english_test.size();
  std::map<std::string, std::vector<size_t>> by_label;
  for (const TaskItem& item : english_test) by_label[item.label].push_back(item.index);
  for (auto& [label, indices] : by_label) {
    std::mt19937_64 generator = seeded_generator(seed, "evaluation split " + task + " " + label);
    shuffle_indices(indices, generator);
    const auto evaluation_count = static_cast<size_t>(std::llround(eval_fraction * static_cast<double>(indices.size())));
    split.evaluation_indices.insert(split.evaluation_indices.end(), indices.begin(), indices.begin() + evaluation_count);
    split.training_indices.insert(split.training_indices.end(), indices.begin() + evaluation_count, indices.end());
  }
  std::sort(split.evaluation_indices.begin(), split.evaluation_indices.end());
  std::sort(split.training_indices.begin(), split.training_indices.end());
  return split;
}

void write_evaluation_split(const std::filesystem::path& file, const EvaluationSplit& split) {
  io::write_json_file(file, {{"task", split.task},
                             {"seed", split.seed},
                             {"test_count", split.test_count},
                             {"evaluation_indices", split.evaluation_indices},
                             {"training_indices", split.training_indices}});
}

EvaluationSplit read_evaluation_split(const std::filesystem::path& file) {
  const io::Json json = io::read_json_file(file);
  for (const char* key : {"seed", "test_count"})
    if (json.is_object() && json.contains(key) && !json[key].is_number_unsigned())
      fail_at(file, std::string("field '") + key + "' must be a non-negative integer");
  for (const char* key : {"evaluation_indices", "training_indices"})
    if (json.is_object() && json.contains(key) && json[key].is_array())
      for (const io::Json& index : json[key])
        if (!index.is_number_unsigned()) fail_at(file, std::string("field '") + key + "' must hold non-negative integers");
  EvaluationSplit split;
  split.task = io::required_field<std::string>(json, "task", file);
  split.seed = io::required_field<uint64_t>(json, "seed", file);
  split.test_count = io::required_field<size_t>(json, "test_count", file);
  split.evaluation_indices = io::required_field<std::vector<size_t>>(json, "evaluation_indices", file);
  split.training_indices = io::required_field<std::vector<size_t>>(json, "training_indices", file);
  std::set<size_t> seen;
  for (const auto* part : {&split.evaluation_indices, &split.training_indices}) {
    for (size_t index : *part) {
      if (index >= split.test_count)
        fail_at(file, fmt::format("index {} is out of range for {} test items", index, split.test_count));
      if (!seen.insert(index).second) fail_at(file, fmt::format("index {} appears twice", index));
    }
  }
  if (split.evaluation_indices.empty()) fail_at(file, "no evaluation indices");
  return split;
}

std::vector<size_t> evaluation_items_of(const std::filesystem::path& file, const std::string& task) {
  if (file.empty()) return {};
  const EvaluationSplit split = read_evaluation_split(file);
  if (split.task != task) fail_at(file, "is a split of task " + split.task + ", not " + task);
  return split.evaluation_indices;
}

}  // namespace qtalign::data
