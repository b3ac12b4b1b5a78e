#include "report/grid_outputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "io/atomic_file.h"
#include "plot/bar_chart.h"
#include "plot/heatmap.h"
#include "report/grid_report.h"
#include "report/table_format.h"

namespace qtalign::report {
namespace {

namespace fs = std::filesystem;

// The heatmap's colours span the table's largest change, but at least a point, so that a map of
// zeros and tiny changes stays white instead of saturating.
constexpr double kHeatmapMinimumScale = 0.01;

// "2 high-resource", "1 low-resource", "3 mixed": the number and kind of a row's tuning languages.
std::pair<size_t, std::string> tuning_kind(const GridRow& row) {
  const size_t high = static_cast<size_t>(std::count_if(row.sources.begin(), row.sources.end(), is_high_resource));
  const std::string kind = high == row.sources.size() ? "high-resource" : high == 0 ? "low-resource" : "mixed";
  return {row.sources.size(), kind};
}

void write_heatmap(const GridTable& table, const fs::path& stem) {
  plot::Heatmap heatmap;
  heatmap.title = fmt::format("{}, {} labels: change from base (points)", table.task, table.labels);
  heatmap.x_label = "language (high-resource | low-resource)";
  heatmap.y_label = "configuration";
  heatmap.columns = table.languages();
  heatmap.value_scale = 100.0;
  heatmap.min_limit = kHeatmapMinimumScale;
  heatmap.legend_title = "scale: largest |change|";
  if (!table.high_resource.empty() && !table.low_resource.empty()) heatmap.column_breaks = {table.high_resource.size()};
  for (size_t r = 1; r < table.rows.size(); ++r) {
    const GridRow& row = table.rows[r];
    heatmap.rows.push_back(row.label);
    std::vector<std::optional<double>> values;
    std::vector<bool> marked;
    for (const std::string& language : heatmap.columns) {
      values.push_back(row.cells.at(language).delta);
      marked.push_back(row.cells.at(language).significant());
    }
    heatmap.values.push_back(std::move(values));
    heatmap.marked.push_back(std::move(marked));
  }
  plot::write_heatmap(heatmap, stem);
}

void write_change_plot(const GridTable& table, const fs::path& stem) {
  static const std::map<std::string, int> kKindOrder = {{"high-resource", 0}, {"mixed", 1}, {"low-resource", 2}};
  std::map<std::pair<size_t, int>, std::pair<std::vector<double>, std::vector<double>>> groups;  // all, unseen deltas
  for (size_t r = 1; r < table.rows.size(); ++r) {
    const auto [count, kind] = tuning_kind(table.rows[r]);
    const RowAverages change =
        row_averages(table, table.rows[r], [](const std::string&, const GridCell& cell) { return cell.delta; });
    auto& [all, unseen] = groups[{count, kKindOrder.at(kind)}];
    all.push_back(change.all.value_or(0.0));
    if (change.unseen) unseen.push_back(*change.unseen);
  }
  const auto mean = [](const std::vector<double>& values) {
    double total = 0;
    for (double value : values) total += value;
    return values.empty() ? 0.0 : 100.0 * total / static_cast<double>(values.size());
  };
  plot::BarChart chart;
  chart.title = fmt::format("{}, {} labels: mean change by tuning languages", table.task, table.labels);
  chart.x_label = "tuning languages (number, kind; n = configurations)";
  chart.y_label = "mean change from the base model (points)";
  chart.groups = {{"all languages", {}, {}, {}, {}}, {"languages unseen in tuning", {}, {}, {}, {}}};
  chart.value_labels = true;
  chart.zero_note = "no change";
  for (const auto& [key, values] : groups) {
    const auto key_kind = key.second;  // a structured binding cannot be captured in C++17
    const std::string kind = std::find_if(kKindOrder.begin(), kKindOrder.end(), [&](const auto& entry) {
                               return entry.second == key_kind;
                             })->first;
    chart.categories.push_back(fmt::format("{} {} (n={})", key.first, kind, values.first.size()));
    chart.groups[0].values.push_back(mean(values.first));
    chart.groups[1].values.push_back(mean(values.second));
  }
  const auto zero = [](const plot::BarGroup& group) {
    return std::all_of(group.values.begin(), group.values.end(), [](double v) { return v == 0.0; });
  };
  if (zero(chart.groups[0]) && zero(chart.groups[1])) {  // no change anywhere: an axis around zero instead of an empty one
    chart.y_min = -1.0;
    chart.y_max = 1.0;
  }
  plot::write_bar_chart(chart, stem);
}

io::Json significance_entries(const GridTable& table) {
  io::Json entries = io::Json::array();
  for (size_t r = 1; r < table.rows.size(); ++r)
    for (const std::string& language : table.languages()) {
      const GridCell& cell = table.rows[r].cells.at(language);
      entries.push_back({{"table", table.id},
                         {"configuration", table.rows[r].id},
                         {"label", table.rows[r].label},
                         {"language", language},
                         {"base_accuracy", table.rows[0].cells.at(language).accuracy},
                         {"tuned_accuracy", cell.accuracy},
                         {"delta", *cell.delta},
                         {"items", cell.items},
                         {"base_only_correct", cell.pairs->base_only},
                         {"tuned_only_correct", cell.pairs->tuned_only},
                         {"p", *cell.p_value},
                         {"p_holm", *cell.p_holm},
                         {"significant", cell.significant()}});
    }
  return entries;
}

}  // namespace

void write_grid_outputs(const fs::path& study_dir, const io::Json& study, const std::vector<GridTable>& tables) {
  const fs::path table_dir = study_dir / "tables";
  fs::create_directories(table_dir);
  fs::create_directories(study_dir / "figures");
  std::vector<GridFigures> figures;
  io::Json significance = io::Json::array();
  std::string summary;
  for (const GridTable& table : tables) {
    const std::string& id = table.id;
    const NumberTable accuracy = accuracy_table(table);
    const NumberTable agreement = agreement_table(table);
    io::write_file_atomically(table_dir / (id + ".md"), table_markdown(accuracy) + "\n" + table_markdown(agreement));
    io::write_file_atomically(table_dir / (id + ".csv"), table_csv(accuracy));
    io::write_file_atomically(table_dir / ("agreement_" + id + ".csv"), table_csv(agreement));
    io::write_file_atomically(table_dir / (id + ".tex"), table_latex(accuracy) + "\n" + table_latex(agreement));
    io::write_json_file(table_dir / (id + ".json"), grid_table_to_json(table));
    summary += table_markdown(accuracy) + "\n";
    GridFigures written;
    if (table.rows.size() > 1) {
      written.heatmap = fs::path("figures") / ("heatmap_" + id);
      written.change = fs::path("figures") / ("change_" + id);
      write_heatmap(table, study_dir / written.heatmap);
      write_change_plot(table, study_dir / written.change);
    }
    for (io::Json& entry : significance_entries(table)) significance.push_back(std::move(entry));
    figures.push_back(written);
  }
  io::write_json_file(table_dir / "significance.json",
                      {{"test", "exact McNemar (two-sided; binomial on the discordant pairs), base vs tuned on the same "
                                "items"},
                       {"correction", "Holm, across the languages of each configuration (one family per table row)"},
                       {"level", kSignificanceLevel},
                       {"tests", std::move(significance)}});
  io::write_file_atomically(table_dir / "summary.md", summary);
  const ReportDocument document = build_grid_report(study, tables, figures, study_dir);
  io::write_file_atomically(study_dir / "report.md", render_report_markdown(document));
  io::write_file_atomically(study_dir / "report.html", render_report_html(document, study_dir));
}

}  // namespace qtalign::report
