#include "eval/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "data/language_groups.h"
#include "io/error.h"

namespace qtalign::eval {
namespace {

constexpr int kFormatVersion = 1;

double mean(const std::vector<double>& values) {
  double sum = 0.0;
  for (const double value : values) sum += value;
  return sum / static_cast<double>(values.size());
}

std::optional<MacroAverage> average_of(const std::vector<std::string>& languages, const std::vector<double>& accuracies,
                                       const std::function<bool(const std::string&)>& include) {
  MacroAverage average;
  std::vector<double> chosen;
  for (size_t i = 0; i < languages.size(); ++i) {
    if (!include(languages[i])) continue;
    average.languages.push_back(languages[i]);
    chosen.push_back(accuracies[i]);
  }
  if (chosen.empty()) return std::nullopt;
  average.accuracy = mean(chosen);
  return average;
}

// The languages and accuracies of every average's members.
io::Json average_to_json(const std::optional<MacroAverage>& average) {
  if (!average) return nullptr;
  return {{"accuracy", average->accuracy}, {"languages", average->languages}};
}

io::Json averages_to_json(const Averages& averages) {
  io::Json groups = io::Json::object();
  for (const GroupAverage& group : averages.groups) groups[group.group] = average_to_json(group.average);
  return {{"all", average_to_json(averages.all)},
          {"seen", average_to_json(averages.seen)},
          {"unseen", average_to_json(averages.unseen)},
          {"groups", std::move(groups)}};
}

std::optional<MacroAverage> average_from_json(const io::Json& json, const std::filesystem::path& file,
                                              const std::string& where) {
  if (json.is_null()) return std::nullopt;
  MacroAverage average;
  average.accuracy = io::required_field<double>(json, "accuracy", file, where);
  average.languages = io::required_field<std::vector<std::string>>(json, "languages", file, where);
  return average;
}

Averages averages_from_json(const io::Json& json, const std::filesystem::path& file, const std::string& where) {
  if (!json.is_object()) fail_at(file, where + ": expected an object");
  Averages averages;
  const auto all = average_from_json(json.value("all", io::Json()), file, where + ".all");
  if (!all) fail_at(file, where + ": missing the average over all languages");
  averages.all = *all;
  averages.seen = average_from_json(json.value("seen", io::Json()), file, where + ".seen");
  averages.unseen = average_from_json(json.value("unseen", io::Json()), file, where + ".unseen");
  const io::Json groups = json.value("groups", io::Json::object());
  if (!groups.is_object()) fail_at(file, where + ".groups: expected an object");
  for (const auto& entry : groups.items()) {
    const bool known = std::any_of(data::study_language_groups().begin(), data::study_language_groups().end(),
                                   [&](const data::LanguageGroup& group) { return group.name == entry.key(); });
    if (!known) fail_at(file, where + ".groups." + entry.key() + ": not one of the study's language groups");
  }
  for (const data::LanguageGroup& group : data::study_language_groups())
    if (const auto average = average_from_json(groups.value(group.name, io::Json()), file, where + ".groups." + group.name))
      averages.groups.push_back({group.name, *average});
  return averages;
}

// Averages of task averages: each group over the tasks that have it.
Averages overall_averages(const std::vector<TaskResults>& tasks) {
  Averages overall;
  std::vector<double> all, seen, unseen;
  for (const TaskResults& task : tasks) {
    all.push_back(task.averages.all.accuracy);
    for (const std::string& language : task.averages.all.languages)
      if (!contains(overall.all.languages, language)) overall.all.languages.push_back(language);
    if (task.averages.seen) {
      if (!overall.seen) overall.seen = MacroAverage();
      seen.push_back(task.averages.seen->accuracy);
      for (const std::string& language : task.averages.seen->languages)
        if (!contains(overall.seen->languages, language)) overall.seen->languages.push_back(language);
    }
    if (task.averages.unseen) {
      if (!overall.unseen) overall.unseen = MacroAverage();
      unseen.push_back(task.averages.unseen->accuracy);
      for (const std::string& language : task.averages.unseen->languages)
        if (!contains(overall.unseen->languages, language)) overall.unseen->languages.push_back(language);
    }
  }
  if (!all.empty()) overall.all.accuracy = mean(all);
  if (overall.seen) overall.seen->accuracy = mean(seen);
  if (overall.unseen) overall.unseen->accuracy = mean(unseen);
  for (const data::LanguageGroup& group : data::study_language_groups()) {
    GroupAverage overall_group{group.name, {}};
    std::vector<double> means;
    for (const TaskResults& task : tasks)
      for (const GroupAverage& task_group : task.averages.groups) {
        if (task_group.group != group.name) continue;
        means.push_back(task_group.average.accuracy);
        for (const std::string& language : task_group.average.languages)
          if (!contains(overall_group.average.languages, language)) overall_group.average.languages.push_back(language);
      }
    if (means.empty()) continue;
    overall_group.average.accuracy = mean(means);
    overall.groups.push_back(std::move(overall_group));
  }
  return overall;
}

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100.0 * fraction); }

