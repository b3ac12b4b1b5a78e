#include "plot/heatmap.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "plot/image_probe.h"
#include "support/test_support.h"

namespace qtalign::plot {
namespace {

TEST(Heatmap, DivergingScaleIsWhiteAtZeroAndSaturatesAtTheLimit) {
  const testing::Rgb white{255, 255, 255};
  EXPECT_TRUE(testing::close_to(testing::to_bytes(diverging_color(0.0, 0.2)), white, 0));
  EXPECT_TRUE(testing::close_to(testing::to_bytes(diverging_color(-0.2, 0.2)), {0xb2, 0x18, 0x2b}, 0));
  EXPECT_TRUE(testing::close_to(testing::to_bytes(diverging_color(-5.0, 0.2)), {0xb2, 0x18, 0x2b}, 0));
  EXPECT_TRUE(testing::close_to(testing::to_bytes(diverging_color(0.2, 0.2)), {0x21, 0x66, 0xac}, 0));
  // Halfway to blue: each channel halfway between 255 and blue's.
  EXPECT_TRUE(testing::close_to(testing::to_bytes(diverging_color(0.1, 0.2)),
                                {(255 + 0x21 + 1) / 2, (255 + 0x66 + 1) / 2, (255 + 0xac + 1) / 2}, 1));
}

TEST(Heatmap, CellsAreFilledWithTheirValuesColours) {
  testing::TempDir dir;
  Heatmap heatmap;
  heatmap.title = "change";
  heatmap.columns = {"en", "zh", "sw"};
  heatmap.rows = {"zh => en", "sw => en"};
  heatmap.values = {{0.2, -0.2, std::nullopt}, {0.0, 0.1, -0.1}};
  heatmap.marked = {{true, false, false}, {false, false, false}};
  write_heatmap(heatmap, dir / "heat");
  const testing::Image image = testing::read_png(dir / "heat.png");
  EXPECT_GE(image.width, 720);
  // A full-scale cell is a large block of its colour (cells are tens of pixels on each side).
  EXPECT_GT(testing::pixels_of(image, diverging_color(0.2, 0.2)).size(), 400u);
  EXPECT_GT(testing::pixels_of(image, diverging_color(-0.2, 0.2)).size(), 400u);
  EXPECT_GT(testing::pixels_of(image, diverging_color(0.1, 0.2)).size(), 400u);
  EXPECT_GT(testing::pixels_of(image, {0.85, 0.85, 0.85}).size(), 400u);  // the missing cell
  const std::string svg = io::read_file(dir / "heat.svg");
  EXPECT_TRUE(testing::svg_uses_color(svg, diverging_color(-0.2, 0.2)));
}

TEST(Heatmap, TheColourScaleSpansTheDataWithAFloor) {
  testing::TempDir dir;
  Heatmap heatmap;
  heatmap.columns = {"en", "zh"};
  heatmap.rows = {"a"};
  heatmap.values = {{0.05, -0.025}};
  heatmap.min_limit = 0.01;
  EXPECT_DOUBLE_EQ(heatmap_limit(heatmap), 0.05);
  write_heatmap(heatmap, dir / "data");
  // The largest change is the scale's end: full blue; half of it on the other side, half red.
  const testing::Image image = testing::read_png(dir / "data.png");
  EXPECT_GT(testing::pixels_of(image, {0x21 / 255.0, 0x66 / 255.0, 0xac / 255.0}).size(), 400u);
  EXPECT_GT(testing::pixels_of(image, diverging_color(-0.5, 1.0)).size(), 400u);
  // All zero, or all tiny: the floor, so the cells stay near white.
  heatmap.values = {{0.0, 0.0}};
  EXPECT_DOUBLE_EQ(heatmap_limit(heatmap), 0.01);
  heatmap.values = {{0.001, 0.0}};
  EXPECT_DOUBLE_EQ(heatmap_limit(heatmap), 0.01);
  heatmap.limit = 0.5;
  EXPECT_DOUBLE_EQ(heatmap_limit(heatmap), 0.5);
  heatmap.limit.reset();
  heatmap.min_limit = 0.0;
  heatmap.values = {{0.0, 0.0}};
  EXPECT_DOUBLE_EQ(heatmap_limit(heatmap), 1.0);
}

TEST(Heatmap, AColumnBreakDrawsADarkLineBetweenItsColumnsAndTheLegendItsTitle) {
  testing::TempDir dir;
  Heatmap heatmap;
  heatmap.columns = {"en", "zh", "sw", "th"};
  heatmap.rows = {"a", "b"};
  // The middle columns' colours are in no legend key (those are at 0, +-0.1, +-0.2).
  heatmap.values = {{0.2, 0.15, -0.15, -0.2}, {0.2, 0.15, -0.15, -0.2}};
  write_heatmap(heatmap, dir / "plain");
  heatmap.column_breaks = {2};
  heatmap.legend_title = "scale";
  write_heatmap(heatmap, dir / "break");
  const auto dark_between = [&](const std::string& name) {
    const testing::Image image = testing::read_png(dir / (name + ".png"));
    const testing::PixelSet left_cells = testing::pixels_of(image, diverging_color(0.15, 0.2));
    const int left = *std::max_element(left_cells.xs.begin(), left_cells.xs.end());
    const testing::PixelSet right_cells = testing::pixels_of(image, diverging_color(-0.15, 0.2));
    const int right = *std::min_element(right_cells.xs.begin(), right_cells.xs.end());
    size_t dark = 0;
    for (int x = left - 2; x <= right + 2; ++x)
      for (int y = 0; y < image.height; ++y) dark += testing::close_to(image.at(x, y), {38, 38, 38}, 6);
    return dark;
  };
  EXPECT_EQ(dark_between("plain"), 0u);
  // At least the two cells' height: 2 rows of tens of pixels, 3 pixels wide.
  EXPECT_GT(dark_between("break"), 150u);
  EXPECT_EQ(testing::svg_glyph_count(io::read_file(dir / "break.svg")),
            testing::svg_glyph_count(io::read_file(dir / "plain.svg")) + 5);
}

TEST(Heatmap, RejectsBadInput) {
  testing::TempDir dir;
  Heatmap heatmap;
  heatmap.columns = {"en", "zh"};
  heatmap.rows = {"a"};
  heatmap.values = {{0.1}};
  EXPECT_NE(testing::error_of([&] { write_heatmap(heatmap, dir / "h"); }).find("does not have 2 cells"), std::string::npos);
  heatmap.values = {{0.1, std::nan("")}};
  EXPECT_NE(testing::error_of([&] { write_heatmap(heatmap, dir / "h"); }).find("non-finite"), std::string::npos);
  heatmap.values = {{0.1, 0.2}};
  for (size_t column : {size_t{0}, size_t{2}}) {
    heatmap.column_breaks = {column};
    EXPECT_NE(testing::error_of([&] { write_heatmap(heatmap, dir / "h"); }).find("column break"), std::string::npos);
  }
  heatmap.column_breaks.clear();
  heatmap.rows.clear();
  heatmap.values.clear();
  EXPECT_NE(testing::error_of([&] { write_heatmap(heatmap, dir / "h"); }).find("no rows"), std::string::npos);
}

}  // namespace
}  // namespace qtalign::plot
