#pragma once
// The study's table for one model and one evaluation setting: a row for the base model, then one per
// configuration, a cell per evaluated language with the accuracy, and for tuned rows the change from
// the base, the exact McNemar test on the same items (Holm-corrected across the row's languages) and
// the agreement with the row's own English predictions on the parallel items.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/protocol.h"
#include "io/json_file.h"
#include "stats/paired_tests.h"

namespace qtalign::report {

// Significance level of the markers in the tables (Holm-adjusted p below it).
inline constexpr double kSignificanceLevel = 0.05;

struct GridCell {
  double accuracy = 0.0;
  int64_t items = 0;
  std::optional<double> agreement;             // with this row's English predictions (absent for en itself)
  std::optional<double> delta;                 // tuned - base (tuned rows)
  std::optional<stats::PairedOutcomes> pairs;  // base vs tuned on the same items (tuned rows)
  std::optional<double> p_value;               // exact McNemar
  std::optional<double> p_holm;                // Holm-adjusted across the row's languages

  bool significant() const { return p_holm && *p_holm < kSignificanceLevel; }
};

struct GridRow {
  std::string id;     // configuration id, or "base"
  std::string label;  // "base", "zh/es => it", ...
  std::vector<std::string> sources;
  std::string target;
  std::vector<std::string> seen;  // sources and target (empty for the base row)
  std::map<std::string, GridCell> cells;
};

struct GridTable {
  std::string id;      // file stem: <model>.<task>.<answer type>.<shots>
  std::string model;   // model id
  std::string task;    // evaluated task
  std::string labels;  // answer type
  std::string shots;   // "default" or a count
  std::string tuning_tasks;  // the tasks whose questions tuned the rows' adapters
  std::vector<std::string> high_resource;  // evaluated languages of each block, in the paper's order
  std::vector<std::string> low_resource;
  std::vector<std::string> other;          // a task file's languages in neither block, in the task's order
  std::vector<GridRow> rows;               // base first

  // Every evaluated language: the high-resource block, the low-resource one, the others.
  std::vector<std::string> languages() const;
};

// Whether a language is in the study's high-resource block (data/language_groups.h); false for a
// language of neither block.
bool is_high_resource(const std::string& language);

// A results file with its per-item predictions and what names its row.
struct RowSource {
  std::string id;
  std::string label;
  std::vector<std::string> sources;
  std::string target;
  std::filesystem::path results;
  std::filesystem::path predictions;  // eval --predictions of the same run
};

// Builds the table of `task` from the base row's and the tuned rows' results and predictions. Throws
// Error naming the file when a file is missing or malformed, when a tuned row did not evaluate a
// language the base did (or other items), or when English was not evaluated (agreement needs it).
GridTable build_grid_table(const data::Protocol& protocol, const std::string& table_id, const std::string& model,
                           const std::string& task, const std::string& labels, const std::string& shots,
                           const RowSource& base, const std::vector<RowSource>& tuned);

// Means of a row's values over the language blocks and groups (absent where the group is empty or
// has no value: seen and unseen for the base row).
struct RowAverages {
  std::optional<double> high_resource, low_resource, all, seen, unseen;
};

// The means of `value` (e.g. the accuracy, or the agreement) of a row's cells.
RowAverages row_averages(const GridTable& table, const GridRow& row,
                         const std::function<std::optional<double>(const std::string& language, const GridCell&)>& value);

// The table as JSON (every cell, with discordant counts and p-values: the full significance list).
io::Json grid_table_to_json(const GridTable& table);

}  // namespace qtalign::report
