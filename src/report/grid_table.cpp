#include "report/grid_table.h"

#include <fmt/format.h>

#include <algorithm>

#include "data/language_groups.h"
#include "eval/results.h"
#include "io/error.h"
#include "stats/agreement.h"

namespace qtalign::report {
namespace {

namespace fs = std::filesystem;

struct ItemPrediction {
  std::string prediction;
  bool correct = false;
};

using LanguagePredictions = std::map<std::string, std::map<int64_t, ItemPrediction>>;

// The predictions of `task` per language, from a predictions file.
LanguagePredictions read_predictions(const fs::path& file, const std::string& task) {
  if (!fs::is_regular_file(file)) fail_at(file, "is missing: the study needs each evaluation's per-item predictions");
  LanguagePredictions predictions;
  for (const io::Json& record : io::read_json_records(file)) {
    if (io::required_field<std::string>(record, "task", file) != task) continue;
    predictions[io::required_field<std::string>(record, "language", file)][io::required_field<int64_t>(record, "index", file)] =
        {io::required_field<std::string>(record, "prediction", file), io::required_field<bool>(record, "correct", file)};
  }
  return predictions;
}

const eval::TaskResults& task_results(const eval::EvalResults& results, const std::string& task, const fs::path& file) {
  for (const eval::TaskResults& entry : results.tasks)
    if (entry.task == task) return entry;
  fail_at(file, "has no results for task " + task);
}

GridRow read_row(const RowSource& source, const std::string& task, LanguagePredictions& predictions) {
  const eval::EvalResults results = eval::read_results(source.results);
  predictions = read_predictions(source.predictions, task);
  GridRow row{source.id, source.label, source.sources, source.target, {}, {}};
  if (!source.sources.empty()) {
    row.seen = source.sources;
    if (std::find(row.seen.begin(), row.seen.end(), source.target) == row.seen.end()) row.seen.push_back(source.target);
  }
  for (const eval::LanguageAccuracy& language : task_results(results, task, source.results).languages) {
    const auto items = predictions.find(language.language);
    if (items == predictions.end() || static_cast<int64_t>(items->second.size()) != language.total)
      fail_at(source.predictions, fmt::format("does not hold the {} predictions of {}/{} its results count", language.total,
                                            task, language.language));
    row.cells[language.language] = {language.accuracy.value, language.total, {}, {}, {}, {}, {}};
  }
  // Agreement with the same model's English prediction on the parallel item.
  const auto english = predictions.find("en");
  if (english == predictions.end())
    fail_at(source.results, "has no English results: agreement with English needs en evaluated");
  std::map<int64_t, std::string> reference;
  for (const auto& [index, item] : english->second) reference[index] = item.prediction;
  for (auto& [language, cell] : row.cells) {
    if (language == "en") continue;
    std::map<int64_t, std::string> own;
    for (const auto& [index, item] : predictions.at(language)) own[index] = item.prediction;
    cell.agreement = stats::prediction_agreement(own, reference).share();
  }
  return row;
}

std::map<int64_t, bool> correctness(const std::map<int64_t, ItemPrediction>& items) {
  std::map<int64_t, bool> correct;
  for (const auto& [index, item] : items) correct[index] = item.correct;
  return correct;
}

std::optional<double> mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double total = 0;
  for (double value : values) total += value;
  return total / static_cast<double>(values.size());
}

}  // namespace

bool is_high_resource(const std::string& language) {
  const std::vector<std::string>& high = data::study_language_groups().front().languages;
  return std::find(high.begin(), high.end(), language) != high.end();
}

namespace {

// Whether a language is in one of the study's blocks.
bool in_study_block(const std::string& language) {
  const auto& groups = data::study_language_groups();
  return std::any_of(groups.begin(), groups.end(), [&](const data::LanguageGroup& group) {
    return std::find(group.languages.begin(), group.languages.end(), language) != group.languages.end();
  });
}

}  // namespace

std::vector<std::string> GridTable::languages() const {
  std::vector<std::string> all = high_resource;
  all.insert(all.end(), low_resource.begin(), low_resource.end());
  all.insert(all.end(), other.begin(), other.end());
  return all;
}

