// The report documents and their renderings: HTML and Markdown from a constructed document, the
// single-study report read from a study directory, and wide tables, bold marks and signed changes as
// headless Chromium lays them out (tests/study/report_probe.mjs).
#include "report/report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "data/language_groups.h"
#include "eval/results.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "report/grid_report.h"
#include "stats/statistics.h"
#include "support/test_support.h"

namespace qtalign::report {
namespace {

namespace fs = std::filesystem;

// The first table of the section titled `title`.
const ReportTable& section_table(const ReportDocument& document, const std::string& title) {
  for (const ReportSection& section : document.sections)
    if (section.title == title)
      for (const ReportBlock& block : section.blocks)
        if (block.kind == ReportBlock::Kind::table) return block.table;
  throw std::runtime_error("no table in section " + title);
}

// Results of one task whose languages have `correct` of 10 items right, with `seen` as the study gives it.
eval::EvalResults results(const std::vector<std::pair<std::string, int>>& correct, const std::vector<std::string>& seen) {
  eval::EvalResults results;
  results.provenance = {{"mode", "prefix"}};
  results.seen_languages = seen;
  eval::TaskResults task{"emotion", 3, {"joy", "anger"}, {}, {}};
  std::vector<std::string> languages;
  std::vector<double> accuracies;
  for (const auto& [language, right] : correct) {
    eval::LanguageAccuracy accuracy;
    accuracy.language = language;
    accuracy.correct = right;
    accuracy.total = 10;
    accuracy.accuracy = stats::wilson_interval(right, 10);
    task.languages.push_back(accuracy);
    languages.push_back(language);
    accuracies.push_back(right / 10.0);
  }
  task.averages = eval::macro_averages(languages, accuracies, seen);
  results.averages = task.averages;
  results.tasks.push_back(task);
  return results;
}

// Runs the page probe on `html_file` in headless Chromium.
nlohmann::json probe_page(const fs::path& html_file, const fs::path& screenshot) {
  const testing::CommandResult probe = testing::run_command(
      "node " + testing::shell_quote((testing::source_dir() / "tests/study/report_probe.mjs").string()) +
      " /usr/bin/chromium " + testing::shell_quote("file://" + html_file.string()) + " " +
      testing::shell_quote(screenshot.string()));
  EXPECT_EQ(probe.exit_code, 0) << probe.output;
  return nlohmann::json::parse(probe.output);
}

// A grid table over all 20 study languages: base and two tuned rows. Even-numbered languages are tied
// three ways (40%); at odd ones "a" leads alone (50% to 45% and 40%); each row saw other languages.
GridTable wide_table() {
  GridTable table;
  table.id = "m.emotion.english.default";
  table.model = "m";
  table.task = "emotion";
  table.labels = "english";
  table.shots = "default";
  table.high_resource = data::study_language_groups()[0].languages;
  table.low_resource = data::study_language_groups()[1].languages;
  table.rows = {{"base", "base", {}, "", {}, {}}, {"a", "zh => en", {"zh"}, "en", {"zh", "en"}, {}},
                {"b", "sw => en", {"sw"}, "en", {"sw", "en"}, {}}};
  const std::vector<std::string> languages = table.languages();
  for (size_t l = 0; l < languages.size(); ++l) {
    const bool odd = l % 2 == 1;
    const double accuracy[] = {0.4, odd ? 0.5 : 0.4, odd ? 0.45 : 0.4};
    for (size_t r = 0; r < 3; ++r) {
      GridCell cell{accuracy[r], 20, 0.5, {}, {}, {}, {}};
      if (r > 0) {
        cell.delta = accuracy[r] - accuracy[0];
        cell.pairs = stats::PairedOutcomes{8, 0, 2, 10};
        cell.p_value = cell.p_holm = 1.0;
      }
      table.rows[r].cells[languages[l]] = cell;
    }
  }
  return table;
}

TEST(Report, EmbedsImagesAsBase64AndEscapesText) {
  testing::TempDir dir;
  io::write_file_atomically(dir / "a.png", "hello");
  io::write_file_atomically(dir / "b.png", "hi");
  ReportDocument document{"A <study>", {}};
  ReportSection section{"Results & more", {}};
  ReportBlock table;
  table.kind = ReportBlock::Kind::table;
  table.table = {{"language", "delta"}, {{"zh", "+1.5"}, {"a|b", "-0.5"}}, "caption"};
  ReportBlock row;
  row.kind = ReportBlock::Kind::figures;
  row.figures = {{"a.png", "first"}, {"b.png", "second"}};
  section.blocks = {table, row};
  document.sections.push_back(section);

  const std::string html = render_report_html(document, dir.path());
  EXPECT_NE(html.find("<img src=\"data:image/png;base64,aGVsbG8=\""), std::string::npos);  // base64("hello")
  EXPECT_NE(html.find("<img src=\"data:image/png;base64,aGk=\""), std::string::npos);      // base64("hi")
  EXPECT_NE(html.find("<title>A &lt;study&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("Results &amp; more"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num up\">+1.5</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num down\">-0.5</td>"), std::string::npos);

  const std::string markdown = render_report_markdown(document);
  EXPECT_NE(markdown.find("| a\\|b | -0.5 |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("![first](a.png)"), std::string::npos);
}

TEST(Report, AStudyWithoutOutputsSaysSoInsteadOfShowingFigures) {
  testing::TempDir dir;
  const ReportDocument document = build_study_report(dir.path());
  ASSERT_EQ(document.sections.size(), 6u);
  const std::string html = render_report_html(document, dir.path());
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("not available"), std::string::npos);
  write_study_report(dir.path());
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "report.html"));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "report.md"));
}

