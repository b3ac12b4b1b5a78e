#include "plot/bar_chart.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/image_probe.h"
#include "support/test_support.h"

namespace qtalign::plot {
namespace {

using testing::Image;

struct ColumnRun {
  int first_column = 0;
  int last_column = 0;
  int height = 0;  // the most pixels of the colour in one column of the run
  int top = 0;     // the highest and lowest rows holding the colour within the run
  int bottom = 0;
};

// Contiguous columns holding more than `threshold` pixels of `color`: the bars (the legend swatch
// of the same colour is only 12 pixels tall).
std::vector<ColumnRun> column_runs(const Image& image, const Color& color, int threshold = 20) {
  const testing::Rgb target = testing::to_bytes(color);
  std::vector<ColumnRun> runs;
  bool inside = false;
  for (int x = 0; x < image.width; ++x) {
    int count = 0;
    int top = image.height;
    int bottom = -1;
    for (int y = 0; y < image.height; ++y) {
      if (!testing::close_to(image.at(x, y), target)) continue;
      ++count;
      top = std::min(top, y);
      bottom = std::max(bottom, y);
    }
    if (count > threshold) {
      if (!inside) runs.push_back(ColumnRun{x, x, 0, top, bottom});
      inside = true;
      ColumnRun& run = runs.back();
      run.last_column = x;
      run.height = std::max(run.height, count);
      run.top = std::min(run.top, top);
      run.bottom = std::max(run.bottom, bottom);
    } else {
      inside = false;
    }
  }
  return runs;
}

BarChart accuracy_chart() {
  BarChart chart;
  chart.title = "Accuracy";
  chart.x_label = "language";
  chart.y_label = "accuracy";
  chart.categories = {"en", "zh"};
  chart.groups = {BarGroup{"base", {1.0, 0.5}, {}, {}, Color{0.8, 0.2, 0.1}}};
  chart.y_min = 0.0;
  chart.y_max = 1.0;
  return chart;
}

TEST(BarChart, BarHeightsAreProportionalToValues) {
  testing::TempDir dir;
  const BarChart chart = accuracy_chart();
  write_bar_chart(chart, dir / "bars");
  EXPECT_TRUE(testing::has_png_signature(io::read_file(dir / "bars.png")));
  const Image image = testing::read_png(dir / "bars.png");
  EXPECT_EQ(image.width, 960);  // the automatic width's minimum
  EXPECT_EQ(image.height, chart.height);
  const std::vector<ColumnRun> runs = column_runs(image, *chart.groups[0].color);
  ASSERT_EQ(runs.size(), 2u);
  // Value 1 fills the axis [0, 1]; 0.5 half of it.
  EXPECT_NEAR(runs[0].height, 2 * runs[1].height, 3);
  EXPECT_GT(runs[0].height, image.height / 2);
  // Equal widths, categories in order along x.
  EXPECT_NEAR(runs[0].last_column - runs[0].first_column, runs[1].last_column - runs[1].first_column, 1);
  EXPECT_LT(runs[0].last_column, runs[1].first_column);
}

TEST(BarChart, GroupsStandSideBySideWithinEachCategory) {
  testing::TempDir dir;
  BarChart chart = accuracy_chart();
  chart.categories = {"en", "zh", "de"};
  chart.groups = {BarGroup{"base", {0.6, 0.4, 0.5}, {}, {}, palette_color(0)},
                  BarGroup{"tuned", {0.7, 0.6, 0.55}, {0.65, 0.55, 0.5}, {0.75, 0.65, 0.6}, palette_color(1)}};
  chart.value_labels = true;
  write_bar_chart(chart, dir / "grouped");
  const Image image = testing::read_png(dir / "grouped.png");
  const std::vector<ColumnRun> base = column_runs(image, palette_color(0));
  const std::vector<ColumnRun> tuned = column_runs(image, palette_color(1));
  ASSERT_EQ(base.size(), 3u);
  // Error bars cross the tuned bars, so a bar may read as two runs; find its extent by category.
  ASSERT_GE(tuned.size(), 3u);
  for (std::size_t c = 0; c < 3; ++c) {
    const int next_base = c + 1 < 3 ? base[c + 1].first_column : image.width;
    const bool tuned_beside = std::any_of(tuned.begin(), tuned.end(), [&](const ColumnRun& run) {
      return run.first_column > base[c].last_column && run.last_column < next_base;
    });
    EXPECT_TRUE(tuned_beside) << "category " << c;
  }
  // 0.6 vs 0.4 on the default axis: heights keep the ratio.
  EXPECT_NEAR(base[0].height * 0.4, base[1].height * 0.6, 3);
  const std::string svg = io::read_file(dir / "grouped.svg");
  EXPECT_TRUE(testing::svg_uses_color(svg, palette_color(0)));
  EXPECT_TRUE(testing::svg_uses_color(svg, palette_color(1)));
  // Six value labels of 3-4 characters come on top of the title, labels, categories and legend.
  EXPECT_GE(testing::svg_glyph_count(svg),
            testing::visible_characters({"Accuracy", "language", "accuracy", "en", "zh", "de", "base",
                                         "tuned", "0.6", "0.4", "0.5", "0.7", "0.6", "0.55"}));
}

TEST(BarChart, ManyCategoriesWidenTheChart) {
  testing::TempDir dir;
  BarChart chart = accuracy_chart();
  chart.categories.clear();
  chart.groups = {BarGroup{"base", {}, {}, {}, {}}, BarGroup{"tuned", {}, {}, {}, {}}};
  for (int i = 0; i < 60; ++i) {
    chart.categories.push_back("language-" + std::to_string(i));
    chart.groups[0].values.push_back(0.01 * i);
    chart.groups[1].values.push_back(1.0 - 0.01 * i);
  }
  write_bar_chart(chart, dir / "wide");
  const Image image = testing::read_png(dir / "wide.png");
  EXPECT_GT(image.width, 960);
  EXPECT_EQ(column_runs(image, palette_color(1), 15).size(), 60u);
}

TEST(BarChart, NegativeValuesHangBelowZero) {
  testing::TempDir dir;
  BarChart chart = accuracy_chart();
  chart.y_min.reset();
  chart.y_max.reset();
  chart.groups[0].values = {1.0, -1.0};
  write_bar_chart(chart, dir / "signed");
  const Image image = testing::read_png(dir / "signed.png");
  const std::vector<ColumnRun> runs = column_runs(image, *chart.groups[0].color);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_NEAR(runs[0].height, runs[1].height, 2);
  // Both grow from the zero line, one up and one down.
  EXPECT_NEAR(runs[0].bottom, runs[1].top, 3);
  EXPECT_LT(runs[0].top, runs[1].top);
}

TEST(BarChart, AReferenceLineRunsDashedAcrossThePlotAtItsValueWithItsLabel) {
  testing::TempDir dir;
  BarChart chart = accuracy_chart();
  chart.groups[0].values = {1.0, 0.25};
  write_bar_chart(chart, dir / "plain");
  const Color line_color{0.1, 0.6, 0.2};
  chart.reference_lines = {ReferenceLine{0.5, "chance", line_color}};
  write_bar_chart(chart, dir / "chance");
  const Image image = testing::read_png(dir / "chance.png");
  const std::vector<ColumnRun> bars = column_runs(image, *chart.groups[0].color);
  ASSERT_EQ(bars.size(), 2u);
  const testing::PixelSet line = testing::pixels_of(image, line_color);
  ASSERT_GT(line.size(), 0u);
  // The bar of value 1 spans the axis [0, 1]: 0.5 is halfway down it.
  const int row = testing::median(line.ys);
  EXPECT_NEAR(row, (bars[0].top + bars[0].bottom) / 2.0, 2.0);
  int first = image.width, last = -1, on_row = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line.ys[i] != row) continue;
    first = std::min(first, line.xs[i]);
    last = std::max(last, line.xs[i]);
    ++on_row;
  }
  // Across the whole plot, over the bars, in dashes.
  EXPECT_LT(first, bars[0].first_column);
  EXPECT_GT(last, bars[1].last_column);
  EXPECT_LT(on_row, 0.9 * (last - first + 1));
  EXPECT_GT(on_row, 0.3 * (last - first + 1));
  // Its label adds the six glyphs of "chance", in the legend beside the plot: off the line's own rows,
  // its colour (the legend's dashed mark) appears only right of the plot, never over a bar.
  EXPECT_EQ(testing::svg_glyph_count(io::read_file(dir / "chance.svg")),
            testing::svg_glyph_count(io::read_file(dir / "plain.svg")) + 6);
  size_t off_line = 0;
  for (std::size_t i = 0; i < line.size(); ++i)
    if (std::abs(line.ys[i] - row) > 1) {
      ++off_line;
      EXPECT_GT(line.xs[i], last) << line.xs[i] << "," << line.ys[i];
    }
  EXPECT_GT(off_line, 0u);  // the legend's mark
}

