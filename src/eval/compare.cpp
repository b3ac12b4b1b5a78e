#include "eval/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "data/language_groups.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "plot/bar_chart.h"

namespace qtalign::eval {
namespace {

const LanguageAccuracy* find_language(const TaskResults& task, const std::string& language) {
  for (const LanguageAccuracy& candidate : task.languages)
    if (candidate.language == language) return &candidate;
  return nullptr;
}

const TaskResults* find_task(const EvalResults& results, const std::string& task) {
  for (const TaskResults& candidate : results.tasks)
    if (candidate.task == task) return &candidate;
  return nullptr;
}

// The mean before and after over the languages `include` accepts (none accepted: nullopt).
template <typename Include>
std::optional<AverageChange> average_change(const std::vector<LanguageChange>& languages, Include include) {
  AverageChange average;
  for (const LanguageChange& language : languages) {
    if (!include(language.language)) continue;
    average.languages.push_back(language.language);
    average.base += language.base.value;
    average.tuned += language.tuned.value;
  }
  if (average.languages.empty()) return std::nullopt;
  const double count = static_cast<double>(average.languages.size());
  average.base /= count;
  average.tuned /= count;
  average.delta = average.tuned - average.base;
  return average;
}

// Means over tasks of one kind of task average.
std::optional<AverageChange> mean_over_tasks(const std::vector<const AverageChange*>& averages) {
  if (averages.empty()) return std::nullopt;
  AverageChange mean;
  for (const AverageChange* average : averages) {
    for (const std::string& language : average->languages)
      if (!contains(mean.languages, language)) mean.languages.push_back(language);
    mean.base += average->base;
    mean.tuned += average->tuned;
  }
  mean.base /= static_cast<double>(averages.size());
  mean.tuned /= static_cast<double>(averages.size());
  mean.delta = mean.tuned - mean.base;
  return mean;
}

io::Json average_change_to_json(const std::optional<AverageChange>& average) {
  if (!average) return nullptr;
  return {{"base", average->base}, {"tuned", average->tuned}, {"delta", average->delta}, {"languages", average->languages}};
}

io::Json averages_to_json(const AverageChange& all, const std::optional<AverageChange>& seen,
                          const std::optional<AverageChange>& unseen, const std::vector<GroupChange>& groups) {
  io::Json group_json = io::Json::object();
  for (const GroupChange& group : groups) group_json[group.group] = average_change_to_json(group.change);
  return {{"all", average_change_to_json(all)},
          {"seen", average_change_to_json(seen)},
          {"unseen", average_change_to_json(unseen)},
          {"groups", std::move(group_json)}};
}

std::string points(double fraction) { return fmt::format("{:.1f}", 100.0 * fraction); }
std::string signed_points(double fraction) { return fmt::format("{:+.1f}", 100.0 * fraction); }

}  // namespace

std::vector<std::string> TaskComparison::improved() const {
  std::vector<std::string> languages_up;
  for (const LanguageChange& language : languages)
    if (language.improved()) languages_up.push_back(language.language);
  return languages_up;
}

Comparison compare_results(const EvalResults& base, const EvalResults& tuned, std::vector<std::string> seen,
                           std::string base_name, std::string tuned_name) {
  Comparison comparison;
  comparison.base_name = std::move(base_name);
  comparison.tuned_name = std::move(tuned_name);
  const std::string base_mode = base.provenance.value("mode", "");
  const std::string tuned_mode = tuned.provenance.value("mode", "");
  if (base_mode != tuned_mode)
    throw Error(fmt::format("{} was scored with mode '{}' but {} with '{}'; compare runs of the same mode",
                            comparison.base_name, base_mode, comparison.tuned_name, tuned_mode));
  comparison.mode = base_mode;
  const auto quantization = [](const EvalResults& results) {
    const io::Json& runtime = results.provenance.value("runtime", io::Json::object());
    return runtime.is_object() ? runtime.value("quantization", std::string("none")) : std::string("none");
  };
  if (quantization(base) != quantization(tuned))
    comparison.warnings.push_back(fmt::format(
        "{} was evaluated with quantization '{}' but {} with '{}': the deltas include the quantization's effect",
        comparison.base_name, quantization(base), comparison.tuned_name, quantization(tuned)));
  comparison.answer_type = answer_type_of(base);
  if (answer_type_of(tuned) != comparison.answer_type)
    throw Error(fmt::format("{} wrote its answers as '{}' labels but {} as '{}'; compare runs of the same answer type "
                            "(eval --labels)",
                            comparison.base_name, comparison.answer_type, comparison.tuned_name, answer_type_of(tuned)));
  if (seen.empty()) seen = !tuned.seen_languages.empty() ? tuned.seen_languages : base.seen_languages;
  comparison.seen_languages = seen;

  for (const TaskResults& base_task : base.tasks) {
    const TaskResults* tuned_task = find_task(tuned, base_task.task);
    if (!tuned_task) continue;
    if (base_task.shots != tuned_task->shots)
      throw Error(fmt::format("task {}: {} used {} shots but {} used {}", base_task.task, comparison.base_name,
                              base_task.shots, comparison.tuned_name, tuned_task->shots));
    TaskComparison task;
    task.task = base_task.task;
    task.labels = base_task.labels;
    for (const LanguageAccuracy& before : base_task.languages) {
      const LanguageAccuracy* after = find_language(*tuned_task, before.language);
      if (!after) {
        task.only_in_base.push_back(before.language);
        continue;
      }
      task.languages.push_back(
          {before.language, before.accuracy, after->accuracy, after->accuracy.value - before.accuracy.value});
    }
    for (const LanguageAccuracy& after : tuned_task->languages)
      if (!find_language(base_task, after.language)) task.only_in_tuned.push_back(after.language);
    if (task.languages.empty()) continue;
    task.all = *average_change(task.languages, [](const std::string&) { return true; });
    if (!seen.empty()) {
      task.seen = average_change(task.languages, [&](const std::string& code) { return contains(seen, code); });
      task.unseen = average_change(task.languages, [&](const std::string& code) { return !contains(seen, code); });
    }
    for (const data::LanguageGroup& group : data::study_language_groups())
      if (auto change = average_change(task.languages,
                                       [&](const std::string& code) { return contains(group.languages, code); }))
        task.groups.push_back({group.name, std::move(*change)});
    comparison.tasks.push_back(std::move(task));
  }
  if (comparison.tasks.empty())
    throw Error(fmt::format("{} and {} have no task and language in common", comparison.base_name, comparison.tuned_name));

  std::vector<const AverageChange*> all, seen_averages, unseen_averages;
  for (const TaskComparison& task : comparison.tasks) {
    all.push_back(&task.all);
    if (task.seen) seen_averages.push_back(&*task.seen);
    if (task.unseen) unseen_averages.push_back(&*task.unseen);
  }
  comparison.all = *mean_over_tasks(all);
  comparison.seen = mean_over_tasks(seen_averages);
  comparison.unseen = mean_over_tasks(unseen_averages);
  for (const data::LanguageGroup& group : data::study_language_groups()) {
    std::vector<const AverageChange*> group_averages;
    for (const TaskComparison& task : comparison.tasks)
      for (const GroupChange& change : task.groups)
        if (change.group == group.name) group_averages.push_back(&change.change);
    if (auto mean = mean_over_tasks(group_averages)) comparison.groups.push_back({group.name, std::move(*mean)});
  }
  return comparison;
}

io::Json comparison_to_json(const Comparison& comparison) {
  io::Json tasks = io::Json::array();
  for (const TaskComparison& task : comparison.tasks) {
    io::Json languages = io::Json::array();
    for (const LanguageChange& language : task.languages)
      languages.push_back({{"language", language.language},
                           {"base", language.base.value},
                           {"base_ci95", {language.base.lower, language.base.upper}},
                           {"tuned", language.tuned.value},
                           {"tuned_ci95", {language.tuned.lower, language.tuned.upper}},
                           {"delta", language.delta},
                           {"improved", language.improved()}});
    tasks.push_back({{"task", task.task},
                     {"languages", std::move(languages)},
                     {"improved", task.improved()},
                     {"only_in_base", task.only_in_base},
                     {"only_in_tuned", task.only_in_tuned},
                     {"averages", averages_to_json(task.all, task.seen, task.unseen, task.groups)}});
  }
  return {{"format", "qtalign-eval-comparison"},
          {"base", comparison.base_name},
          {"tuned", comparison.tuned_name},
          {"mode", comparison.mode},
          {"answer_type", comparison.answer_type},
          {"seen_languages", comparison.seen_languages},
          {"warnings", comparison.warnings},
          {"tasks", std::move(tasks)},
          {"averages", averages_to_json(comparison.all, comparison.seen, comparison.unseen, comparison.groups)}};
}

std::string comparison_markdown(const Comparison& comparison) {
  std::string text =
      fmt::format("# Accuracy before and after\n\nBase: `{}`  \nTuned: `{}`  \nScoring: {}  \nAnswers: {} labels\n",
                  comparison.base_name, comparison.tuned_name, comparison.mode, comparison.answer_type);
  if (!comparison.seen_languages.empty()) {
    std::string seen;
    for (const std::string& language : comparison.seen_languages) seen += (seen.empty() ? "" : ", ") + language;
    text += fmt::format("Seen in tuning: {}\n", seen);
  }
  const auto average_rows = [](const std::string& name, const std::optional<AverageChange>& average) {
    if (!average) return std::string();
    return fmt::format("| **{}** ({} languages) | **{}** | **{}** | **{}** |\n", name, average->languages.size(),
                       points(average->base), points(average->tuned), signed_points(average->delta));
  };
  for (const TaskComparison& task : comparison.tasks) {
    text += fmt::format("\n## {}\n\n| Language | Base (%) | Tuned (%) | Delta (points) |\n|---|---:|---:|---:|\n", task.task);
    for (const LanguageChange& language : task.languages)
      text += fmt::format("| {} | {} | {} | {} |\n", language.language, points(language.base.value),
                          points(language.tuned.value), signed_points(language.delta));
    text += average_rows("average", task.all) + average_rows("average seen", task.seen) +
            average_rows("average unseen", task.unseen);
    for (const GroupChange& group : task.groups) text += average_rows("average " + group.group, group.change);
    const std::vector<std::string> improved = task.improved();
    std::string list;
    for (const std::string& language : improved) list += (list.empty() ? "" : ", ") + language;
    text += fmt::format("\nImproved: {} of {} languages{}{}\n", improved.size(), task.languages.size(),
                        improved.empty() ? "" : ": ", list);
    const auto missing = [&](const std::vector<std::string>& languages, const std::string& file) {
      if (languages.empty()) return;
      std::string names;
      for (const std::string& language : languages) names += (names.empty() ? "" : ", ") + language;
      text += fmt::format("Only in {} (not compared): {}\n", file, names);
    };
    missing(task.only_in_base, comparison.base_name);
    missing(task.only_in_tuned, comparison.tuned_name);
  }
  if (comparison.tasks.size() > 1) {
    text += "\n## All tasks\n\n| Average | Base (%) | Tuned (%) | Delta (points) |\n|---|---:|---:|---:|\n";
    text += average_rows("average", comparison.all) + average_rows("average seen", comparison.seen) +
            average_rows("average unseen", comparison.unseen);
    for (const GroupChange& group : comparison.groups) text += average_rows("average " + group.group, group.change);
  }
  return text;
}

plot::BarChart comparison_chart(const Comparison& comparison, const TaskComparison& task) {
  plot::BarChart chart;
  chart.title = fmt::format("{}: accuracy before and after tuning ({})", task.task, comparison.mode);
  chart.x_label = "language";
  chart.y_label = "accuracy";
  chart.y_min = 0.0;
  chart.y_max = 1.0;
  plot::BarGroup base{"base", {}, {}, {}, std::nullopt};
  plot::BarGroup tuned{"tuned", {}, {}, {}, std::nullopt};
  for (const LanguageChange& language : task.languages) {
    chart.categories.push_back(language.language);
    base.values.push_back(language.base.value);
    base.lower.push_back(language.base.lower);
    base.upper.push_back(language.base.upper);
    tuned.values.push_back(language.tuned.value);
    tuned.lower.push_back(language.tuned.lower);
    tuned.upper.push_back(language.tuned.upper);
  }
  chart.groups = {std::move(base), std::move(tuned)};
  if (!task.labels.empty())
    chart.reference_lines.push_back({1.0 / static_cast<double>(task.labels.size()), "chance"});
  return chart;
}

std::vector<std::filesystem::path> write_comparison_charts(const Comparison& comparison,
                                                           const std::filesystem::path& stem) {
  std::vector<std::filesystem::path> written;
  for (const TaskComparison& task : comparison.tasks) {
    const std::filesystem::path task_stem = stem.parent_path() / (stem.filename().string() + "_" + task.task);
    plot::write_bar_chart(comparison_chart(comparison, task), task_stem);
    written.push_back(task_stem);
  }
  return written;
}

std::vector<std::filesystem::path> write_comparison(const Comparison& comparison, const std::filesystem::path& stem) {
  io::write_file_atomically(stem.string() + ".md", comparison_markdown(comparison));
  io::write_json_file(stem.string() + ".json", comparison_to_json(comparison));
  return write_comparison_charts(comparison, stem);
}

Comparison compare_files(const CompareSpec& spec) {
  std::vector<std::string> seen;
  std::stringstream stream(spec.seen);
  for (std::string language; std::getline(stream, language, ',');)
    if (!language.empty()) seen.push_back(language);
  const EvalResults base = read_results(spec.base);  // the base first: its errors are the ones named first
  const EvalResults tuned = read_results(spec.tuned);
  return compare_results(base, tuned, seen, spec.base.string(), spec.tuned.string());
}

}  // namespace qtalign::eval
