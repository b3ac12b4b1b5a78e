#include "plot/figure.h"

#include <gtest/gtest.h>

#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/image_probe.h"
#include "support/test_support.h"

namespace qtalign::plot {
namespace {

void expect_ticks(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size()) << ::testing::PrintToString(actual);
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-12);
}

TEST(NiceTicks, PicksRoundStepsInsideTheRange) {
  // span 1 / 6 ticks = 0.167 -> the next round step is 0.2.
  expect_ticks(nice_ticks(0.0, 1.0), {0.0, 0.2, 0.4, 0.6, 0.8, 1.0});
  // 27 / 6 = 4.5 -> 5.
  expect_ticks(nice_ticks(0.0, 27.0), {0.0, 5.0, 10.0, 15.0, 20.0, 25.0});
  // 0.1 / 6 = 0.0167 -> 0.02; the first multiple of 0.02 at or above -0.013 is 0.
  expect_ticks(nice_ticks(-0.013, 0.087), {0.0, 0.02, 0.04, 0.06, 0.08});
  // 9 / 6 = 1.5 -> 2.
  expect_ticks(nice_ticks(-4.5, 4.5), {-4.0, -2.0, 0.0, 2.0, 4.0});
  // 2.2 / 6 = 0.367 -> 0.5 (2.5 x 10^-1 is below it).
  expect_ticks(nice_ticks(1.1, 3.3), {1.5, 2.0, 2.5, 3.0});
  // 0.0125 / 6 = 0.00208 -> 0.0025.
  expect_ticks(nice_ticks(0.0, 0.0125), {0.0, 0.0025, 0.005, 0.0075, 0.01, 0.0125});
}

TEST(NiceTicks, WidensAZeroWidthRangeAndRejectsBadOnes) {
  const std::vector<double> ticks = nice_ticks(3.0, 3.0);
  ASSERT_GE(ticks.size(), 2u);
  EXPECT_LE(ticks.front(), 3.0);
  EXPECT_GE(ticks.back(), 3.0);
  EXPECT_THROW(nice_ticks(2.0, 1.0), Error);
  EXPECT_THROW(nice_ticks(0.0, std::nan("")), Error);
}

TEST(FormatTick, UsesTheDecimalsTheStepNeeds) {
  EXPECT_EQ(format_tick(0.25, 0.25), "0.25");
  EXPECT_EQ(format_tick(1.0, 0.2), "1.0");
  EXPECT_EQ(format_tick(-3.0, 1.0), "-3");
  EXPECT_EQ(format_tick(2500.0, 500.0), "2500");
  EXPECT_EQ(format_tick(0.0, 0.1), "0");
  EXPECT_EQ(format_tick(-1e-17, 0.1), "0");
  EXPECT_EQ(format_tick(2e-5, 1e-5), "2e-05");
  EXPECT_EQ(format_tick(3e6, 1e6), "3e+06");
}

TEST(Axes, MapsTheAxisRangeOntoThePlottingAreaBesideTheLegend) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 800, 500);
  cairo_t* cr = cairo_create(surface);
  Frame frame;
  frame.title = "title";
  frame.x = numeric_axis("x", 10.0, 20.0);
  frame.y = numeric_axis("y", -1.0, 1.0);
  frame.legend = {LegendEntry{"a rather long legend label", Color{}}};
  const Axes axes(cr, 800, 500, frame);
  const Rect area = axes.area();
  EXPECT_DOUBLE_EQ(axes.device_x(10.0), area.left);
  EXPECT_DOUBLE_EQ(axes.device_x(20.0), area.right());
  EXPECT_DOUBLE_EQ(axes.device_x(15.0), area.left + area.width / 2.0);
  EXPECT_DOUBLE_EQ(axes.device_y(-1.0), area.bottom());
  EXPECT_DOUBLE_EQ(axes.device_y(1.0), area.top);
  // The legend sits right of the plot, so the plot ends well before the canvas edge.
  EXPECT_LT(area.right() + text_width(cr, "a rather long legend label"), 800.0);
  EXPECT_GT(area.left, 30.0);  // room for tick labels and the y label
  EXPECT_GT(area.width, 400.0);
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
}

TEST(RenderFigure, WritesTheSamePictureAsPngAndSvg) {
  testing::TempDir dir;
  render_figure(dir / "square.v1", 100, 80, [](cairo_t* cr) {
    cairo_set_source_rgb(cr, 0.0, 0.5, 1.0);
    cairo_paint(cr);
  });
  // The stem keeps its dots: the suffix is appended, not substituted.
  const testing::Image image = testing::read_png(dir / "square.v1.png");
  EXPECT_EQ(image.width, 100);
  EXPECT_EQ(image.height, 80);
  EXPECT_TRUE(testing::close_to(image.at(50, 40), testing::to_bytes(Color{0.0, 0.5, 1.0})));
  const std::string svg = io::read_file(dir / "square.v1.svg");
  EXPECT_NE(svg.find("width=\"100pt\" height=\"80pt\""), std::string::npos) << svg.substr(0, 300);
  EXPECT_TRUE(testing::svg_uses_color(svg, Color{0.0, 0.5, 1.0}));
}

TEST(RenderFigure, AFailedDrawingWritesNothing) {
  testing::TempDir dir;
  EXPECT_THROW(render_figure(dir / "broken", 100, 80,
                             [](cairo_t*) { throw Error("drawing failed"); }),
               Error);
  EXPECT_THROW(render_figure(dir / "tiny", 10, 10, [](cairo_t*) {}), Error);
  EXPECT_TRUE(testing::directory_entries(dir.path()).empty());
}

}  // namespace
}  // namespace qtalign::plot