TEST(BarChart, AChartOfZerosSaysSoInsteadOfLookingEmpty) {
  testing::TempDir dir;
  BarChart chart = accuracy_chart();
  chart.groups[0].values = {0.0, 0.0};
  write_bar_chart(chart, dir / "silent");
  chart.zero_note = "no change";
  write_bar_chart(chart, dir / "zero");
  const std::string svg = io::read_file(dir / "zero.svg");
  // The nine glyphs of "no change" (cairo places one for the space too).
  EXPECT_EQ(testing::svg_glyph_count(svg), testing::svg_glyph_count(io::read_file(dir / "silent.svg")) + 9);
  // Drawn in the plot, in its grey, about the middle of the chart's width.
  const Image image = testing::read_png(dir / "zero.png");
  const testing::PixelSet note = testing::find_pixels(image, [](const testing::Rgb& pixel) {
    return testing::close_to(pixel, testing::to_bytes(Color{0.35, 0.35, 0.35}), 10);
  });
  ASSERT_GT(note.size(), 20u);
  EXPECT_NEAR(testing::median(note.xs), image.width / 2, image.width / 4);
  // With a bar that is not zero, there is nothing to say.
  chart.groups[0].values = {0.0, 0.5};
  write_bar_chart(chart, dir / "some");
  chart.zero_note.clear();
  write_bar_chart(chart, dir / "some_plain");
  EXPECT_EQ(testing::svg_glyph_count(io::read_file(dir / "some.svg")),
            testing::svg_glyph_count(io::read_file(dir / "some_plain.svg")));
}

