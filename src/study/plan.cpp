#include "study/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "data/answer_type.h"
#include "io/error.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string joined;
  for (const std::string& part : parts) joined += (joined.empty() ? "" : separator) + part;
  return joined;
}

// Throws Error naming two entries of a plan's axis that are the same by `keys` (entries[i] has
// keys[i]), as spelt in the plan.
void refuse_duplicates(const std::vector<std::string>& entries, const std::vector<std::string>& keys,
                       const char* axis) {
  std::map<std::string, size_t> first;  // key -> the entry that has it first
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto [found, inserted] = first.emplace(keys[i], i);
    if (inserted) continue;
    const std::string& earlier = entries[found->second];
    const std::string twice = earlier == entries[i] ? fmt::format("{} is given twice", earlier)
                                                    : fmt::format("{} and {} are the same", earlier, entries[i]);
    throw Error(fmt::format("study plan: {} {}: each configuration and evaluation would run once and show twice in "
                            "every table",
                            axis, twice));
  }
}

// Refuses entries given twice on any axis of the plan.
void refuse_duplicate_entries(const Plan& plan, const data::Protocol& protocol) {
  refuse_duplicates(plan.models, plan.models, "model");
  std::vector<std::string> mixture_keys;
  for (const std::string& mixture : plan.mixtures) {
    std::vector<std::string> sources = data::parse_language_list(protocol, mixture);
    std::sort(sources.begin(), sources.end());
    mixture_keys.push_back(join(sources, ","));
  }
  refuse_duplicates(plan.mixtures, mixture_keys, "tuning mixture");
  refuse_duplicates(plan.targets, plan.targets, "target");
  std::vector<std::string> tasks, task_keys;
  for (const TaskPair& pair : plan.tasks) {
    tasks.push_back(pair.tune == pair.eval ? pair.tune : pair.tune + ":" + pair.eval);
    task_keys.push_back(pair.tune + ":" + pair.eval);
  }
  refuse_duplicates(tasks, task_keys, "task");
  std::vector<std::string> labels;
  for (const data::AnswerType type : plan.labels) labels.push_back(data::answer_type_name(type));
  refuse_duplicates(labels, labels, "answer type");
  std::vector<std::string> shots;
  for (int count : plan.shots) shots.push_back(data::shots_name(count));
  refuse_duplicates(shots, shots, "shots");
}

// The tasks the plan tunes on, each once (one adapter serves every evaluation task).
std::set<std::string> tune_tasks(const Plan& plan) {
  std::set<std::string> tasks;
  for (const TaskPair& pair : plan.tasks) tasks.insert(pair.tune);
  return tasks;
}

std::vector<std::string> string_list(const io::Json& json, const char* key, const fs::path& file) {
  const io::Json& value = json.at(key);
  if (!value.is_array() || value.empty())
    fail_at(file, fmt::format("\"{}\" must be a non-empty array of strings", key));
  std::vector<std::string> list;
  for (const io::Json& entry : value) {
    if (!entry.is_string()) fail_at(file, fmt::format("\"{}\" must be a non-empty array of strings", key));
    list.push_back(entry.get<std::string>());
  }
  return list;
}

}  // namespace

std::string model_id(const std::string& model) {
  if (model == "demo") return model;
  const fs::path path = fs::path(model).lexically_normal();
  const std::string name = (path.has_filename() ? path.filename() : path.parent_path().filename()).string();
  return name.empty() ? "model" : name;
}

TaskPair parse_task_pair(const std::string& text) {
  const size_t colon = text.find(':');
  TaskPair pair{text.substr(0, colon), colon == std::string::npos ? text.substr(0, colon) : text.substr(colon + 1)};
  if (pair.tune.empty() || pair.eval.empty() || pair.eval.find(':') != std::string::npos || pair.tune == "all")
    throw Error(fmt::format("task '{}': expected TASK (tune and evaluate it) or TUNE:EVAL such as snli:emotion "
                            "(EVAL may be all)",
                            text));
  return pair;
}