TEST(Report, ChangesShownAsZeroHaveNoColourOfGainOrLoss) {
  testing::TempDir dir;
  ReportBlock table;
  table.kind = ReportBlock::Kind::table;
  table.table = {{"language", "delta"}, {{"en", "+0.0"}, {"zh", "-0.0"}, {"sw", "+0.4"}}, ""};
  const std::string html = render_report_html({"t", {{"s", {table}}}}, dir.path());
  EXPECT_NE(html.find("<td class=\"num\">+0.0</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td class=\"num\">-0.0</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num up\">+0.4</td>"), std::string::npos);
}

// The study's seen languages are its tuning languages and its target (eval/tuned.json's seen list,
// which compare.json uses): the report counts them alike, although study.json's train_languages
// names the tuning languages only.
TEST(Report, CountsTheTargetAsSeenAsTheStudysResultsDo) {
  testing::TempDir dir;
  io::write_json_file(dir / "study.json", {{"settings", {{"task", "emotion"}, {"train_languages", {"zh"}},
                                                         {"target", "en"}}}});
  const std::vector<std::string> seen = {"zh", "en"};
  fs::create_directories(dir / "eval");
  io::write_json_file(dir / "eval" / "base.json", eval::results_to_json(results({{"en", 5}, {"zh", 4}, {"sw", 3}}, seen)));
  io::write_json_file(dir / "eval" / "tuned.json", eval::results_to_json(results({{"en", 6}, {"zh", 4}, {"sw", 1}}, seen)));
  const ReportDocument document = build_study_report(dir.path());
  const ReportTable& languages = section_table(document, "Accuracy per language");
  ASSERT_EQ(languages.rows.size(), 3u);
  for (const auto& row : languages.rows) EXPECT_EQ(row[1], row[0] == "sw" ? "" : "yes") << row[0];
  // seen: en and zh, base (50 + 40) / 2 = 45, tuned (60 + 40) / 2 = 50; unseen: sw, 30 then 10.
  const ReportTable& overview = section_table(document, "Overview");
  ASSERT_FALSE(overview.rows.empty());
  EXPECT_EQ(overview.rows[0][4], "45.0 / 50.0 / +5.0");
  EXPECT_EQ(overview.rows[0][5], "30.0 / 10.0 / -20.0");
  EXPECT_NE(overview.caption.find("the tuning languages and the target (zh, en)"), std::string::npos) << overview.caption;
}

TEST(Report, WideTablesScrollInTheirBoxBoldMarksAUniqueBestAndZeroIsNeutralInChromium) {
  testing::TempDir dir;
  const io::Json study = {{"settings", {{"plan", {{"models", {"m"}}}}}}};
  ReportDocument document = build_grid_report(study, {wide_table()}, {GridFigures{}}, dir.path());
  ReportBlock changes;
  changes.kind = ReportBlock::Kind::table;
  changes.table = {{"language", "delta"}, {{"en", "+0.0"}, {"zh", "-0.0"}, {"sw", "+1.5"}, {"it", "-0.5"}}, ""};
  document.sections.push_back({"Changes", {changes}});
  io::write_file_atomically(dir / "report.html", render_report_html(document, dir.path()));
  const nlohmann::json page = probe_page(dir / "report.html", dir / "report.png");

  // Nothing reaches past the window: a table wider than it scrolls in its own box, its first column
  // (the row names) in view at the right end.
  EXPECT_LE(page["width"]["page"].get<int>(), page["width"]["window"].get<int>()) << page["width"];
  bool scrolled = false;
  for (const nlohmann::json& table : page["layout"]) {
    EXPECT_TRUE(table["scroller"].get<bool>() || table["right"].get<double>() <= page["width"]["window"].get<double>())
        << table;
    if (table["scrolls"].get<bool>()) {
      scrolled = true;
      EXPECT_TRUE(table["firstColumnStays"].get<bool>()) << table;
    }
  }
  EXPECT_TRUE(scrolled);  // 20 languages and 5 means do not fit 1280 pixels

  // The accuracy table: a language column is bold once where "a" leads alone, never where all tie;
  // high, low and all once ("a"); seen and unseen never.
  const std::vector<std::string> languages = wide_table().languages();
  const auto accuracy_table = std::find_if(page["bold"].begin(), page["bold"].end(), [](const nlohmann::json& table) {
    return !table["header"].empty() && table["header"][0] == "configuration";
  });
  ASSERT_NE(accuracy_table, page["bold"].end());
  const nlohmann::json& accuracy = *accuracy_table;
  ASSERT_EQ(accuracy["header"].size(), 1 + languages.size() + 5);
  for (size_t c = 1; c < accuracy["header"].size(); ++c) {
    const std::string column = accuracy["header"][c];
    const int expected = c <= languages.size() ? (c - 1) % 2 : column == "seen" || column == "unseen" ? 0 : 1;
    EXPECT_EQ(accuracy["perColumn"][c].get<int>(), expected) << column;
  }

  // Signed changes: gains green, losses red, zero in the text's own colour.
  std::map<std::string, std::string> colour;
  for (const nlohmann::json& cell : page["signed"]) colour[cell["text"]] = cell["color"];
  EXPECT_EQ(colour["+0.0"], page["textColor"]);
  EXPECT_EQ(colour["-0.0"], page["textColor"]);
  EXPECT_EQ(colour["+1.5"], "rgb(23, 107, 44)");
  EXPECT_EQ(colour["-0.5"], "rgb(161, 29, 29)");
}

}  // namespace
}  // namespace qtalign::report
