#include "plot/heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "io/error.h"
#include "plot/figure.h"

namespace qtalign::plot {
namespace {

constexpr Color kNegative{0xb2 / 255.0, 0x18 / 255.0, 0x2b / 255.0};
constexpr Color kPositive{0x21 / 255.0, 0x66 / 255.0, 0xac / 255.0};
constexpr Color kMissing{0.85, 0.85, 0.85};
constexpr Color kBreak{0.15, 0.15, 0.15};
constexpr int kLegendSteps = 5;  // colour keys from -limit to +limit

void validate(const Heatmap& heatmap, const std::filesystem::path& stem) {
  if (heatmap.rows.empty() || heatmap.columns.empty()) fail_at(stem, "heatmap has no rows or no columns");
  if (heatmap.values.size() != heatmap.rows.size())
    fail_at(stem, fmt::format("heatmap has {} rows but {} rows of values", heatmap.rows.size(), heatmap.values.size()));
  if (!heatmap.marked.empty() && heatmap.marked.size() != heatmap.rows.size())
    fail_at(stem, fmt::format("heatmap has {} rows but {} rows of marks", heatmap.rows.size(), heatmap.marked.size()));
  for (size_t r = 0; r < heatmap.values.size(); ++r) {
    if (heatmap.values[r].size() != heatmap.columns.size() ||
        (!heatmap.marked.empty() && heatmap.marked[r].size() != heatmap.columns.size()))
      fail_at(stem, fmt::format("heatmap row '{}' does not have {} cells", heatmap.rows[r], heatmap.columns.size()));
    for (const std::optional<double>& value : heatmap.values[r])
      if (value && !std::isfinite(*value))
        fail_at(stem, fmt::format("heatmap row '{}' has a non-finite value", heatmap.rows[r]));
  }
  for (size_t column : heatmap.column_breaks)
    if (column == 0 || column >= heatmap.columns.size())
      fail_at(stem, fmt::format("heatmap column break {} is not between two of its {} columns", column,
                                heatmap.columns.size()));
}

Color mix(const Color& from, const Color& to, double t) {
  return {from.red + (to.red - from.red) * t, from.green + (to.green - from.green) * t,
          from.blue + (to.blue - from.blue) * t};
}

// Black on light cells, white on dark ones.
Color text_color(const Color& background) {
  const double luminance = 0.299 * background.red + 0.587 * background.green + 0.114 * background.blue;
  return luminance < 0.5 ? Color{1, 1, 1} : Color{0.1, 0.1, 0.1};
}

}  // namespace

Color diverging_color(double value, double limit) {
  if (!(limit > 0.0)) return {1, 1, 1};
  const double t = std::clamp(value / limit, -1.0, 1.0);
  return t < 0 ? mix({1, 1, 1}, kNegative, -t) : mix({1, 1, 1}, kPositive, t);
}

double heatmap_limit(const Heatmap& heatmap) {
  if (heatmap.limit) return *heatmap.limit;
  double limit = heatmap.min_limit;
  for (const auto& row : heatmap.values)
    for (const std::optional<double>& value : row)
      if (value) limit = std::max(limit, std::abs(*value));
  return limit > 0.0 ? limit : 1.0;
}

void write_heatmap(const Heatmap& heatmap, const std::filesystem::path& stem) {
  validate(heatmap, stem);
  const double limit = heatmap_limit(heatmap);

  Frame frame;
  frame.title = heatmap.title;
  frame.x = category_axis(heatmap.x_label, heatmap.columns);
  std::vector<std::string> bottom_up(heatmap.rows.rbegin(), heatmap.rows.rend());  // y grows upwards
  frame.y = category_axis(heatmap.y_label, bottom_up);
  if (!heatmap.legend_title.empty()) frame.legend.push_back(LegendEntry{heatmap.legend_title, {}, LegendMark::none});
  for (int step = 0; step < kLegendSteps; ++step) {
    const double value = -limit + 2.0 * limit * step / (kLegendSteps - 1);
    frame.legend.push_back(LegendEntry{fmt::format(fmt::runtime(heatmap.value_format), value * heatmap.value_scale),
                                       diverging_color(value, limit), LegendMark::box});
  }
  if (!heatmap.marked.empty()) frame.legend.push_back(LegendEntry{"significant", {0.1, 0.1, 0.1}, LegendMark::dot});

  const int width = heatmap.width > 0 ? heatmap.width : std::max(720, 260 + 52 * static_cast<int>(heatmap.columns.size()));
  const int height = heatmap.height > 0 ? heatmap.height : 200 + 44 * static_cast<int>(heatmap.rows.size());
  const size_t rows = heatmap.rows.size();
  render_figure(stem, width, height, [&](cairo_t* cr) {
    const Axes axes(cr, width, height, frame);
    axes.draw_background(cr);
    axes.clip_to_area(cr);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < heatmap.columns.size(); ++c) {
        const double y = static_cast<double>(rows - 1 - r);
        const double left = axes.device_x(double(c)), right = axes.device_x(double(c + 1));
        const double top = axes.device_y(y + 1), bottom = axes.device_y(y);
        const std::optional<double>& value = heatmap.values[r][c];
        const Color fill = value ? diverging_color(*value, limit) : kMissing;
        cairo_rectangle(cr, left, top, right - left, bottom - top);
        cairo_set_source_rgb(cr, fill.red, fill.green, fill.blue);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        set_line_style(cr, LineStyle::solid, 1.0);
        cairo_stroke(cr);
        if (!value) continue;
        TextStyle style;
        style.size = 12.0;
        style.color = text_color(fill);
        draw_text(cr, fmt::format(fmt::runtime(heatmap.value_format), *value * heatmap.value_scale), (left + right) / 2,
                  (top + bottom) / 2, HAlign::center, VAlign::middle, style);
        if (!heatmap.marked.empty() && heatmap.marked[r][c]) {
          cairo_new_path(cr);
          cairo_arc(cr, right - 5, top + 5, 2.5, 0, 2 * M_PI);
          cairo_set_source_rgb(cr, style.color.red, style.color.green, style.color.blue);
          cairo_fill(cr);
        }
      }
    cairo_set_source_rgb(cr, kBreak.red, kBreak.green, kBreak.blue);
    set_line_style(cr, LineStyle::solid, 3.0);
    for (size_t column : heatmap.column_breaks) {
      const double x = std::round(axes.device_x(double(column)));
      cairo_move_to(cr, x, axes.area().top);
      cairo_line_to(cr, x, axes.area().bottom());
    }
    cairo_stroke(cr);
    cairo_restore(cr);
    axes.draw_furniture(cr);
  });
}

}  // namespace qtalign::plot
