#pragma once
// The visual vocabulary every chart shares: colours and line styles.
#include <cstddef>

namespace qtalign::plot {

// An opaque colour, each channel in [0, 1].
struct Color {
  double red = 0.0;
  double green = 0.0;
  double blue = 0.0;
};

enum class LineStyle { solid, dashed, dotted };

// Colour `index` of a qualitative palette: 20 mutually distinct colours readable on white (Tableau
// 10 first), cycling after 20 so language i keeps the same colour in every chart.
Color palette_color(std::size_t index);

// The viridis sequential colour map at t in [0, 1] (clamped): dark purple at 0, yellow at 1.
Color sequential_color(double t);

}  // namespace qtalign::plot
