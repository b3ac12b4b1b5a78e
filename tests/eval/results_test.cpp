#include "eval/results.h"

#include <gtest/gtest.h>

#include <regex>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::eval {
namespace {

// An evaluation of `total` items of which the first `correct` are right.
LanguageEvaluation evaluation(const std::string& task, const std::string& language, int correct, int total) {
  LanguageEvaluation result;
  result.task = task;
  result.language = language;
  result.mode = "prefix-sum";
  result.labels = {"positive", "negative"};
  for (int i = 0; i < total; ++i) {
    ItemResult item;
    item.index = static_cast<size_t>(i);
    item.answer = "x";
    item.label = "positive";
    item.prediction = i < correct ? "positive" : "negative";
    item.scores = {i < correct ? 0.6 : 0.2, i < correct ? 0.1 : 0.3};
    item.cached = true;
    item.prompt_tokens = 100 + i;
    result.items.push_back(item);
  }
  result.prefix_tokens = 80;
  result.prefix_fallbacks = 1;
  result.computed_tokens = 123;
  result.seconds = 2.5;
  return result;
}

EvalResults example_results() {
  const std::vector<LanguageEvaluation> evaluations = {evaluation("emotion", "en", 7, 10), evaluation("emotion", "zh", 5, 10),
                                                       evaluation("emotion", "de", 9, 10), evaluation("paws", "en", 6, 10),
                                                       evaluation("paws", "zh", 4, 10)};
  return summarize_results({{"mode", "prefix-sum"}, {"date", "2024-01-01T00:00:00Z"}, {"wall_time_s", 3.0},
                            {"runtime", {{"threads", 2}, {"dtype", "fp32"}}}},
                           evaluations, {{"emotion", 2}, {"paws", 4}}, {"zh", "de"});
}

TEST(Results, AccuracyCarriesTheWilsonInterval) {
  const LanguageAccuracy accuracy = language_accuracy(evaluation("snli", "en", 7, 10));
  EXPECT_EQ(accuracy.correct, 7);
  EXPECT_EQ(accuracy.total, 10);
  EXPECT_DOUBLE_EQ(accuracy.accuracy.value, 0.7);
  // Wilson 95% for 7/10: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.959964.
  EXPECT_NEAR(accuracy.accuracy.lower, 0.396778, 1e-6);
  EXPECT_NEAR(accuracy.accuracy.upper, 0.892209, 1e-6);
  EXPECT_EQ(accuracy.prefix_fallbacks, 1);
}

TEST(Results, MacroAveragesSplitSeenAndUnseen) {
  const Averages averages = macro_averages({"en", "zh", "de", "fr"}, {0.5, 0.7, 0.9, 0.6}, {"zh", "de"});
  EXPECT_DOUBLE_EQ(averages.all.accuracy, (0.5 + 0.7 + 0.9 + 0.6) / 4);
  ASSERT_TRUE(averages.seen && averages.unseen);
  EXPECT_EQ(averages.seen->languages, (std::vector<std::string>{"zh", "de"}));
  EXPECT_DOUBLE_EQ(averages.seen->accuracy, 0.8);
  EXPECT_EQ(averages.unseen->languages, (std::vector<std::string>{"en", "fr"}));
  EXPECT_DOUBLE_EQ(averages.unseen->accuracy, 0.55);
  EXPECT_FALSE(macro_averages({"en"}, {0.5}, {}).seen);
  EXPECT_FALSE(macro_averages({"en"}, {0.5}, {"zh"}).seen);  // no seen language evaluated
  EXPECT_THROW(macro_averages({"en"}, {}, {}), Error);
}

// The study's blocks: en zh de fr es it nl ja ru sv (high-resource), sl pl bg no ms is hi th sw bn.
TEST(Results, LanguageBlockMeansAreHandComputed) {
  const Averages averages =
      macro_averages({"en", "th", "zh", "sw", "ja", "bn"}, {0.9, 0.4, 0.8, 0.3, 0.6, 0.5}, {"zh", "sw"});
  ASSERT_EQ(averages.groups.size(), 2u);
  EXPECT_EQ(averages.groups[0].group, "high-resource");
  EXPECT_EQ(averages.groups[0].average.languages, (std::vector<std::string>{"en", "zh", "ja"}));
  EXPECT_NEAR(averages.groups[0].average.accuracy, (0.9 + 0.8 + 0.6) / 3, 1e-12);
  EXPECT_EQ(averages.groups[1].group, "low-resource");
  EXPECT_EQ(averages.groups[1].average.languages, (std::vector<std::string>{"th", "sw", "bn"}));
  EXPECT_NEAR(averages.groups[1].average.accuracy, (0.4 + 0.3 + 0.5) / 3, 1e-12);
  // A block with no evaluated language has no mean.
  const Averages only_high = macro_averages({"de", "fr"}, {0.5, 0.7}, {});
  ASSERT_EQ(only_high.groups.size(), 1u);
  EXPECT_EQ(only_high.groups[0].group, "high-resource");
  EXPECT_NEAR(only_high.groups[0].average.accuracy, 0.6, 1e-12);

  // Across tasks: the mean of each task's block mean (emotion: en .7 zh .5 de .9 -> .7; paws: en .6 zh .4 -> .5).
  const EvalResults results = example_results();
  ASSERT_EQ(results.averages.groups.size(), 1u);
  EXPECT_NEAR(results.averages.groups[0].average.accuracy, (0.7 + 0.5) / 2, 1e-12);
  std::vector<LanguageEvaluation> mixed = {evaluation("snli", "en", 8, 10), evaluation("snli", "hi", 3, 10),
                                           evaluation("snli", "is", 4, 10), evaluation("snli", "it", 6, 10)};
  const EvalResults blocks = summarize_results({{"mode", "prefix-sum"}}, mixed, {{"snli", 6}}, {});
  ASSERT_EQ(blocks.tasks[0].averages.groups.size(), 2u);
  EXPECT_NEAR(blocks.tasks[0].averages.groups[0].average.accuracy, 0.7, 1e-12);
  EXPECT_NEAR(blocks.tasks[0].averages.groups[1].average.accuracy, 0.35, 1e-12);

  // JSON carries them by block name, the tables show them beside all/seen/unseen.
  const io::Json json = results_to_json(blocks);
  EXPECT_NEAR(json["averages"]["groups"]["low-resource"]["accuracy"].get<double>(), 0.35, 1e-12);
  EXPECT_EQ(json["tasks"][0]["averages"]["groups"]["high-resource"]["languages"], io::Json::array({"en", "it"}));
  EXPECT_EQ(results_to_json(results_from_json(json, "r.json")), json);
  io::Json unknown = json;
  unknown["averages"]["groups"]["mid-resource"] = unknown["averages"]["groups"]["low-resource"];
  EXPECT_THROW(results_from_json(unknown, "r.json"), Error);
  const std::string table = format_results(blocks, TableFormat::table);
  EXPECT_TRUE(std::regex_search(table, std::regex("\nsnli +average high-resource +70\\.0%\n"))) << table;
  EXPECT_TRUE(std::regex_search(table, std::regex("\nsnli +average low-resource +35\\.0%\n"))) << table;
  EXPECT_NE(format_results(blocks, TableFormat::csv).find("\nsnli,average low-resource,,,0.3500,,,\n"), std::string::npos);
}

TEST(Results, SummaryGroupsByTaskAndAveragesAcrossTasks) {
  const EvalResults results = example_results();
  ASSERT_EQ(results.tasks.size(), 2u);
  EXPECT_EQ(results.tasks[0].task, "emotion");
  EXPECT_EQ(results.tasks[0].shots, 2);
  EXPECT_EQ(results.tasks[0].languages.size(), 3u);
  EXPECT_NEAR(results.tasks[0].averages.all.accuracy, 0.7, 1e-12);
  EXPECT_NEAR(results.tasks[0].averages.seen->accuracy, 0.7, 1e-12);
  EXPECT_NEAR(results.tasks[0].averages.unseen->accuracy, 0.7, 1e-12);
  EXPECT_NEAR(results.tasks[1].averages.all.accuracy, 0.5, 1e-12);
  EXPECT_NEAR(results.averages.all.accuracy, 0.6, 1e-12);
  EXPECT_NEAR(results.averages.seen->accuracy, (0.7 + 0.4) / 2, 1e-12);
  EXPECT_NEAR(results.averages.unseen->accuracy, (0.7 + 0.6) / 2, 1e-12);
}

TEST(Results, JsonRoundTripsAndIsValidated) {
  const EvalResults results = example_results();
  const io::Json json = results_to_json(results);
  EXPECT_EQ(json["format"], kResultsFormat);
  EXPECT_EQ(json["tasks"][0]["languages"][1]["language"], "zh");
  EXPECT_EQ(json["tasks"][0]["languages"][1]["correct"], 5);
  EXPECT_EQ(json["tasks"][0]["languages"][1]["ci95"].size(), 2u);
  const EvalResults back = results_from_json(json, "results.json");
  EXPECT_EQ(results_to_json(back), json);

  io::Json broken = json;
  broken["tasks"][0]["languages"][0]["correct"] = 11;
  EXPECT_THROW(results_from_json(broken, "results.json"), Error);
  broken = json;
  broken["tasks"][0]["languages"][0]["accuracy"] = 0.9;
  EXPECT_THROW(results_from_json(broken, "results.json"), Error);
  broken = json;
  broken["format"] = "something-else";
  try {
    results_from_json(broken, "/x/results.json");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("/x/results.json"), std::string::npos);
  }
}

