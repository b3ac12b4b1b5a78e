#pragma once
// Before/after: two results files (e.g. the base model and the tuned one) compared language by language,
// with averages, the languages that improved, Markdown, JSON and grouped bar charts.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "eval/results.h"
#include "io/json_file.h"
#include "io/options.h"
#include "plot/bar_chart.h"
#include "stats/statistics.h"

namespace qtalign::eval {

struct LanguageChange {
  std::string language;
  stats::Estimate base;   // accuracy with its 95% interval
  stats::Estimate tuned;
  double delta = 0.0;        // tuned - base

  bool improved() const { return delta > 0.0; }
};

// A macro average before and after, over the same languages.
struct AverageChange {
  std::vector<std::string> languages;
  double base = 0.0;
  double tuned = 0.0;
  double delta = 0.0;
};

// The change of one study language block's mean (data/language_groups.h).
struct GroupChange {
  std::string group;
  AverageChange change;
};

struct TaskComparison {
  std::string task;
  std::vector<std::string> labels;         // the task's labels: chance accuracy is one over their number
  std::vector<LanguageChange> languages;   // languages both files evaluated, in the base file's order
  std::vector<std::string> only_in_base;   // evaluated by one file only (left out of the comparison)
  std::vector<std::string> only_in_tuned;
  AverageChange all;
  std::optional<AverageChange> seen;       // with a seen-language list and members in the group
  std::optional<AverageChange> unseen;
  std::vector<GroupChange> groups;         // each language block with a compared language, in block order

  // The languages whose accuracy went up.
  std::vector<std::string> improved() const;
};

struct Comparison {
  std::string base_name;   // how the files are named in outputs (their paths)
  std::string tuned_name;
  std::string mode;
  std::string answer_type;  // how both files wrote the answers (eval --labels)
  std::vector<std::string> seen_languages;
  std::vector<TaskComparison> tasks;  // tasks both files evaluated, in the base file's order
  AverageChange all;                  // means of the task averages
  std::optional<AverageChange> seen;
  std::optional<AverageChange> unseen;
  std::vector<GroupChange> groups;
  // Differences between the runs that do not stop the comparison but qualify it (e.g. one model
  // evaluated 4-bit quantized and the other not).
  std::vector<std::string> warnings;
};

// Compares the tasks and languages both results evaluated; `seen` (when empty: the tuned file's seen
// languages, else the base file's) splits the averages. Throws Error when the files used different
// scoring modes, answer types or shots for a shared task, or share no task and language.
Comparison compare_results(const EvalResults& base, const EvalResults& tuned, std::vector<std::string> seen,
                           std::string base_name, std::string tuned_name);

// The comparison as JSON.
io::Json comparison_to_json(const Comparison& comparison);

// Markdown: per task a table of languages (base, tuned, delta), the averages and the improved languages.
std::string comparison_markdown(const Comparison& comparison);

// The bar chart of one task of a comparison: base and tuned accuracy per language with 95% intervals,
// and a dashed line at chance (one over the number of labels).
plot::BarChart comparison_chart(const Comparison& comparison, const TaskComparison& task);

// Writes one grouped bar chart per task (base and tuned accuracy per language, with 95% intervals) as
// <stem>_<task>.png and .svg; returns the stems written.
std::vector<std::filesystem::path> write_comparison_charts(const Comparison& comparison,
                                                           const std::filesystem::path& stem);

// Writes the comparison as <stem>.md, <stem>.json and its charts (write_comparison_charts); returns
// the charts' stems.
std::vector<std::filesystem::path> write_comparison(const Comparison& comparison, const std::filesystem::path& stem);

// What `qtalign compare` is asked for: the two results files, the seen languages, where to write.
struct CompareSpec {
  std::filesystem::path base, tuned;  // results JSON before and after
  std::string seen;                   // comma-separated (empty words dropped); empty: the files' own
  std::filesystem::path out;          // the stem of <out>.md, <out>.json and the charts (empty: none)
};

// Every option of `qtalign compare`, in its order, with the field of `spec` (const or not) each reads
// and writes (the two files positional).
template <class Spec, class Visit, io::IfSpec<Spec, CompareSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("base", "results JSON before (e.g. the base model)").mandatory(), spec.base);
  visit(option("tuned", "results JSON after (e.g. the tuned model)").mandatory(), spec.tuned);
  visit(option("--seen", "tuning languages for seen/unseen averages (default: the one the results files record)"),
        spec.seen);
  visit(option("--out", "also write <out>.md, <out>.json and a bar chart per task <out>_<task>.png/.svg"), spec.out);
}

// compare_results of the spec's two files, each named by its path.
Comparison compare_files(const CompareSpec& spec);

}  // namespace qtalign::eval
