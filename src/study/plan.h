#pragma once
// A study plan: the grid of settings the study compares, models x tuning mixtures x targets x tasks x
// answer types x shots, given on the command line or in a JSON plan file. A configuration is one
// adapter (model, mixture, target, tuning task); each configuration is evaluated under every
// evaluation setting (evaluation task, answer type, shots) of its tuning task, and so is the base
// model (once per model and setting, shared by every configuration).
#include <filesystem>
#include <string>
#include <vector>

#include "data/answer_type.h"
#include "data/demonstrations.h"
#include "data/protocol.h"
#include "io/json_file.h"

namespace qtalign::study {

// How many configurations a plan may have unless --max-configurations says otherwise.
constexpr size_t kDefaultMaxConfigurations = 200;

// Tune on one task's questions, evaluate on `eval` (the same task, another one, or "all").
struct TaskPair {
  std::string tune;
  std::string eval;
};

struct Plan {
  std::vector<std::string> models;    // checkpoint directories; "demo" = the demo checkpoint
  std::vector<std::string> mixtures;  // tuning languages of each mixture, e.g. "zh,es"
  std::vector<std::string> targets;   // translation targets, e.g. "en", "it"
  std::vector<TaskPair> tasks;
  std::vector<data::AnswerType> labels;  // answer types
  std::vector<int> shots;                // demonstrations per prompt; data::kTaskShots: the task's own
  // The most configurations the plan may have (--max-configurations): a larger grid is far more
  // likely a mistake (an axis given too many values) than a study to run for months.
  size_t max_configurations = kDefaultMaxConfigurations;
};

// One adapter to train.
struct Configuration {
  std::string model;                 // as in the plan
  std::string model_id;              // "demo" or the checkpoint directory's name
  std::vector<std::string> sources;  // tuning languages
  std::string target;
  std::string task;                  // tuning task
  std::string id;                    // folder name, e.g. "demo.zh-es_to_it.snli"
  std::string label;                 // for tables, e.g. "zh/es => it"
};

// One way of evaluating a model.
struct EvaluationSetting {
  std::string task;    // a task or "all"
  data::AnswerType labels = data::AnswerType::english;
  int shots = data::kTaskShots;
  std::string id;      // file stem, e.g. "emotion.same-language.default-shots"
};

// How a model is named in folders and tables: "demo", or its checkpoint directory's name.
std::string model_id(const std::string& model);

// Parses "snli" (tune and evaluate snli) or "snli:emotion" (tune on snli, evaluate emotion); throws
// Error naming the entry when it is malformed.
TaskPair parse_task_pair(const std::string& text);

// The plan's settings, validated against the protocol before any work: known tasks, languages and
// answer types, no empty axis, no entry given twice (mixtures of the same languages in another
// order included: each would run once and show twice in every table), English not a tuning
// language when it is the target, a source never its own target, distinct model names, answers
// the prompts can explain (data::require_answerable), at most max_configurations configurations.
// Throws Error naming what is wrong.
void validate_plan(const Plan& plan, const data::Protocol& protocol);

// Every configuration, in plan order (models, then tasks, targets, mixtures).
std::vector<Configuration> plan_configurations(const Plan& plan, const data::Protocol& protocol);

// The evaluation settings of configurations tuned on `tune_task` (its evaluation tasks x answer types x shots).
std::vector<EvaluationSetting> evaluation_settings(const Plan& plan, const std::string& tune_task);

// Every evaluation setting of the plan without repeats (what the base model is evaluated under).
std::vector<EvaluationSetting> all_evaluation_settings(const Plan& plan);

// {"models": [...], "train_languages": ["zh", "zh,es"], "targets": [...], "tasks": ["snli", "snli:emotion"],
//  "labels": [...], "shots": ["default", 0]}.
io::Json plan_to_json(const Plan& plan);

// The plan part of a plan file (`file` names it in errors): the axes above, each optional (defaults
// of Plan as the command line has them: `defaults`).
Plan plan_from_json(const io::Json& json, const std::filesystem::path& file, const Plan& defaults);

// The number of configurations (adapters to train) of a plan.
size_t configuration_count(const Plan& plan);

// The number of configurations and evaluations a plan makes, in words.
std::string plan_summary(const Plan& plan, const data::Protocol& protocol);

// A plan's axes as the command line words them: shots "default" or a count, tasks TASK or TUNE:EVAL.
struct PlanAxes {
  std::vector<std::string> models;
  std::vector<std::string> mixtures = {"zh,de"};
  std::vector<std::string> targets = {"en"};
  std::vector<std::string> tasks;
  std::vector<std::string> labels = {"english"};
  std::vector<std::string> shots = {"default"};
  size_t max_configurations = kDefaultMaxConfigurations;
};

// The plan of the axes; throws Error on a malformed value.
Plan parse_plan_axes(const PlanAxes& axes);

// Whether the axes ask for a grid rather than one configuration: several mixtures, targets, answer
// types or shot counts (`qtalign run` has one model and one task).
bool is_grid(const PlanAxes& axes);

}  // namespace qtalign::study