struct Row {
  std::string task, language, correct, total, accuracy, interval, fallbacks;
};

// The rows every format shows: the languages of each task, its averages, then the overall averages.
std::vector<Row> table_rows(const EvalResults& results, bool fractions) {
  const auto value = [&](double fraction) { return fractions ? fmt::format("{:.4f}", fraction) : percent(fraction); };
  std::vector<Row> rows;
  const auto add_averages = [&](const std::string& task, const Averages& averages) {
    rows.push_back({task, "average", "", "", value(averages.all.accuracy), "", ""});
    if (averages.seen) rows.push_back({task, "average seen", "", "", value(averages.seen->accuracy), "", ""});
    if (averages.unseen) rows.push_back({task, "average unseen", "", "", value(averages.unseen->accuracy), "", ""});
    for (const GroupAverage& group : averages.groups)
      rows.push_back({task, "average " + group.group, "", "", value(group.average.accuracy), "", ""});
  };
  for (const TaskResults& task : results.tasks) {
    for (const LanguageAccuracy& language : task.languages) {
      const std::string interval = fractions ? fmt::format("{:.4f},{:.4f}", language.accuracy.lower, language.accuracy.upper)
                                             : fmt::format("[{}, {}]", percent(language.accuracy.lower),
                                                           percent(language.accuracy.upper));
      rows.push_back({task.task, language.language, std::to_string(language.correct), std::to_string(language.total),
                      value(language.accuracy.value), interval, std::to_string(language.prefix_fallbacks)});
    }
    add_averages(task.task, task.averages);
  }
  if (results.tasks.size() > 1) add_averages("all tasks", results.averages);
  return rows;
}