TEST(Results, VolatileFieldsAreTheOnlyOnesRemoved) {
  const io::Json json = results_to_json(example_results());
  const io::Json stable = without_volatile_fields(json);
  EXPECT_FALSE(stable["provenance"].contains("date"));
  EXPECT_FALSE(stable["provenance"].contains("wall_time_s"));
  EXPECT_FALSE(stable["provenance"]["runtime"].contains("threads"));
  EXPECT_EQ(stable["provenance"]["runtime"]["dtype"], "fp32");
  EXPECT_FALSE(stable["tasks"][0]["languages"][0].contains("seconds"));
  EXPECT_EQ(stable["tasks"][0]["languages"][0]["correct"], 7);
}

TEST(Results, TablesShowEveryLanguageAndAverage) {
  const EvalResults results = example_results();
  const std::string table = format_results(results, TableFormat::table);
  EXPECT_TRUE(std::regex_search(table, std::regex("\nemotion +en +7 +10 +70\\.0% +\\[39\\.7%, 89\\.2%\\] +1\n")))
      << table;
  EXPECT_NE(table.find("70.0%"), std::string::npos);
  EXPECT_NE(table.find("[39.7%, 89.2%]"), std::string::npos);
  EXPECT_NE(table.find("average unseen"), std::string::npos);
  EXPECT_NE(table.find("all tasks"), std::string::npos);

  const std::string csv = format_results(results, TableFormat::csv);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "task,language,correct,total,accuracy,ci95_lower,ci95_upper,prefix_fallbacks");
  EXPECT_NE(csv.find("\nemotion,en,7,10,0.7000,0.3968,0.8922,1\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\npaws,average,,,0.5000,,,\n"), std::string::npos) << csv;
  // Every CSV row has the header's 8 columns.
  size_t start = 0;
  while (start < csv.size()) {
    const size_t end = csv.find('\n', start);
    const std::string row = csv.substr(start, end - start);
    EXPECT_EQ(std::count(row.begin(), row.end(), ','), 7) << row;
    start = end + 1;
  }

  const std::string markdown = format_results(results, TableFormat::markdown);
  EXPECT_NE(markdown.find("| emotion | zh | 5 | 10 | 50.0% | [23.7%, 76.3%] | 1 |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| paws | **average** |  |  | **50.0%** |  |  |"), std::string::npos) << markdown;
  EXPECT_EQ(parse_table_format("md"), TableFormat::markdown);
  EXPECT_THROW(parse_table_format("xlsx"), Error);
}

TEST(Results, PredictionsHaveOneLinePerItemWithLabelScores) {
  const std::string jsonl = predictions_jsonl({evaluation("emotion", "en", 1, 2)});
  const size_t newline = jsonl.find('\n');
  const io::Json first = io::Json::parse(jsonl.substr(0, newline));
  const io::Json second = io::Json::parse(jsonl.substr(newline + 1, jsonl.size() - newline - 2));
  EXPECT_EQ(first["task"], "emotion");
  EXPECT_EQ(first["index"], 0);
  EXPECT_EQ(first["correct"], true);
  EXPECT_EQ(second["correct"], false);
  EXPECT_EQ(second["prediction"], "negative");
  EXPECT_DOUBLE_EQ(second["scores"]["negative"].get<double>(), 0.3);
  EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 2);
}

}  // namespace
}  // namespace qtalign::eval