GridTable build_grid_table(const data::Protocol& protocol, const std::string& table_id, const std::string& model,
                           const std::string& task, const std::string& labels, const std::string& shots,
                           const RowSource& base, const std::vector<RowSource>& tuned) {
  GridTable table;
  table.id = table_id;
  table.model = model;
  table.task = task;
  table.labels = labels;
  table.shots = shots;
  LanguagePredictions base_predictions;
  table.rows.push_back(read_row(base, task, base_predictions));
  for (const std::string& language : protocol.task(task).language_order) {
    if (!table.rows.front().cells.count(language)) continue;
    (!in_study_block(language)  ? table.other
     : is_high_resource(language) ? table.high_resource
                                  : table.low_resource)
        .push_back(language);
  }
  for (const RowSource& source : tuned) {
    LanguagePredictions predictions;
    GridRow row = read_row(source, task, predictions);
    std::vector<double> p_values;
    for (const std::string& language : table.languages()) {
      const auto cell = row.cells.find(language);
      if (cell == row.cells.end())
        fail_at(source.results, fmt::format("has no {}/{} results, which the base model's {} has", task, language,
                                            base.results.string()));
      const std::map<int64_t, bool> before = correctness(base_predictions.at(language));
      const std::map<int64_t, bool> after = correctness(predictions.at(language));
      if (before.size() != after.size() ||
          !std::equal(before.begin(), before.end(), after.begin(), [](const auto& a, const auto& b) { return a.first == b.first; }))
        fail_at(source.results, fmt::format("evaluated other {}/{} items than the base model's {}: the paired test needs "
                                            "the same items",
                                            task, language, base.results.string()));
      GridCell& value = cell->second;
      value.delta = value.accuracy - table.rows.front().cells.at(language).accuracy;
      value.pairs = stats::pair_outcomes(before, after);
      value.p_value = stats::mcnemar_exact_p(value.pairs->base_only, value.pairs->tuned_only);
      p_values.push_back(*value.p_value);
    }
    const std::vector<double> adjusted = stats::holm_adjust(p_values);
    for (size_t l = 0; l < adjusted.size(); ++l) row.cells.at(table.languages()[l]).p_holm = adjusted[l];
    table.rows.push_back(std::move(row));
  }
  return table;
}

RowAverages row_averages(const GridTable& table, const GridRow& row,
                         const std::function<std::optional<double>(const std::string&, const GridCell&)>& value) {
  std::vector<double> high, low, all, seen, unseen;
  for (const std::string& language : table.languages()) {
    const auto cell = row.cells.find(language);
    if (cell == row.cells.end()) continue;
    const std::optional<double> v = value(language, cell->second);
    if (!v) continue;
    if (in_study_block(language)) (is_high_resource(language) ? high : low).push_back(*v);
    all.push_back(*v);
    if (row.seen.empty()) continue;
    (std::find(row.seen.begin(), row.seen.end(), language) != row.seen.end() ? seen : unseen).push_back(*v);
  }
  return {mean(high), mean(low), mean(all), mean(seen), mean(unseen)};
}

io::Json grid_table_to_json(const GridTable& table) {
  io::Json languages = {{"high_resource", table.high_resource}, {"low_resource", table.low_resource}};
  if (!table.other.empty()) languages["other"] = table.other;
  io::Json rows = io::Json::array();
  for (const GridRow& row : table.rows) {
    io::Json cells = io::Json::object();
    for (const auto& [language, cell] : row.cells) {
      io::Json entry = {{"accuracy", cell.accuracy}, {"items", cell.items}};
      if (cell.agreement) entry["agreement_with_en"] = *cell.agreement;
      if (cell.delta) entry["delta"] = *cell.delta;
      if (cell.pairs)
        entry["mcnemar"] = {{"both_correct", cell.pairs->both_correct}, {"base_only", cell.pairs->base_only},
                            {"tuned_only", cell.pairs->tuned_only},     {"both_wrong", cell.pairs->both_wrong},
                            {"p", *cell.p_value},                       {"p_holm", *cell.p_holm},
                            {"significant", cell.significant()}};
      cells[language] = std::move(entry);
    }
    const RowAverages accuracy =
        row_averages(table, row, [](const std::string&, const GridCell& cell) { return std::optional<double>(cell.accuracy); });
    const auto optional = [](const std::optional<double>& v) { return v ? io::Json(*v) : io::Json(nullptr); };
    rows.push_back({{"id", row.id},
                    {"label", row.label},
                    {"sources", row.sources},
                    {"target", row.target},
                    {"seen", row.seen},
                    {"averages", {{"high_resource", optional(accuracy.high_resource)},
                                  {"low_resource", optional(accuracy.low_resource)},
                                  {"all", optional(accuracy.all)},
                                  {"seen", optional(accuracy.seen)},
                                  {"unseen", optional(accuracy.unseen)}}},
                    {"languages", std::move(cells)}});
  }
  return {{"id", table.id},
          {"model", table.model},
          {"task", table.task},
          {"labels", table.labels},
          {"shots", table.shots},
          {"tuning_tasks", table.tuning_tasks},
          {"significance", {{"test", "exact McNemar (two-sided, binomial on the discordant pairs), base vs tuned on the same items"},
                            {"correction", "Holm across the languages of each configuration"},
                            {"level", kSignificanceLevel}}},
          {"languages", languages},
          {"rows", std::move(rows)}};
}

}  // namespace qtalign::report
