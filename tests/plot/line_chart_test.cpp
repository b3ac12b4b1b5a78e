#include "plot/line_chart.h"

#include <gtest/gtest.h>

#include <map>

#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/image_probe.h"
#include "support/test_support.h"

namespace qtalign::plot {
namespace {

using testing::Image;
using testing::PixelSet;

Series flat_series(const std::string& name, double level, Color color) {
  Series series;
  series.name = name;
  for (int x = 0; x <= 10; ++x) {
    series.x.push_back(x);
    series.y.push_back(level);
  }
  series.color = color;
  return series;
}

// Three flat lines at y = 0.5, 1.0, 1.5 on a fixed [0, 2] axis.
LineChart three_levels() {
  LineChart chart;
  chart.title = "Three levels";
  chart.x_label = "layer";
  chart.y_label = "probability";
  chart.series = {flat_series("low", 0.5, palette_color(0)), flat_series("mid", 1.0, palette_color(1)),
                  flat_series("high", 1.5, palette_color(2))};
  chart.y_min = 0.0;
  chart.y_max = 2.0;
  return chart;
}

// The row holding most pixels of `color`: for a horizontal line, the line itself (the legend
// sample of the same colour is only 26 pixels long).
int dominant_row(const PixelSet& pixels, int* count = nullptr) {
  std::map<int, int> per_row;
  for (int y : pixels.ys) ++per_row[y];
  auto best = per_row.begin();
  for (auto it = per_row.begin(); it != per_row.end(); ++it)
    if (it->second > best->second) best = it;
  if (count) *count = best->second;
  return best->first;
}

TEST(LineChart, WritesPngAndSvgOfTheRequestedSize) {
  testing::TempDir dir;
  const LineChart chart = three_levels();
  write_line_chart(chart, dir / "levels");
  const std::string png = io::read_file(dir / "levels.png");
  EXPECT_TRUE(testing::has_png_signature(png));
  const Image image = testing::read_png(dir / "levels.png");
  EXPECT_EQ(image.width, chart.width);
  EXPECT_EQ(image.height, chart.height);

  const std::string svg = io::read_file(dir / "levels.svg");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("width=\"960pt\""), std::string::npos) << svg.substr(0, 400);
  for (const Series& series : chart.series) EXPECT_TRUE(testing::svg_uses_color(svg, *series.color));
  // Cairo writes text as glyph outlines, so count glyphs rather than search for words: the title,
  // axis labels and legend alone need this many.
  EXPECT_GE(testing::svg_glyph_count(svg),
            testing::visible_characters({chart.title, chart.x_label, chart.y_label, "low", "mid", "high"}));
}

TEST(LineChart, PlacesLinesLinearlyInY) {
  testing::TempDir dir;
  const LineChart chart = three_levels();
  write_line_chart(chart, dir / "levels");
  const Image image = testing::read_png(dir / "levels.png");
  std::vector<int> rows;
  std::vector<int> lengths;
  for (const Series& series : chart.series) {
    int length = 0;
    rows.push_back(dominant_row(testing::pixels_of(image, *series.color), &length));
    lengths.push_back(length);
  }
  // Higher values sit higher (smaller device y), equally spaced as 0.5, 1.0, 1.5 are.
  EXPECT_GT(rows[0], rows[1]);
  EXPECT_GT(rows[1], rows[2]);
  EXPECT_NEAR(rows[0] - rows[1], rows[1] - rows[2], 2);
  // Same x range, so the same length, spanning most of the image.
  for (int length : lengths) {
    EXPECT_GT(length, image.width / 2);
    EXPECT_NEAR(length, lengths[0], 3);
  }
  // y = 0 and y = 2 are the plot's bottom and top edges: 0.5 sits a quarter of the way up.
  const int quarter = rows[0] - rows[1];
  EXPECT_GT(quarter, image.height / 10);
}

TEST(LineChart, DashedSeriesPaintFewerPixelsThanSolidOnes) {
  testing::TempDir dir;
  LineChart chart = three_levels();
  chart.series[1].style = LineStyle::dashed;
  write_line_chart(chart, dir / "dashed");
  const Image image = testing::read_png(dir / "dashed.png");
  int solid = 0;
  int dashed = 0;
  dominant_row(testing::pixels_of(image, *chart.series[0].color), &solid);
  dominant_row(testing::pixels_of(image, *chart.series[1].color), &dashed);
  EXPECT_LT(dashed, solid * 0.85);
  EXPECT_GT(dashed, solid * 0.4);
}

TEST(LineChart, BandsTintTheAreaAroundTheLine) {
  testing::TempDir dir;
  LineChart chart = three_levels();
  chart.series.resize(1);
  write_line_chart(chart, dir / "plain");
  for (double y : chart.series[0].y) {
    chart.series[0].lower.push_back(y - 0.25);
    chart.series[0].upper.push_back(y + 0.25);
  }
  write_line_chart(chart, dir / "band");
  // Tinted: neither grey (background, gridlines, text) nor the line colour itself.
  const testing::Rgb line = testing::to_bytes(*chart.series[0].color);
  const auto tinted = [&](const testing::Rgb& pixel) {
    const bool grey = std::abs(pixel.red - pixel.green) <= 3 && std::abs(pixel.green - pixel.blue) <= 6;
    return !grey && !testing::close_to(pixel, line, 8);
  };
  const Image plain = testing::read_png(dir / "plain.png");
  const Image band = testing::read_png(dir / "band.png");
  const std::size_t before = testing::find_pixels(plain, tinted).size();
  const PixelSet after = testing::find_pixels(band, tinted);
  // The band covers a quarter of the plot height ([0.25, 0.75] of [0, 2]) over its whole width.
  EXPECT_GT(after.size(), before + static_cast<std::size_t>(plain.width * plain.height / 16));
  // It surrounds the line: the line's row is the band's median row.
  EXPECT_NEAR(testing::median(after.ys), dominant_row(testing::pixels_of(band, *chart.series[0].color)), 3);
}

TEST(LineChart, HeatStripRunsFromTheLowColourToTheHighColourAlongX) {
  testing::TempDir dir;
  LineChart chart = three_levels();
  HeatStrip strip;
  strip.label = "entropy";
  for (int x = 0; x <= 10; ++x) {
    strip.x.push_back(x);
    strip.values.push_back(2.0 * x);
  }
  chart.heat_strip = strip;
  write_line_chart(chart, dir / "strip");
  const Image image = testing::read_png(dir / "strip.png");
  const PixelSet lowest = testing::pixels_of(image, sequential_color(0.0));
  const PixelSet highest = testing::pixels_of(image, sequential_color(1.0));
  // Each end cell is about a tenth of the plot wide and the strip's height tall.
  ASSERT_GT(lowest.size(), 200u);
  ASSERT_GT(highest.size(), 200u);
  EXPECT_LT(testing::median(lowest.xs), testing::median(highest.xs) - image.width / 3);
  // The strip lies below every line.
  const int lowest_line = dominant_row(testing::pixels_of(image, *chart.series[0].color));
  EXPECT_GT(testing::median(lowest.ys), lowest_line);
  EXPECT_GT(testing::median(highest.ys), lowest_line);
}

TEST(LineChart, HeatStripWithAFixedScaleDoesNotMagnifyTinyDifferences) {
  testing::TempDir dir;
  LineChart chart = three_levels();
  // Values 5.00 .. 5.10 on the scale 0 .. 10: every cell sits near the middle colour; on their own range
  // they would span the whole colour map.
  HeatStrip strip{"entropy", {}, {}, 0.0, 10.0};
  for (int x = 0; x <= 10; ++x) {
    strip.x.push_back(x);
    strip.values.push_back(5.0 + 0.01 * x);
  }
  chart.heat_strip = strip;
  write_line_chart(chart, dir / "fixed");
  const Image fixed = testing::read_png(dir / "fixed.png");
  EXPECT_GT(testing::pixels_of(fixed, sequential_color(0.5), 6).size(), 1000u);
  // Only the scale's gradient shows the map's ends: no cell of either end colour (a cell is > 200 px).
  EXPECT_LT(testing::pixels_of(fixed, sequential_color(0.0)).size(), 150u);
  EXPECT_LT(testing::pixels_of(fixed, sequential_color(1.0)).size(), 150u);
  strip.scale_min.reset();
  strip.scale_max.reset();
  chart.heat_strip = strip;
  write_line_chart(chart, dir / "own");
  const Image own = testing::read_png(dir / "own.png");
  EXPECT_GT(testing::pixels_of(own, sequential_color(0.0)).size(), 200u);
  EXPECT_GT(testing::pixels_of(own, sequential_color(1.0)).size(), 200u);
}

TEST(LineChart, ManySeriesGetDistinctDefaultColours) {
  testing::TempDir dir;
  LineChart chart;
  for (int i = 0; i < 20; ++i) {
    Series series = flat_series("s" + std::to_string(i), i, Color{});
    series.color.reset();
    chart.series.push_back(series);
  }
  write_line_chart(chart, dir / "many");
  const Image image = testing::read_png(dir / "many.png");
  for (std::size_t i = 0; i < 20; ++i)
    EXPECT_GT(testing::pixels_of(image, palette_color(i)).size(), 100u) << "colour " << i;
}

TEST(LineChart, RejectsBadInputWithoutWritingAnything) {
  testing::TempDir dir;
  LineChart empty;
  EXPECT_THROW(write_line_chart(empty, dir / "empty"), Error);

  LineChart mismatched = three_levels();
  mismatched.series[1].y.pop_back();
  EXPECT_THROW(write_line_chart(mismatched, dir / "mismatched"), Error);

  LineChart no_points = three_levels();
  no_points.series[0].x.clear();
  no_points.series[0].y.clear();
  EXPECT_THROW(write_line_chart(no_points, dir / "no_points"), Error);

  LineChart half_band = three_levels();
  half_band.series[0].lower = half_band.series[0].y;
  EXPECT_THROW(write_line_chart(half_band, dir / "half_band"), Error);

  LineChart not_finite = three_levels();
  not_finite.series[2].y[3] = std::nan("");
  EXPECT_THROW(write_line_chart(not_finite, dir / "not_finite"), Error);

  LineChart bad_strip = three_levels();
  bad_strip.heat_strip = HeatStrip{"entropy", {0, 1, 2}, {1, 2}};
  EXPECT_THROW(write_line_chart(bad_strip, dir / "bad_strip"), Error);

  LineChart reversed = three_levels();
  reversed.y_min = 3.0;
  EXPECT_THROW(write_line_chart(reversed, dir / "reversed"), Error);

  EXPECT_TRUE(testing::directory_entries(dir.path()).empty());
}

TEST(LineChart, NamesTheProblemInTheError) {
  testing::TempDir dir;
  LineChart mismatched = three_levels();
  mismatched.series[1].y.pop_back();
  try {
    write_line_chart(mismatched, dir / "mismatched");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("mid"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("mismatched"), std::string::npos) << error.what();
  }
}

TEST(LineChart, UnwritableDestinationFailsAndLeavesNoPartialFile) {
  testing::TempDir dir;
  io::write_file_atomically(dir / "file", "not a directory");
  EXPECT_THROW(write_line_chart(three_levels(), dir / "file" / "chart"), Error);

  // The PNG's name is taken by a directory: the rename fails after the data was written.
  std::filesystem::create_directory(dir / "taken.png");
  EXPECT_THROW(write_line_chart(three_levels(), dir / "taken"), Error);
  EXPECT_EQ(testing::directory_entries(dir.path()), (std::vector<std::string>{"file", "taken.png"}));
  EXPECT_TRUE(std::filesystem::is_empty(dir / "taken.png"));
}

}  // namespace
}  // namespace qtalign::plot
