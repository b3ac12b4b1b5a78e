#include "report/report.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::report {
namespace {

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

}  // namespace
}  // namespace qtalign::report
