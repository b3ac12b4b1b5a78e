#pragma once
// Heatmaps of a signed quantity over two categorical axes, e.g. the accuracy change of each
// configuration (rows) in each language (columns): a diverging colour scale symmetric about zero
// (red below, white at zero, blue above) that spans the data (its largest magnitude, or a floor),
// each cell annotated with its value, missing cells grey, optional lines between column groups.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "plot/style.h"

namespace qtalign::plot {

struct Heatmap {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> columns;               // along x, left to right
  std::vector<std::string> rows;                  // along y, top to bottom
  std::vector<std::vector<std::optional<double>>> values;  // [row][column]; nullopt: no value (grey)
  std::vector<std::vector<bool>> marked;          // empty, or [row][column]: draw a dot (e.g. significant)
  double value_scale = 1.0;                       // annotation = value * value_scale
  std::string value_format = "{:+.1f}";           // fmt format of the annotation
  std::optional<double> limit;                    // colour saturates at +-limit (default: max |value|)
  double min_limit = 0.0;                         // the default limit is at least this (an all-zero map's)
  std::string legend_title;                       // a line above the colour keys, e.g. what sets the scale
  std::vector<size_t> column_breaks;              // a dark line before each of these columns (0 < c < n)
  int width = 0;                                  // 0: from the number of columns (at least 720)
  int height = 0;                                 // 0: from the number of rows
};

// The scale's colour of `value` on [-limit, limit]: red (#b2182b) at -limit, white at 0, blue
// (#2166ac) at +limit, linear in between, clamped outside.
Color diverging_color(double value, double limit);

// The colour scale's half-width: `limit` when set, else the largest |value| but at least min_limit
// (1 when both are zero, so that a map of zeros still has a scale).
double heatmap_limit(const Heatmap& heatmap);

// Writes stem.png and stem.svg atomically; throws Error on no rows or columns, a row whose length
// differs from the columns, a non-finite value, a column break outside the columns or an unwritable
// destination.
void write_heatmap(const Heatmap& heatmap, const std::filesystem::path& stem);

}  // namespace qtalign::plot
