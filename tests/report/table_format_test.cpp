// The study's tables rendered from a constructed grid table: Markdown, CSV and LaTeX, the blocks,
// averages, best-per-column marks and significance daggers, against hand-written expectations.
#include "report/table_format.h"

#include <gtest/gtest.h>

namespace qtalign::report {
namespace {

GridTable constructed_table() {
  GridTable table;
  table.id = "m.emotion.english.default";
  table.model = "m";
  table.task = "emotion";
  table.labels = "english";
  table.shots = "default";
  table.high_resource = {"en", "zh"};
  table.low_resource = {"sw"};
  GridRow base{"base", "base", {}, "", {}, {}};
  base.cells["en"] = {0.5, 10, {}, {}, {}, {}, {}};
  base.cells["zh"] = {0.4, 10, 0.8, {}, {}, {}, {}};
  base.cells["sw"] = {0.3, 10, 0.5, {}, {}, {}, {}};
  GridRow tuned{"m.zh_to_en.snli", "zh => en", {"zh"}, "en", {"zh", "en"}, {}};
  tuned.cells["en"] = {0.6, 10, {}, 0.1, stats::PairedOutcomes{5, 0, 1, 4}, 0.01, 0.03};
  tuned.cells["zh"] = {0.4, 10, 0.9, 0.0, stats::PairedOutcomes{4, 0, 0, 6}, 1.0, 1.0};
  tuned.cells["sw"] = {0.1, 10, 0.5, -0.2, stats::PairedOutcomes{1, 2, 0, 7}, 0.5, 1.0};
  table.rows = {base, tuned};
  return table;
}

TEST(TableFormat, MarkdownHasBlocksAveragesBestAndDaggers) {
  const std::string markdown = table_markdown(accuracy_table(constructed_table()));
  EXPECT_NE(markdown.find("Column blocks: high-resource (en zh); low-resource (sw); averages (high low all seen unseen)."),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| configuration | en | zh | sw | high | low | all | seen | unseen |\n"
                          "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"),
            std::string::npos);
  // base: high (50+40)/2 = 45, all (50+40+30)/3 = 40; no seen/unseen for the base model. zh ties
  // (40 and 40): neither is bold.
  EXPECT_NE(markdown.find("| base | 50.0 | 40.0 | **30.0** | 45.0 | **30.0** | **40.0** | – | – |"), std::string::npos)
      << markdown;
  // tuned: en significant (Holm p 0.03); seen = zh and the target en: (60+40)/2; unseen = sw; seen and
  // unseen are never bold, though only this row has them.
  EXPECT_NE(markdown.find("| zh => en | **60.0**† | 40.0 | 10.0 | **50.0** | 10.0 | 36.7 | 50.0 | 10.0 |"),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("Bold: a column's best value when no other row shows it too"), std::string::npos);
}

TEST(TableFormat, ValuesThatPrintAlikeTieAndAUniqueBestIsBold) {
  NumberTable table;
  table.blocks = {"languages"};
  table.columns = {{"a", "b", "c"}};
  table.row_labels = {"r1", "r2", "r3"};
  // a: 0.4 and 0.40004 both print 40.0 (a tie); b: 0.41 alone at the top; c: no values but one.
  table.cells = {{{0.4}, {0.41}, {}}, {{0.40004}, {0.3}, {0.2}}, {{0.1}, {0.2}, {}}};
  mark_best(table);
  const std::vector<std::vector<bool>> expected = {{false, true, false}, {false, false, true}, {false, false, false}};
  for (size_t r = 0; r < 3; ++r)
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(table.cells[r][c].best, expected[r][c]) << r << "," << c;
  table.unranked = {"b"};
  mark_best(table);
  EXPECT_FALSE(table.cells[0][1].best);
  EXPECT_TRUE(table.cells[1][2].best);
}

TEST(TableFormat, AgreementTableLeavesEnglishOut) {
  const std::string markdown = table_markdown(agreement_table(constructed_table()));
  EXPECT_NE(markdown.find("| configuration | zh | sw | high | low | all | seen | unseen |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| base | 80.0 | 50.0 | 80.0 | 50.0 | 65.0 | – | – |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| zh => en | **90.0** | 50.0 | **90.0** | 50.0 | **70.0** | 90.0 | 50.0 |"),
            std::string::npos)
      << markdown;
}

TEST(TableFormat, CsvIsLongFormWithFullPrecision) {
  const std::string csv = table_csv(accuracy_table(constructed_table()));
  EXPECT_EQ(csv.rfind("row,block,column,value,best,significant\n", 0), 0u);
  EXPECT_NE(csv.find("\nbase,high-resource,en,0.5,0,0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nzh => en,high-resource,en,0.6,1,1\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nbase,averages,seen,,0,0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nbase,high-resource,zh,0.4,0,0\n"), std::string::npos) << csv;  // a tie
  EXPECT_NE(csv.find("\nzh => en,high-resource,zh,0.4,0,0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nzh => en,averages,seen,0.5,0,0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nzh => en,low-resource,sw,0.1,0,0\n"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 2 * 8);
}

TEST(TableFormat, LatexUsesBooktabsAndEscapes) {
  const std::string latex = table_latex(accuracy_table(constructed_table()));
  for (const char* expected :
       {"\\begin{tabular}{lrrrrrrrr}\n\\toprule\n",
        " & \\multicolumn{2}{c}{high-resource} & \\multicolumn{1}{c}{low-resource} & \\multicolumn{5}{c}{averages} \\\\\n"
        "\\cmidrule(lr){2-3}\\cmidrule(lr){4-4}\\cmidrule(lr){5-9}\n",
        "Configuration & en & zh & sw & high & low & all & seen & unseen \\\\\n\\midrule\n",
        "base & 50.0 & 40.0 & \\textbf{30.0} & 45.0 & \\textbf{30.0} & \\textbf{40.0} & -- & -- \\\\\n\\midrule\n",
        "zh $\\Rightarrow$ en & \\textbf{60.0}$^{\\dagger}$ & 40.0 & 10.0 & \\textbf{50.0} & 10.0 & 36.7 & 50.0 & 10.0 \\\\\n",
        "\\bottomrule\n\\end{tabular}\n", "(\\%)", "$^{\\dagger}$ = change from the base model"})
    EXPECT_NE(latex.find(expected), std::string::npos) << expected << "\n---\n" << latex;
}

}  // namespace
}  // namespace qtalign::report
