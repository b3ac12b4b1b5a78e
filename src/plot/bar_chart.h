#pragma once
// Grouped bar charts: per-language accuracy, base vs tuned.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "plot/style.h"

namespace qtalign::plot {

// One bar per category; `lower`/`upper` (both empty, or one per category) draw error bars.
struct BarGroup {
  std::string name;
  std::vector<double> values;
  std::vector<double> lower;
  std::vector<double> upper;
  std::optional<Color> color;  // palette_color(group index) when unset
};

// A dashed horizontal line across the plot at `value` (e.g. chance accuracy), named in the legend, where
// its label never covers a bar.
struct ReferenceLine {
  double value = 0.0;
  std::string label;
  Color color{0.35, 0.35, 0.35};
};

struct BarChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> categories;  // along x, e.g. language codes
  std::vector<BarGroup> groups;         // side by side within each category, e.g. base, tuned
  std::optional<double> y_min;          // axis limits; from the data (and 0) when unset
  std::optional<double> y_max;
  std::vector<ReferenceLine> reference_lines;  // drawn over the bars, inside the axis range
  bool value_labels = false;            // print each bar's value above it
  std::string zero_note;                // written across the plot when every bar is zero (e.g. "no change")
  int width = 0;                        // 0: wide enough for the categories (at least 960)
  int height = 600;
};

// Writes stem.png and stem.svg atomically; throws Error on no categories or groups, a group whose
// length differs from the categories, non-finite values (reference lines' included) or an unwritable
// destination.
void write_bar_chart(const BarChart& chart, const std::filesystem::path& stem);

}  // namespace qtalign::plot
