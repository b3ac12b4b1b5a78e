#include "report/grid_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "report/table_format.h"

namespace qtalign::report {
namespace {

namespace fs = std::filesystem;
using Kind = ReportBlock::Kind;

ReportBlock text_block(Kind kind, std::string text) { return {kind, std::move(text), {}, {}, {}}; }

ReportBlock table_block(const NumberTable& table) {
  ReportTable report{{"configuration"}, {}, table.caption};
  for (const std::string& column : table.all_columns()) report.header.push_back(column);
  for (size_t r = 0; r < table.cells.size(); ++r) {
    std::vector<std::string> row = {table.row_labels[r]};
    for (const TableCell& cell : table.cells[r]) row.push_back(cell_markdown(cell));
    report.rows.push_back(std::move(row));
  }
  return {Kind::table, "", std::move(report), {}, {}};
}

std::string json_text(const io::Json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

ReportSection overview(const io::Json& study) {
  ReportSection section{"Overview", {}};
  if (study.value("demo", false)) section.blocks.push_back(text_block(
        Kind::notice, "Demo run: the " + study.value("demo_model", std::string("demo model")) +
                          ". Real results need a real checkpoint: qtalign study --models DIR ..."));
  section.blocks.push_back(text_block(
      Kind::paragraph,
      "Each configuration LoRA-tunes the base model on question translation only (a task's questions in the tuning "
      "languages as inputs, the same questions in the target language as outputs, no answers), then the tuned and the "
      "base model are evaluated few-shot on the same items. Seen languages are a configuration's tuning languages and "
      "its target. Significance: exact McNemar test (two-sided) of base vs tuned on the same items per language, "
      "Holm-corrected across the languages of each configuration; tables/significance.json lists every test."));
  ReportTable plan{{"axis", "values"}, {}, "The plan (plan.json)."};
  for (const auto& [key, value] : study.at("settings").at("plan").items()) {
    std::string values;
    for (const io::Json& entry : value) values += (values.empty() ? "" : ", ") + json_text(entry);
    plan.rows.push_back({key, values});
  }
  section.blocks.push_back({Kind::table, "", std::move(plan), {}, {}});
  ReportTable sources{{"tuning task", "where its questions come from, and which items are evaluated"}, {}, ""};
  const io::Json notes = study.value("question_sources", io::Json::object());
  for (const auto& [task, note] : notes.items())
    sources.rows.push_back({task, json_text(note)});
  if (!sources.rows.empty()) section.blocks.push_back({Kind::table, "", std::move(sources), {}, {}});
  return section;
}

ReportSection accuracy(const std::vector<GridTable>& tables, const std::vector<GridFigures>& figures,
                       const fs::path& study_dir) {
  ReportSection section{"The study's tables", {}};
  if (tables.empty()) section.blocks.push_back(text_block(Kind::paragraph, "No evaluation has finished yet."));
  for (size_t t = 0; t < tables.size(); ++t) {
    section.blocks.push_back(table_block(accuracy_table(tables[t])));
    // One block per figure: the heatmap has a column per language and needs the page's whole width.
    for (const auto& [stem, caption] :
         {std::pair{figures[t].heatmap, "Accuracy change from the base model per configuration and language (points; "
                                        "dot = significant; the colours span the table's largest change, at least 1 "
                                        "point; the dark line divides high- from low-resource languages)"},
          std::pair{figures[t].change, "Mean change by number and kind of tuning languages"}})
      if (!stem.empty() && fs::is_regular_file(study_dir / (stem.string() + ".png")))
        section.blocks.push_back({Kind::figures, "", {}, {{stem.string() + ".png", caption}}, {}});
  }
  section.blocks.push_back(text_block(
      Kind::paragraph, "Files: tables/<model>.<task>.<answer type>.<shots>.{md,csv,tex,json}; the .tex tables need "
                       "\\usepackage{booktabs}."));
  return section;
}

ReportSection agreement(const std::vector<GridTable>& tables) {
  ReportSection section{"Agreement with English", {}};
  section.blocks.push_back(text_block(
      Kind::paragraph,
      "For each language, the share of items whose prediction equals the same model's prediction on the parallel "
      "English item: a direct measure of whether the model answers the same question alike across languages, which "
      "is the alignment question-translation tuning is meant to bring."));
  for (const GridTable& table : tables) section.blocks.push_back(table_block(agreement_table(table)));
  return section;
}

ReportSection significance(const std::vector<GridTable>& tables) {
  ReportSection section{"Significance", {}};
  ReportTable summary{{"table", "configuration", "languages tested", "significant gains", "significant losses",
                       "smallest Holm-adjusted p"},
                      {},
                      fmt::format("Exact McNemar per language, Holm-corrected per configuration, level {}.",
                                  kSignificanceLevel)};
  for (const GridTable& table : tables)
    for (size_t r = 1; r < table.rows.size(); ++r) {
      std::vector<std::string> gains, losses;
      double smallest = 1.0;
      for (const std::string& language : table.languages()) {
        const GridCell& cell = table.rows[r].cells.at(language);
        smallest = std::min(smallest, *cell.p_holm);
        if (cell.significant()) (*cell.delta > 0 ? gains : losses).push_back(language);
      }
      summary.rows.push_back({table.id, table.rows[r].label, std::to_string(table.languages().size()),
                              gains.empty() ? "none" : fmt::format("{}", fmt::join(gains, " ")),
                              losses.empty() ? "none" : fmt::format("{}", fmt::join(losses, " ")),
                              fmt::format("{:.3g}", smallest)});
    }
  if (summary.rows.empty()) summary.rows.push_back({"-", "no configuration evaluated yet", "0", "-", "-", "-"});
  section.blocks.push_back({Kind::table, "", std::move(summary), {}, {}});
  return section;
}

ReportSection steps(const io::Json& study) {
  return {"Steps", {{Kind::table, "", stage_table(study), {}, {}}}};
}

}  // namespace

ReportDocument build_grid_report(const io::Json& study, const std::vector<GridTable>& tables,
                                 const std::vector<GridFigures>& figures, const fs::path& study_dir) {
  ReportDocument document;
  document.title = "qtalign study: the grid";
  document.sections = {overview(study), accuracy(tables, figures, study_dir), agreement(tables), significance(tables),
                       steps(study)};
  return document;
}

}  // namespace qtalign::report
