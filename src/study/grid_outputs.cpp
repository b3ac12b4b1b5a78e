// write_grid_outputs (grid.h): which results files make each of the study's tables, by the plan and
// the grid's layout; report/grid_outputs.h turns the tables into files.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "data/protocol.h"
#include "io/json_file.h"
#include "report/grid_outputs.h"
#include "study/grid.h"
#include "study/grid_layout.h"

namespace qtalign::study {
namespace {

namespace fs = std::filesystem;

report::RowSource row_source(std::string id, std::string label, std::vector<std::string> sources, std::string target,
                             const fs::path& results) {
  return {std::move(id), std::move(label), std::move(sources), std::move(target), results, predictions_file(results)};
}

}  // namespace

void write_grid_outputs(const fs::path& study_dir) {
  const fs::path record_file = study_dir / "study.json";
  const io::Json study = io::read_json_file(record_file);
  const io::Json settings = io::required_field<io::Json>(study, "settings", record_file);
  const Plan plan = plan_from_json(io::required_field<io::Json>(settings, "plan", record_file), record_file, Plan{});
  const io::Json data = io::required_field<io::Json>(study, "data", record_file);
  const data::Protocol protocol = data::load_protocol(io::required_field<std::string>(data, "dir", record_file),
                                                      data.value("tasks_dir", std::string()));
  const GridPaths paths(study_dir);
  std::vector<report::GridTable> tables;
  for (const std::string& model : plan.models)
    for (const EvaluationSetting& setting : all_evaluation_settings(plan)) {
      const fs::path base = paths.base_results(model, setting);
      if (!fs::is_regular_file(base)) continue;  // the grid has not reached it
      std::vector<report::RowSource> tuned;
      std::vector<std::string> row_tasks;
      std::set<std::string> tuning_tasks;
      for (const Configuration& configuration : plan_configurations(plan, protocol)) {
        const std::vector<EvaluationSetting> own = evaluation_settings(plan, configuration.task);
        const fs::path results = paths.tuned_results(configuration.id, setting);
        if (configuration.model != model || !fs::is_regular_file(results) ||
            std::none_of(own.begin(), own.end(), [&](const auto& s) { return s.id == setting.id; }))
          continue;
        tuning_tasks.insert(configuration.task);
        row_tasks.push_back(configuration.task);
        tuned.push_back(
            row_source(configuration.id, configuration.label, configuration.sources, configuration.target, results));
      }
      for (const std::string& task : grid_setting_tasks(protocol, setting)) {
        const std::string id = fmt::format("{}.{}.{}.{}", model_id(model), task,
                                           data::answer_type_name(setting.labels), data::shots_name(setting.shots));
        std::vector<report::RowSource> rows = tuned;
        const bool cross_task = tuning_tasks.size() > 1 || (tuning_tasks.size() == 1 && *tuning_tasks.begin() != task);
        if (cross_task)  // rows say whose questions tuned them
          for (size_t r = 0; r < rows.size(); ++r) rows[r].label += " (" + row_tasks[r] + " questions)";
        report::GridTable table =
            report::build_grid_table(protocol, id, model_id(model), task, data::answer_type_name(setting.labels),
                                     data::shots_name(setting.shots),
                                     row_source("base", "base", {}, "", base), rows);
        table.tuning_tasks = fmt::format("{}", fmt::join(tuning_tasks, ","));
        tables.push_back(std::move(table));
      }
    }
  report::write_grid_outputs(study_dir, study, tables);
}

}  // namespace qtalign::study
