#include "study/grid_layout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace qtalign::study {

namespace fs = std::filesystem;

GridPaths::GridPaths(fs::path out)
    : root(out),
      model(out / "model"),
      record(out / "study.json"),
      plan(out / "plan.json") {}

fs::path GridPaths::split(const std::string& task) const { return root / "splits" / (task + ".json"); }

fs::path GridPaths::base_results(const std::string& model, const EvaluationSetting& setting) const {
  return root / "base" / model_id(model) / (setting.id + ".json");
}

fs::path GridPaths::configuration(const std::string& id) const { return root / "configurations" / id; }

fs::path GridPaths::tuned_results(const std::string& configuration_id, const EvaluationSetting& setting) const {
  return configuration(configuration_id) / "eval" / (setting.id + ".json");
}

fs::path GridPaths::model_dir(const std::string& model) const { return model == "demo" ? this->model : fs::path(model); }

std::vector<std::string> grid_setting_tasks(const data::Protocol& protocol, const EvaluationSetting& setting) {
  return setting.task == "all" ? protocol.study_task_names() : std::vector<std::string>{setting.task};
}

std::vector<std::string> grid_split_tasks(const data::Protocol& protocol, const Plan& plan) {
  std::vector<std::string> tasks;
  for (const EvaluationSetting& setting : all_evaluation_settings(plan))
    for (const std::string& task : grid_setting_tasks(protocol, setting))
      if (std::any_of(plan.tasks.begin(), plan.tasks.end(), [&](const TaskPair& pair) { return pair.tune == task; }) &&
          std::find(tasks.begin(), tasks.end(), task) == tasks.end())
        tasks.push_back(task);
  std::sort(tasks.begin(), tasks.end());
  return tasks;
}

std::vector<fs::path> grid_split_files(const GridPaths& paths, const data::Protocol& protocol, const Plan& plan,
                                       const EvaluationSetting& setting) {
  const std::vector<std::string> split_tasks = grid_split_tasks(protocol, plan);
  std::vector<fs::path> files;
  for (const std::string& task : grid_setting_tasks(protocol, setting))
    if (std::find(split_tasks.begin(), split_tasks.end(), task) != split_tasks.end()) files.push_back(paths.split(task));
  return files;
}

io::Json question_source_note(const data::Protocol& protocol, const Plan& plan) {
  io::Json note = io::Json::object();
  const std::vector<std::string> split_tasks = grid_split_tasks(protocol, plan);
  for (const TaskPair& pair : plan.tasks) {
    if (note.contains(pair.tune)) continue;
    const auto shipped = protocol.question_translation.shipped_sets.find(pair.tune);
    std::vector<std::string> shipped_languages;
    if (shipped != protocol.question_translation.shipped_sets.end())
      for (const auto& [language, file] : shipped->second) shipped_languages.push_back(language);
    std::string text =
        shipped_languages.empty()
            ? fmt::format("{} ships no translated training questions: its tuning questions come from the parallel test "
                          "sets, from the half of the items not evaluated (splits/{}.json)",
                          pair.tune, pair.tune)
            : fmt::format("{} ships translated training questions for {} (into English); other sources or targets take "
                          "their questions from the parallel test sets, from the half of the items not evaluated",
                          pair.tune, fmt::format("{}", fmt::join(shipped_languages, ", ")));
    if (std::find(split_tasks.begin(), split_tasks.end(), pair.tune) != split_tasks.end())
      text += fmt::format("; {} is evaluated on the other half of its test items (splits/{}.json), for the base model and "
                          "every configuration alike",
                          pair.tune, pair.tune);
    note[pair.tune] = text;
  }
  return note;
}

}  // namespace qtalign::study
