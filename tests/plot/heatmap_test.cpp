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

TEST(Heatmap, RejectsBadInput) {
  testing::TempDir dir;
  Heatmap heatmap;
  heatmap.columns = {"en", "zh"};
  heatmap.rows = {"a"};
  heatmap.values = {{0.1}};
  EXPECT_NE(testing::error_of([&] { write_heatmap(heatmap, dir / "h"); }).find("does not have 2 cells"), std::string::npos);
  heatmap.values = {{0.1, std::nan("")}};
  EXPECT_NE(testing::error_of([&] { write_heatmap(heatmap, dir / "h"); }).find("non-finite"), std::string::npos);
  heatmap.rows.clear();
  heatmap.values.clear();
  EXPECT_NE(testing::error_of([&] { write_heatmap(heatmap, dir / "h"); }).find("no rows"), std::string::npos);
}

}  // namespace
}  // namespace qtalign::plot
