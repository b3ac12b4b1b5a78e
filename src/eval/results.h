#pragma once
// The results file of an evaluation run: provenance, per task and language the accuracy with its
// counts and 95% Wilson interval, macro averages (all languages; seen and unseen in tuning), and the
// human-readable renderings (terminal table, Markdown, CSV) and per-item predictions (JSONL).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eval/evaluator.h"
#include "io/json_file.h"
#include "stats/statistics.h"

namespace qtalign::eval {

// The value of "format" in a results file.
inline constexpr const char* kResultsFormat = "qtalign-eval-results";

struct LanguageAccuracy {
  std::string language;
  int64_t correct = 0;
  int64_t total = 0;
  stats::Estimate accuracy;  // correct / total with its 95% Wilson interval
  int64_t prefix_tokens = 0;
  int64_t prefix_fallbacks = 0;
  int64_t computed_tokens = 0;
  double seconds = 0.0;
};

// The unweighted mean accuracy over a set of languages.
struct MacroAverage {
  std::vector<std::string> languages;
  double accuracy = 0.0;
};

// The mean over the evaluated members of one of the study's language blocks (data/language_groups.h).
struct GroupAverage {
  std::string group;  // "high-resource" | "low-resource"
  MacroAverage average;
};

// Averages over all languages, and over those seen / not seen in tuning (absent without a seen list,
// or when the group is empty), and over each language block with an evaluated member.
struct Averages {
  MacroAverage all;
  std::optional<MacroAverage> seen;
  std::optional<MacroAverage> unseen;
  std::vector<GroupAverage> groups;  // in the blocks' order
};

struct TaskResults {
  std::string task;
  int shots = 0;
  std::vector<std::string> labels;
  std::vector<LanguageAccuracy> languages;  // in evaluation order
  Averages averages;
};

struct EvalResults {
  io::Json provenance;                     // model, adapter, mode, shots, seed, data hashes, runtime, ...
  std::vector<std::string> seen_languages; // the tuning languages (may be empty)
  std::vector<TaskResults> tasks;
  Averages averages;                       // means of the task averages
};

// Whether `list` holds `value` (a language in a list of languages, say).
bool contains(const std::vector<std::string>& list, const std::string& value);

// The accuracy of one evaluated language.
LanguageAccuracy language_accuracy(const LanguageEvaluation& evaluation);

// Averages of per-language accuracies; `seen` splits them into seen and unseen when not empty; each
// study language block gets the mean of its members present.
Averages macro_averages(const std::vector<std::string>& languages, const std::vector<double>& accuracies,
                        const std::vector<std::string>& seen);

// Collects evaluations (grouped by task in order of first appearance) into results with averages.
EvalResults summarize_results(io::Json provenance, const std::vector<LanguageEvaluation>& evaluations,
                              const std::map<std::string, int>& shots, const std::vector<std::string>& seen);

// The results file's JSON.
io::Json results_to_json(const EvalResults& results);

// Parses a results file's JSON (`file` names it in errors); throws Error for another format or
// missing, mistyped or inconsistent fields.
EvalResults results_from_json(const io::Json& json, const std::filesystem::path& file);

// Reads and validates a results file.
EvalResults read_results(const std::filesystem::path& file);

// How the answers of the results were written (provenance "answer_type"; files from before answer
// types existed used English labels).
std::string answer_type_of(const EvalResults& results);

// The results JSON without what differs between runs of the same evaluation (the date, wall times,
// per-language seconds, thread count, the command line and the machine), for comparing two runs.
io::Json without_volatile_fields(io::Json results);

enum class TableFormat { table, markdown, csv };

// Parses "table" | "md" | "csv"; throws Error otherwise.
TableFormat parse_table_format(const std::string& name);

// One row per task and language (correct, total, accuracy, 95% CI, prefix fallbacks) and the averages.
std::string format_results(const EvalResults& results, TableFormat format);

// One JSON line per item: task, language, index, answer, label, prediction, correct, the score of each
// label, whether the prefix cache served it.
std::string predictions_jsonl(const std::vector<LanguageEvaluation>& evaluations);

}  // namespace qtalign::eval
