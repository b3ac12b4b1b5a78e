#pragma once
// The report of a grid study: the plan and where its tuning questions came from, the study's tables
// (accuracy with significance daggers, agreement with English), the heatmaps of accuracy change and
// the plots of average change by number and kind of tuning languages, the significance summary and
// the steps in the order they ran. Rendered by report.h's renderers.
#include <filesystem>
#include <vector>

#include "io/json_file.h"
#include "report/grid_table.h"
#include "report/report.h"

namespace qtalign::report {

// Figures written beside the tables for one grid table (stems under the study directory).
struct GridFigures {
  std::filesystem::path heatmap;  // accuracy change, configuration x language (empty: no tuned row)
  std::filesystem::path change;   // mean change by number and kind of tuning languages
};

// The report document of a grid study from its study.json and tables (figures relative to study_dir).
ReportDocument build_grid_report(const io::Json& study, const std::vector<GridTable>& tables,
                                 const std::vector<GridFigures>& figures, const std::filesystem::path& study_dir);

}  // namespace qtalign::report
