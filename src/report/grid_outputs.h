#pragma once
// The files a grid study's tables become: per table tables/<id>.{md,csv,tex,json} (accuracy, then
// agreement with English) and tables/agreement_<id>.csv, figures/heatmap_<id> and figures/change_<id>
// (PNG and SVG) for a table with tuned rows, tables/significance.json (every McNemar test),
// tables/summary.md (the accuracy tables), and report.html / report.md.
#include <filesystem>
#include <vector>

#include "io/json_file.h"
#include "report/grid_table.h"

namespace qtalign::report {

// Writes every output of `tables` into `study_dir` (atomically, replacing earlier ones); `study` is its
// study.json, which the report's overview and steps read.
void write_grid_outputs(const std::filesystem::path& study_dir, const io::Json& study,
                        const std::vector<GridTable>& tables);

}  // namespace qtalign::report
