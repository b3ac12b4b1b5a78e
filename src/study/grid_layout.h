#pragma once
// Where a grid keeps what: the study directory's layout (see grid.h), and which items each evaluation
// uses. A task that is also a tuning task of the plan is evaluated on a fixed half of its test items
// (stratified by label, seeded) for the base model and every configuration alike, because tuning
// questions may be drawn from the other half (emotion and paws ship no translated training questions;
// snli ships them for de, es, it, sw and zh only, into English only).
#include <filesystem>
#include <string>
#include <vector>

#include "data/protocol.h"
#include "io/json_file.h"
#include "study/plan.h"

namespace qtalign::study {

// The share of each task's test items kept for evaluation when the task also gives tuning questions.
inline constexpr double kGridEvalFraction = 0.5;

struct GridPaths {
  explicit GridPaths(std::filesystem::path out);

  std::filesystem::path root, model, record, plan;

  std::filesystem::path split(const std::string& task) const;
  std::filesystem::path base_results(const std::string& model, const EvaluationSetting& setting) const;
  std::filesystem::path configuration(const std::string& id) const;
  std::filesystem::path tuned_results(const std::string& configuration_id, const EvaluationSetting& setting) const;
  // The checkpoint of a plan's model ("demo": the study's own).
  std::filesystem::path model_dir(const std::string& model) const;
};

// The tasks an evaluation setting evaluates ("all": every task).
std::vector<std::string> grid_setting_tasks(const data::Protocol& protocol, const EvaluationSetting& setting);

// The tasks evaluated on a fixed half of their items: tuning tasks of the plan that some setting evaluates.
std::vector<std::string> grid_split_tasks(const data::Protocol& protocol, const Plan& plan);

// The split files restricting the items of a setting's evaluation.
std::vector<std::filesystem::path> grid_split_files(const GridPaths& paths, const data::Protocol& protocol,
                                                    const Plan& plan, const EvaluationSetting& setting);

// Per tuning task of the plan, in words: where its questions come from and which items are evaluated.
io::Json question_source_note(const data::Protocol& protocol, const Plan& plan);

}  // namespace qtalign::study
