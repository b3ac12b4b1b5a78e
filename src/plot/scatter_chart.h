#pragma once
// Scatter plots of labelled point groups: the 2-D PCA of hidden states, coloured by language.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "plot/style.h"

namespace qtalign::plot {

// The points of one group (e.g. one language), drawn in one colour with one legend entry.
struct PointGroup {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  std::optional<Color> color;  // palette_color(group index) when unset
};

struct ScatterChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PointGroup> groups;
  double point_radius = 3.5;
  int width = 900;
  int height = 720;
};

// Writes stem.png and stem.svg atomically; throws Error when there are no points, a group's x and
// y differ in length, a value is non-finite or the destination is unwritable.
void write_scatter_chart(const ScatterChart& chart, const std::filesystem::path& stem);

}  // namespace qtalign::plot