void validate_plan(const Plan& plan, const data::Protocol& protocol) {
  const auto require = [](const auto& axis, const char* name) {
    if (axis.empty()) throw Error(fmt::format("study plan: no {} given", name));
  };
  require(plan.models, "models");
  require(plan.mixtures, "tuning mixtures (--train-langs)");
  require(plan.targets, "targets");
  require(plan.tasks, "tasks");
  require(plan.labels, "answer types (--labels)");
  require(plan.shots, "shots");
  for (const TaskPair& pair : plan.tasks) {
    protocol.task(pair.tune);
    if (pair.eval != "all") protocol.task(pair.eval);
  }
  for (int shots : plan.shots)
    if (shots < -1) throw Error(fmt::format("study plan: shots {} is negative", shots));
  for (const data::AnswerType labels : plan.labels)
    for (int shots : plan.shots) data::require_answerable(labels, shots);
  for (const std::string& target : plan.targets) protocol.require_language(target);
  for (const std::string& mixture : plan.mixtures) {
    const std::vector<std::string> sources = data::parse_language_list(protocol, mixture);
    if (mixture == "all") throw Error("study plan: a tuning mixture must name its languages, not 'all'");
    for (const std::string& target : plan.targets)
      if (std::find(sources.begin(), sources.end(), target) != sources.end())
        throw Error(fmt::format("study plan: mixture {} contains its target {}: a language is not translated into "
                                "itself",
                                mixture, target));
  }
  refuse_duplicate_entries(plan, protocol);
  std::set<std::string> ids;
  for (const std::string& model : plan.models)
    if (!ids.insert(model_id(model)).second)
      throw Error(fmt::format("study plan: two models are named {} (the checkpoint directory's name names its rows "
                              "and folders)",
                              model_id(model)));
  const size_t configurations = configuration_count(plan);
  if (configurations > plan.max_configurations)
    throw Error(fmt::format("study plan: {} configurations ({} model(s) x {} mixture(s) x {} target(s) x {} tuning "
                            "task(s)), more than the limit of {}: a plan this large is most likely a mistake (each "
                            "configuration trains an adapter); if it is meant, raise the limit with "
                            "--max-configurations {}",
                            configurations, plan.models.size(), plan.mixtures.size(), plan.targets.size(),
                            tune_tasks(plan).size(), plan.max_configurations, configurations));
}

size_t configuration_count(const Plan& plan) {
  return plan.models.size() * tune_tasks(plan).size() * plan.targets.size() * plan.mixtures.size();
}

std::vector<Configuration> plan_configurations(const Plan& plan, const data::Protocol& protocol) {
  std::vector<Configuration> configurations;
  std::set<std::string> tune_tasks_seen;
  for (const std::string& model : plan.models)
    for (const TaskPair& pair : plan.tasks) {
      if (!tune_tasks_seen.insert(model + "\n" + pair.tune).second) continue;  // one adapter serves every eval task
      for (const std::string& target : plan.targets)
        for (const std::string& mixture : plan.mixtures) {
          Configuration configuration;
          configuration.model = model;
          configuration.model_id = model_id(model);
          configuration.sources = data::parse_language_list(protocol, mixture);
          configuration.target = target;
          configuration.task = pair.tune;
          configuration.id = fmt::format("{}.{}_to_{}.{}", configuration.model_id, join(configuration.sources, "-"),
                                         target, pair.tune);
          configuration.label = join(configuration.sources, "/") + " => " + target;
          configurations.push_back(std::move(configuration));
        }
    }
  return configurations;
}

std::vector<EvaluationSetting> evaluation_settings(const Plan& plan, const std::string& tune_task) {
  std::vector<EvaluationSetting> settings;
  for (const TaskPair& pair : plan.tasks) {
    if (pair.tune != tune_task) continue;
    for (const data::AnswerType labels : plan.labels)
      for (int shots : plan.shots) {
        EvaluationSetting setting{pair.eval, labels, shots,
                                  fmt::format("{}.{}.{}-shots", pair.eval, data::answer_type_name(labels),
                                              data::shots_name(shots))};
        if (std::none_of(settings.begin(), settings.end(), [&](const auto& s) { return s.id == setting.id; }))
          settings.push_back(std::move(setting));
      }
  }
  return settings;
}

std::vector<EvaluationSetting> all_evaluation_settings(const Plan& plan) {
  std::vector<EvaluationSetting> settings;
  for (const TaskPair& pair : plan.tasks)
    for (EvaluationSetting& setting : evaluation_settings(plan, pair.tune))
      if (std::none_of(settings.begin(), settings.end(), [&](const auto& s) { return s.id == setting.id; }))
        settings.push_back(std::move(setting));
  return settings;
}

