#include "eval/compare.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::eval {
namespace {

LanguageEvaluation evaluation(const std::string& task, const std::string& language, int correct) {
  LanguageEvaluation result;
  result.task = task;
  result.language = language;
  result.mode = "prefix-sum";
  result.labels = {"same", "different"};
  for (int i = 0; i < 20; ++i) {
    ItemResult item;
    item.index = static_cast<size_t>(i);
    item.label = "same";
    item.prediction = i < correct ? "same" : "different";
    item.scores = {0.5, 0.5};
    result.items.push_back(item);
  }
  return result;
}

// Accuracies in twentieths per language.
EvalResults results(const std::string& mode, const std::vector<std::pair<std::string, int>>& languages, int shots = 4,
                    const std::vector<std::string>& seen = {}) {
  std::vector<LanguageEvaluation> evaluations;
  for (const auto& [language, correct] : languages) evaluations.push_back(evaluation("paws", language, correct));
  return summarize_results({{"mode", mode}}, evaluations, {{"paws", shots}}, seen);
}

TEST(Compare, DeltasAveragesAndImprovedLanguages) {
  const EvalResults base = results("prefix-sum", {{"en", 14}, {"zh", 10}, {"de", 12}, {"sw", 8}});
  const EvalResults tuned = results("prefix-sum", {{"en", 14}, {"zh", 15}, {"de", 11}, {"sw", 10}, {"th", 9}}, 4, {"zh"});
  const Comparison comparison = compare_results(base, tuned, {}, "base.json", "tuned.json");
  EXPECT_EQ(comparison.seen_languages, (std::vector<std::string>{"zh"}));  // from the tuned file
  ASSERT_EQ(comparison.tasks.size(), 1u);
  const TaskComparison& paws = comparison.tasks[0];
  ASSERT_EQ(paws.languages.size(), 4u);
  EXPECT_EQ(paws.languages[1].language, "zh");
  EXPECT_DOUBLE_EQ(paws.languages[1].base.value, 0.5);
  EXPECT_DOUBLE_EQ(paws.languages[1].tuned.value, 0.75);
  EXPECT_DOUBLE_EQ(paws.languages[1].delta, 0.25);
  EXPECT_NEAR(paws.languages[2].delta, -0.05, 1e-12);
  EXPECT_EQ(paws.improved(), (std::vector<std::string>{"zh", "sw"}));  // en unchanged, de down
  EXPECT_EQ(paws.only_in_tuned, (std::vector<std::string>{"th"}));
  EXPECT_TRUE(paws.only_in_base.empty());
  // Averages over the four shared languages only.
  EXPECT_NEAR(paws.all.base, (0.70 + 0.50 + 0.60 + 0.40) / 4, 1e-12);
  EXPECT_NEAR(paws.all.tuned, (0.70 + 0.75 + 0.55 + 0.50) / 4, 1e-12);
  EXPECT_NEAR(paws.all.delta, paws.all.tuned - paws.all.base, 1e-12);
  ASSERT_TRUE(paws.seen && paws.unseen);
  EXPECT_NEAR(paws.seen->delta, 0.25, 1e-12);
  EXPECT_NEAR(paws.unseen->base, (0.70 + 0.60 + 0.40) / 3, 1e-12);
  EXPECT_NEAR(comparison.all.delta, paws.all.delta, 1e-12);

  // An explicit seen list overrides the files'.
  const Comparison by_option = compare_results(base, tuned, {"de", "sw"}, "b", "t");
  EXPECT_NEAR(by_option.tasks[0].seen->delta, (-0.05 + 0.10) / 2, 1e-12);
}

TEST(Compare, RefusesDifferentModesShotsOrNothingInCommon) {
  const EvalResults base = results("prefix-sum", {{"en", 10}});
  EXPECT_THROW(compare_results(base, results("sequence", {{"en", 10}}), {}, "b", "t"), Error);
  EXPECT_THROW(compare_results(base, results("prefix-sum", {{"en", 10}}, 2), {}, "b", "t"), Error);
  EXPECT_THROW(compare_results(base, results("prefix-sum", {{"zh", 10}}), {}, "b", "t"), Error);
}

TEST(Compare, RefusesDifferentAnswerTypes) {
  const EvalResults english = results("prefix-sum", {{"en", 10}});
  EvalResults same_language = english;
  same_language.provenance["answer_type"] = "same-language";
  const std::string message =
      testing::error_of([&] { compare_results(english, same_language, {}, "base.json", "tuned.json"); });
  EXPECT_NE(message.find("base.json wrote its answers as 'english' labels but tuned.json as 'same-language'"),
            std::string::npos)
      << message;
  EvalResults task_agnostic = english;
  task_agnostic.provenance["answer_type"] = "task-agnostic";
  EXPECT_THROW(compare_results(same_language, task_agnostic, {}, "b", "t"), Error);
  // The same answer type compares, and is named in the outputs.
  const Comparison comparison = compare_results(same_language, same_language, {}, "b", "t");
  EXPECT_EQ(comparison.answer_type, "same-language");
  EXPECT_EQ(comparison_to_json(comparison)["answer_type"], "same-language");
  EXPECT_NE(comparison_markdown(comparison).find("Answers: same-language labels"), std::string::npos);
  // Files from before answer types were recorded used English labels.
  EXPECT_EQ(compare_results(english, english, {}, "b", "t").answer_type, "english");
}

TEST(Compare, LanguageBlockMeansAreHandComputed) {
  // Twentieths: base en 14 zh 10 th 8 sw 6; tuned en 16 zh 12 th 7 sw 10.
  const EvalResults base = results("prefix-sum", {{"en", 14}, {"zh", 10}, {"th", 8}, {"sw", 6}});
  const EvalResults tuned = results("prefix-sum", {{"en", 16}, {"zh", 12}, {"th", 7}, {"sw", 10}});
  const Comparison comparison = compare_results(base, tuned, {}, "b", "t");
  const TaskComparison& paws = comparison.tasks[0];
  ASSERT_EQ(paws.groups.size(), 2u);
  EXPECT_EQ(paws.groups[0].group, "high-resource");
  EXPECT_NEAR(paws.groups[0].change.base, (0.70 + 0.50) / 2, 1e-12);
  EXPECT_NEAR(paws.groups[0].change.tuned, (0.80 + 0.60) / 2, 1e-12);
  EXPECT_NEAR(paws.groups[0].change.delta, 0.10, 1e-12);
  EXPECT_EQ(paws.groups[1].group, "low-resource");
  EXPECT_NEAR(paws.groups[1].change.base, (0.40 + 0.30) / 2, 1e-12);
  EXPECT_NEAR(paws.groups[1].change.delta, ((0.35 + 0.50) - (0.40 + 0.30)) / 2, 1e-12);
  ASSERT_EQ(comparison.groups.size(), 2u);
  EXPECT_NEAR(comparison.groups[1].change.delta, 0.075, 1e-12);
  const io::Json json = comparison_to_json(comparison);
  EXPECT_NEAR(json["averages"]["groups"]["low-resource"]["delta"].get<double>(), 0.075, 1e-12);
  EXPECT_NEAR(json["tasks"][0]["averages"]["groups"]["high-resource"]["tuned"].get<double>(), 0.70, 1e-12);
  const std::string markdown = comparison_markdown(comparison);
  EXPECT_NE(markdown.find("| **average high-resource** (2 languages) | **60.0** | **70.0** | **+10.0** |"),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| **average low-resource** (2 languages) | **35.0** | **42.5** | **+7.5** |"),
            std::string::npos)
      << markdown;
}

TEST(Compare, MarkdownJsonAndCharts) {
  const EvalResults base = results("prefix-sum", {{"en", 14}, {"zh", 10}});
  const EvalResults tuned = results("prefix-sum", {{"en", 13}, {"zh", 15}});
  const Comparison comparison = compare_results(base, tuned, {"zh"}, "base.json", "tuned.json");

  const std::string markdown = comparison_markdown(comparison);
  EXPECT_NE(markdown.find("| zh | 50.0 | 75.0 | +25.0 |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| en | 70.0 | 65.0 | -5.0 |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("Improved: 1 of 2 languages: zh"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("**average seen** (1 languages)"), std::string::npos) << markdown;

  const io::Json json = comparison_to_json(comparison);
  EXPECT_EQ(json["tasks"][0]["languages"][1]["language"], "zh");
  EXPECT_DOUBLE_EQ(json["tasks"][0]["languages"][1]["delta"].get<double>(), 0.25);
  EXPECT_EQ(json["tasks"][0]["languages"][1]["improved"], true);
  EXPECT_EQ(json["tasks"][0]["improved"], io::Json::array({"zh"}));
  EXPECT_NEAR(json["averages"]["unseen"]["delta"].get<double>(), -0.05, 1e-12);

  // The chart marks chance accuracy: paws has two labels.
  const plot::BarChart chart = comparison_chart(comparison, comparison.tasks[0]);
  EXPECT_EQ(chart.categories, (std::vector<std::string>{"en", "zh"}));
  ASSERT_EQ(chart.reference_lines.size(), 1u);
  EXPECT_DOUBLE_EQ(chart.reference_lines[0].value, 0.5);
  EXPECT_EQ(chart.reference_lines[0].label, "chance");

  testing::TempDir temp;
  const auto stems = write_comparison_charts(comparison, temp / "compare");
  ASSERT_EQ(stems.size(), 1u);
  EXPECT_EQ(stems[0], temp / "compare_paws");
  const std::string png = io::read_file(temp / "compare_paws.png");
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const std::string svg = io::read_file(temp / "compare_paws.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace qtalign::eval
