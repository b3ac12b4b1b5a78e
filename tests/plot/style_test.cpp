#include "plot/style.h"

#include <gtest/gtest.h>

#include <cmath>

namespace qtalign::plot {
namespace {

double distance(const Color& a, const Color& b) {
  return std::sqrt(std::pow(a.red - b.red, 2) + std::pow(a.green - b.green, 2) +
                   std::pow(a.blue - b.blue, 2));
}

TEST(Palette, TwentyDistinctColoursThenRepeats) {
  for (std::size_t i = 0; i < 20; ++i) {
    for (std::size_t j = i + 1; j < 20; ++j)
      EXPECT_GT(distance(palette_color(i), palette_color(j)), 0.15) << i << " vs " << j;
    // Every colour stands out from a white background.
    EXPECT_GT(distance(palette_color(i), Color{1.0, 1.0, 1.0}), 0.4) << i;
  }
  EXPECT_DOUBLE_EQ(distance(palette_color(3), palette_color(23)), 0.0);
}

TEST(SequentialColor, RunsFromDarkToLightAndClamps) {
  const auto luminance = [](const Color& c) { return 0.2126 * c.red + 0.7152 * c.green + 0.0722 * c.blue; };
  double previous = -1.0;
  for (int i = 0; i <= 20; ++i) {
    const double current = luminance(sequential_color(i / 20.0));
    EXPECT_GT(current, previous) << i;
    previous = current;
  }
  // Viridis' published end points: #440154 and #fde725.
  EXPECT_NEAR(sequential_color(0.0).red, 0x44 / 255.0, 1e-12);
  EXPECT_NEAR(sequential_color(1.0).green, 0xe7 / 255.0, 1e-12);
  EXPECT_DOUBLE_EQ(distance(sequential_color(-3.0), sequential_color(0.0)), 0.0);
  EXPECT_DOUBLE_EQ(distance(sequential_color(7.0), sequential_color(1.0)), 0.0);
}

}  // namespace
}  // namespace qtalign::plot
