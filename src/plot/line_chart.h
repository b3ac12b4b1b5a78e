#pragma once
// Line charts: loss curves, logit-lens probabilities per layer, similarity per layer.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plot/style.h"

namespace qtalign::plot {

// One named curve (an empty name keeps it out of the legend); `lower`/`upper` (both empty, or both as long as x) draw a translucent band.
struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  std::vector<double> lower;
  std::vector<double> upper;
  std::optional<Color> color;  // palette_color(series index) when unset
  LineStyle style = LineStyle::solid;
  bool markers = false;  // a dot at every point
};

// A coloured row under the plot, one cell per x (e.g. entropy per layer), with its own scale.
struct HeatStrip {
  std::string label;
  std::vector<double> x;
  std::vector<double> values;
  // The values the scale's ends stand for; the data's own range when unset (which makes tiny
  // differences look large, so quantities with a natural range should give it).
  std::optional<double> scale_min;
  std::optional<double> scale_max;
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  std::optional<HeatStrip> heat_strip;
  // Legend entries after the series', drawn in grey: what each line style means (e.g. "tuned" solid,
  // "base" dashed) when colours name something else.
  std::vector<std::pair<std::string, LineStyle>> style_key;
  std::optional<double> y_min;  // axis limits; from the data (bands included) when unset
  std::optional<double> y_max;
  int width = 960;              // pixels in the PNG, points in the SVG
  int height = 600;
};

// Writes stem.png and stem.svg atomically; throws Error on empty series, mismatched lengths,
// non-finite values or an unwritable destination.
void write_line_chart(const LineChart& chart, const std::filesystem::path& stem);

}  // namespace qtalign::plot