std::string aligned_table(const std::vector<Row>& rows) {
  const Row header{"task", "language", "correct", "total", "accuracy", "95% CI", "fallbacks"};
  std::vector<Row> all{header};
  all.insert(all.end(), rows.begin(), rows.end());
  const auto fields = [](const Row& row) {
    return std::vector<std::string>{row.task, row.language, row.correct, row.total, row.accuracy, row.interval, row.fallbacks};
  };
  std::vector<size_t> widths(7, 0);
  for (const Row& row : all) {
    const auto cells = fields(row);
    for (size_t column = 0; column < cells.size(); ++column) widths[column] = std::max(widths[column], cells[column].size());
  }
  std::string text;
  for (const Row& row : all) {
    const auto cells = fields(row);
    std::string line;
    for (size_t column = 0; column < cells.size(); ++column) {
      const bool numeric = column >= 2 && column != 5;
      line += column == 0 ? "" : "  ";
      line += numeric ? fmt::format("{:>{}}", cells[column], widths[column]) : fmt::format("{:<{}}", cells[column], widths[column]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
  }
  return text;
}

}  // namespace

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

LanguageAccuracy language_accuracy(const LanguageEvaluation& evaluation) {
  LanguageAccuracy accuracy;
  accuracy.language = evaluation.language;
  accuracy.correct = evaluation.correct();
  accuracy.total = static_cast<int64_t>(evaluation.items.size());
  accuracy.accuracy = stats::wilson_interval(accuracy.correct, accuracy.total, 0.95);
  accuracy.prefix_tokens = evaluation.prefix_tokens;
  accuracy.prefix_fallbacks = evaluation.prefix_fallbacks;
  accuracy.computed_tokens = evaluation.computed_tokens;
  accuracy.seconds = evaluation.seconds;
  return accuracy;
}

Averages macro_averages(const std::vector<std::string>& languages, const std::vector<double>& accuracies,
                        const std::vector<std::string>& seen) {
  if (languages.empty() || languages.size() != accuracies.size())
    throw Error("macro average: need one accuracy per language, and at least one language");
  Averages averages;
  averages.all = *average_of(languages, accuracies, [](const std::string&) { return true; });
  if (!seen.empty()) {
    averages.seen = average_of(languages, accuracies, [&](const std::string& code) { return contains(seen, code); });
    averages.unseen = average_of(languages, accuracies, [&](const std::string& code) { return !contains(seen, code); });
  }
  for (const data::LanguageGroup& group : data::study_language_groups())
    if (auto average = average_of(languages, accuracies,
                                  [&](const std::string& code) { return contains(group.languages, code); }))
      averages.groups.push_back({group.name, std::move(*average)});
  return averages;
}

EvalResults summarize_results(io::Json provenance, const std::vector<LanguageEvaluation>& evaluations,
                              const std::map<std::string, int>& shots, const std::vector<std::string>& seen) {
  EvalResults results;
  results.provenance = std::move(provenance);
  results.seen_languages = seen;
  for (const LanguageEvaluation& evaluation : evaluations) {
    auto task = std::find_if(results.tasks.begin(), results.tasks.end(),
                             [&](const TaskResults& candidate) { return candidate.task == evaluation.task; });
    if (task == results.tasks.end()) {
      TaskResults created;
      created.task = evaluation.task;
      created.shots = shots.at(evaluation.task);
      created.labels = evaluation.labels;
      results.tasks.push_back(std::move(created));
      task = std::prev(results.tasks.end());
    }
    task->languages.push_back(language_accuracy(evaluation));
  }
  for (TaskResults& task : results.tasks) {
    std::vector<std::string> languages;
    std::vector<double> accuracies;
    for (const LanguageAccuracy& language : task.languages) {
      languages.push_back(language.language);
      accuracies.push_back(language.accuracy.value);
    }
    task.averages = macro_averages(languages, accuracies, seen);
  }
  if (!results.tasks.empty()) results.averages = overall_averages(results.tasks);
  return results;
}

io::Json results_to_json(const EvalResults& results) {
  io::Json tasks = io::Json::array();
  for (const TaskResults& task : results.tasks) {
    io::Json languages = io::Json::array();
    for (const LanguageAccuracy& language : task.languages) {
      languages.push_back({{"language", language.language},
                           {"correct", language.correct},
                           {"total", language.total},
                           {"accuracy", language.accuracy.value},
                           {"ci95", {language.accuracy.lower, language.accuracy.upper}},
                           {"prefix_tokens", language.prefix_tokens},
                           {"prefix_fallbacks", language.prefix_fallbacks},
                           {"computed_tokens", language.computed_tokens},
                           {"seconds", language.seconds}});
    }
    tasks.push_back({{"task", task.task},
                     {"shots", task.shots},
                     {"labels", task.labels},
                     {"languages", std::move(languages)},
                     {"averages", averages_to_json(task.averages)}});
  }
  return {{"format", kResultsFormat},
          {"format_version", kFormatVersion},
          {"provenance", results.provenance},
          {"seen_languages", results.seen_languages},
          {"tasks", std::move(tasks)},
          {"averages", averages_to_json(results.averages)}};
}

EvalResults results_from_json(const io::Json& json, const std::filesystem::path& file) {
  if (!json.is_object() || json.value("format", "") != kResultsFormat)
    fail_at(file, std::string("not a qtalign evaluation results file (no \"format\": \"") + kResultsFormat + "\")");
  const int version = io::required_field<int>(json, "format_version", file);
  if (version != kFormatVersion)
    fail_at(file, fmt::format("results format version {} is not supported (this qtalign reads {})", version, kFormatVersion));
  EvalResults results;
  results.provenance = io::required_field<io::Json>(json, "provenance", file);
  results.seen_languages = io::required_field<std::vector<std::string>>(json, "seen_languages", file);
  const io::Json tasks = io::required_field<io::Json>(json, "tasks", file);
  if (!tasks.is_array() || tasks.empty()) fail_at(file, "tasks: expected a non-empty array");
  for (size_t t = 0; t < tasks.size(); ++t) {
    const std::string where = fmt::format("tasks[{}]", t);
    TaskResults task;
    task.task = io::required_field<std::string>(tasks[t], "task", file, where);
    task.shots = io::required_field<int>(tasks[t], "shots", file, where);
    task.labels = io::required_field<std::vector<std::string>>(tasks[t], "labels", file, where);
    const io::Json languages = io::required_field<io::Json>(tasks[t], "languages", file, where);
    if (!languages.is_array() || languages.empty()) fail_at(file, where + ".languages: expected a non-empty array");
    for (size_t l = 0; l < languages.size(); ++l) {
      const std::string at = fmt::format("{}.languages[{}]", where, l);
      LanguageAccuracy language;
      language.language = io::required_field<std::string>(languages[l], "language", file, at);
      language.correct = io::required_field<int64_t>(languages[l], "correct", file, at);
      language.total = io::required_field<int64_t>(languages[l], "total", file, at);
      if (language.total <= 0 || language.correct < 0 || language.correct > language.total)
        fail_at(file, fmt::format("{}: impossible counts {} correct of {}", at, language.correct, language.total));
      language.accuracy.value = io::required_field<double>(languages[l], "accuracy", file, at);
      if (std::abs(language.accuracy.value - static_cast<double>(language.correct) / static_cast<double>(language.total)) > 1e-9)
        fail_at(file, at + ": accuracy does not equal correct / total");
      const auto interval = io::required_field<std::vector<double>>(languages[l], "ci95", file, at);
      if (interval.size() != 2) fail_at(file, at + ": ci95 must be [lower, upper]");
      language.accuracy.lower = interval[0];
      language.accuracy.upper = interval[1];
      language.prefix_tokens = languages[l].value("prefix_tokens", int64_t{0});
      language.prefix_fallbacks = languages[l].value("prefix_fallbacks", int64_t{0});
      language.computed_tokens = languages[l].value("computed_tokens", int64_t{0});
      language.seconds = languages[l].value("seconds", 0.0);
      task.languages.push_back(std::move(language));
    }
    task.averages = averages_from_json(io::required_field<io::Json>(tasks[t], "averages", file, where), file,
                                       where + ".averages");
    results.tasks.push_back(std::move(task));
  }
  results.averages = averages_from_json(io::required_field<io::Json>(json, "averages", file), file, "averages");
  return results;
}

EvalResults read_results(const std::filesystem::path& file) { return results_from_json(io::read_json_file(file), file); }

std::string answer_type_of(const EvalResults& results) {
  if (!results.provenance.is_object()) return "english";
  return results.provenance.value("answer_type", "english");
}

io::Json without_volatile_fields(io::Json results) {
  if (results.contains("provenance") && results["provenance"].is_object()) {
    io::Json& provenance = results["provenance"];
    provenance.erase("date");
    provenance.erase("wall_time_s");
    provenance.erase("command_line");
    provenance.erase("hardware");
    if (provenance.contains("runtime") && provenance["runtime"].is_object()) provenance["runtime"].erase("threads");
  }
  if (results.contains("tasks") && results["tasks"].is_array())
    for (io::Json& task : results["tasks"])
      if (task.contains("languages") && task["languages"].is_array())
        for (io::Json& language : task["languages"]) language.erase("seconds");
  return results;
}

TableFormat parse_table_format(const std::string& name) {
  if (name == "table") return TableFormat::table;
  if (name == "md" || name == "markdown") return TableFormat::markdown;
  if (name == "csv") return TableFormat::csv;
  throw Error("unknown table format '" + name + "' (expected table, md or csv)");
}

std::string format_results(const EvalResults& results, TableFormat format) {
  if (format == TableFormat::table) return aligned_table(table_rows(results, false));
  if (format == TableFormat::csv) {
    std::string text = "task,language,correct,total,accuracy,ci95_lower,ci95_upper,prefix_fallbacks\n";
    for (const Row& row : table_rows(results, true))
      text += fmt::format("{},{},{},{},{},{},{}\n", row.task, row.language, row.correct, row.total, row.accuracy,
                          row.interval.empty() ? "," : row.interval, row.fallbacks);
    return text;
  }
  std::string text = "| Task | Language | Correct | Total | Accuracy | 95% CI | Prefix fallbacks |\n";
  text += "|---|---|---:|---:|---:|---|---:|\n";
  for (const Row& row : table_rows(results, false)) {
    const bool average = row.correct.empty();
    const std::string language = average ? "**" + row.language + "**" : row.language;
    const std::string accuracy = average ? "**" + row.accuracy + "**" : row.accuracy;
    text += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", row.task, language, row.correct, row.total, accuracy,
                        row.interval, row.fallbacks);
  }
  return text;
}

std::string predictions_jsonl(const std::vector<LanguageEvaluation>& evaluations) {
  std::string text;
  for (const LanguageEvaluation& evaluation : evaluations) {
    for (const ItemResult& item : evaluation.items) {
      io::Json scores = io::Json::object();
      for (size_t label = 0; label < evaluation.labels.size(); ++label) scores[evaluation.labels[label]] = item.scores.at(label);
      const io::Json record = {{"task", evaluation.task},        {"language", evaluation.language},
                               {"index", item.index},            {"answer", item.answer},
                               {"label", item.label},            {"prediction", item.prediction},
                               {"correct", item.correct()},      {"mode", evaluation.mode},
                               {"scores", std::move(scores)},    {"prefix_cached", item.cached},
                               {"prompt_tokens", item.prompt_tokens}};
      text += record.dump() + "\n";
    }
  }
  return text;
}

}  // namespace qtalign::eval