io::Json plan_to_json(const Plan& plan) {
  io::Json tasks = io::Json::array(), labels = io::Json::array(), shots = io::Json::array();
  for (const TaskPair& pair : plan.tasks) tasks.push_back(pair.tune == pair.eval ? pair.tune : pair.tune + ":" + pair.eval);
  for (const data::AnswerType type : plan.labels) labels.push_back(data::answer_type_name(type));
  for (int count : plan.shots) shots.push_back(count == data::kTaskShots ? io::Json("default") : io::Json(count));
  return {{"models", plan.models}, {"train_languages", plan.mixtures}, {"targets", plan.targets},
          {"tasks", tasks},        {"labels", labels},                 {"shots", shots}};
}

Plan plan_from_json(const io::Json& json, const fs::path& file, const Plan& defaults) {
  if (!json.is_object()) fail_at(file, "a study plan must be a JSON object");
  static const std::set<std::string> kKeys = {"models", "train_languages", "targets", "tasks", "labels", "shots",
                                              "settings"};
  for (const auto& [key, value] : json.items())
    if (!kKeys.count(key))
      fail_at(file, fmt::format("unknown key \"{}\" (a plan has models, train_languages, targets, tasks, labels, "
                                "shots, settings)",
                                key));
  Plan plan = defaults;
  if (json.contains("models")) plan.models = string_list(json, "models", file);
  if (json.contains("train_languages")) plan.mixtures = string_list(json, "train_languages", file);
  if (json.contains("targets")) plan.targets = string_list(json, "targets", file);
  if (json.contains("labels")) {
    plan.labels.clear();
    for (const std::string& entry : string_list(json, "labels", file)) {
      try {
        plan.labels.push_back(data::parse_answer_type(entry));
      } catch (const Error& e) {
        fail_at(file, e.what());
      }
    }
  }
  if (json.contains("tasks")) {
    plan.tasks.clear();
    for (const std::string& entry : string_list(json, "tasks", file)) {
      try {
        plan.tasks.push_back(parse_task_pair(entry));
      } catch (const Error& e) {
        fail_at(file, e.what());
      }
    }
  }
  if (json.contains("shots")) {
    const io::Json& value = json["shots"];
    if (!value.is_array() || value.empty()) fail_at(file, "\"shots\" must be a non-empty array");
    plan.shots.clear();
    for (const io::Json& entry : value) {
      if (!entry.is_string() && !entry.is_number_integer())
        fail_at(file, "\"shots\" entries are \"default\" or a count >= 0, not " + entry.dump());
      plan.shots.push_back(data::parse_shots(entry.is_string() ? entry.get<std::string>() : entry.dump(),
                                             file.string() + ": \"shots\""));
    }
  }
  return plan;
}

std::string plan_summary(const Plan& plan, const data::Protocol& protocol) {
  const size_t configurations = plan_configurations(plan, protocol).size();
  size_t tuned_evaluations = 0;
  for (const Configuration& configuration : plan_configurations(plan, protocol))
    tuned_evaluations += evaluation_settings(plan, configuration.task).size();
  return fmt::format("{} model(s) x {} mixture(s) x {} target(s) x {} task pair(s) x {} answer type(s) x {} shot "
                     "setting(s): {} adapters to train (at most {}: --max-configurations), {} base and {} tuned "
                     "evaluations",
                     plan.models.size(), plan.mixtures.size(), plan.targets.size(), plan.tasks.size(),
                     plan.labels.size(), plan.shots.size(), configurations, plan.max_configurations,
                     all_evaluation_settings(plan).size() * plan.models.size(), tuned_evaluations);
}

Plan parse_plan_axes(const PlanAxes& axes) {
  Plan plan;
  plan.models = axes.models;
  plan.mixtures = axes.mixtures;
  plan.targets = axes.targets;
  for (const std::string& task : axes.tasks) plan.tasks.push_back(parse_task_pair(task));
  for (const std::string& labels : axes.labels) plan.labels.push_back(data::parse_answer_type(labels));
  for (const std::string& shots : axes.shots) plan.shots.push_back(data::parse_shots(shots, "--shots"));
  plan.max_configurations = axes.max_configurations;
  return plan;
}

bool is_grid(const PlanAxes& axes) {
  return axes.mixtures.size() > 1 || axes.targets.size() > 1 || axes.labels.size() > 1 || axes.shots.size() > 1;
}

}  // namespace qtalign::study
