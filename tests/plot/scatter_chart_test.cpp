#include "plot/scatter_chart.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/image_probe.h"
#include "support/test_support.h"

namespace qtalign::plot {
namespace {

// Points drawn translucently keep their hue: strongly red or strongly blue pixels.
bool reddish(const testing::Rgb& pixel) { return pixel.red > 200 && pixel.green < 110 && pixel.blue < 110; }
bool bluish(const testing::Rgb& pixel) { return pixel.blue > 200 && pixel.red < 110 && pixel.green < 110; }

ScatterChart two_clusters() {
  ScatterChart chart;
  chart.title = "PCA, layer 12";
  chart.x_label = "PC1";
  chart.y_label = "PC2";
  PointGroup top_left{"zh", {}, {}, Color{1.0, 0.0, 0.0}};
  PointGroup bottom_right{"en", {}, {}, Color{0.0, 0.0, 1.0}};
  for (int i = 0; i < 10; ++i) {
    top_left.x.push_back(-5.0 + 0.2 * (i % 3));
    top_left.y.push_back(5.0 + 0.3 * (i / 3));
    bottom_right.x.push_back(5.0 - 0.2 * (i % 3));
    bottom_right.y.push_back(-5.0 - 0.3 * (i / 3));
  }
  chart.groups = {top_left, bottom_right};
  return chart;
}

TEST(ScatterChart, DrawsEachGroupWhereItsPointsAre) {
  testing::TempDir dir;
  const ScatterChart chart = two_clusters();
  write_scatter_chart(chart, dir / "pca");
  EXPECT_TRUE(testing::has_png_signature(io::read_file(dir / "pca.png")));
  const testing::Image image = testing::read_png(dir / "pca.png");
  EXPECT_EQ(image.width, chart.width);
  EXPECT_EQ(image.height, chart.height);
  const testing::PixelSet red = testing::find_pixels(image, reddish);
  const testing::PixelSet blue = testing::find_pixels(image, bluish);
  ASSERT_GT(red.size(), 100u);
  ASSERT_GT(blue.size(), 100u);
  // Same number and size of points: similar ink.
  EXPECT_NEAR(static_cast<double>(red.size()) / blue.size(), 1.0, 0.1);
  // zh is up and left of en (device y grows downwards), by much of the plot.
  EXPECT_LT(testing::median(red.xs), testing::median(blue.xs) - image.width / 3);
  EXPECT_LT(testing::median(red.ys), testing::median(blue.ys) - image.height / 3);

  const std::string svg = io::read_file(dir / "pca.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_TRUE(testing::svg_uses_color(svg, Color{1.0, 0.0, 0.0}));
  EXPECT_TRUE(testing::svg_uses_color(svg, Color{0.0, 0.0, 1.0}));
}

TEST(ScatterChart, AGroupWithoutPointsStillGetsItsLegendEntry) {
  testing::TempDir dir;
  ScatterChart chart = two_clusters();
  chart.groups.push_back(PointGroup{"sw", {}, {}, Color{0.0, 0.8, 0.0}});
  write_scatter_chart(chart, dir / "pca");
  const testing::Image image = testing::read_png(dir / "pca.png");
  const testing::PixelSet green = testing::pixels_of(image, Color{0.0, 0.8, 0.0});
  EXPECT_GT(green.size(), 20u);   // the legend dot
  EXPECT_LT(green.size(), 200u);  // and nothing else
}

TEST(ScatterChart, RejectsBadInput) {
  testing::TempDir dir;
  ScatterChart nothing;
  EXPECT_THROW(write_scatter_chart(nothing, dir / "a"), Error);
  ScatterChart only_empty_groups;
  only_empty_groups.groups = {PointGroup{"en", {}, {}, {}}};
  EXPECT_THROW(write_scatter_chart(only_empty_groups, dir / "b"), Error);
  ScatterChart mismatched = two_clusters();
  mismatched.groups[1].y.pop_back();
  EXPECT_THROW(write_scatter_chart(mismatched, dir / "c"), Error);
  ScatterChart not_finite = two_clusters();
  not_finite.groups[0].x[0] = std::nan("");
  EXPECT_THROW(write_scatter_chart(not_finite, dir / "d"), Error);
  EXPECT_TRUE(testing::directory_entries(dir.path()).empty());
}

}  // namespace
}  // namespace qtalign::plot