TEST(BarChart, RejectsBadInput) {
  testing::TempDir dir;
  BarChart no_categories = accuracy_chart();
  no_categories.categories.clear();
  EXPECT_THROW(write_bar_chart(no_categories, dir / "a"), Error);
  BarChart no_groups = accuracy_chart();
  no_groups.groups.clear();
  EXPECT_THROW(write_bar_chart(no_groups, dir / "b"), Error);
  BarChart short_group = accuracy_chart();
  short_group.groups[0].values.pop_back();
  EXPECT_THROW(write_bar_chart(short_group, dir / "c"), Error);
  BarChart bad_errors = accuracy_chart();
  bad_errors.groups[0].lower = {0.9};
  bad_errors.groups[0].upper = {1.0};
  EXPECT_THROW(write_bar_chart(bad_errors, dir / "d"), Error);
  BarChart infinite = accuracy_chart();
  infinite.groups[0].values[0] = HUGE_VAL;
  EXPECT_THROW(write_bar_chart(infinite, dir / "e"), Error);
  BarChart infinite_line = accuracy_chart();
  infinite_line.reference_lines = {ReferenceLine{NAN, "chance"}};
  EXPECT_THROW(write_bar_chart(infinite_line, dir / "f"), Error);
  EXPECT_TRUE(testing::directory_entries(dir.path()).empty());
}

}  // namespace
}  // namespace qtalign::plot
