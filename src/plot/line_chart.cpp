#include "plot/line_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "io/error.h"
#include "plot/figure.h"
#include "plot/range.h"

namespace qtalign::plot {
namespace {

constexpr double kLineWidth = 2.2;
constexpr double kBandOpacity = 0.18;
constexpr double kStripHeight = 22.0;

void validate(const LineChart& chart, const std::filesystem::path& stem) {
  if (chart.series.empty()) fail_at(stem, "line chart has no series");
  for (const Series& series : chart.series) {
    const std::string where = fmt::format("line chart series '{}'", series.name);
    if (series.x.empty()) fail_at(stem, where + " has no points");
    if (series.y.size() != series.x.size())
      fail_at(stem, fmt::format("{} has {} x values but {} y values", where, series.x.size(),
                                series.y.size()));
    if (series.lower.size() != series.upper.size() ||
        (!series.lower.empty() && series.lower.size() != series.x.size()))
      fail_at(stem, fmt::format("{}: its band needs as many lower and upper values as points ({})",
                                where, series.x.size()));
    require_finite(series.x, stem, where);
    require_finite(series.y, stem, where);
    require_finite(series.lower, stem, where);
    require_finite(series.upper, stem, where);
  }
  if (chart.heat_strip) {
    const HeatStrip& strip = *chart.heat_strip;
    if (strip.x.empty() || strip.x.size() != strip.values.size())
      fail_at(stem, fmt::format("heat strip '{}' has {} x values and {} values (need equal, > 0)",
                                strip.label, strip.x.size(), strip.values.size()));
    require_finite(strip.x, stem, "heat strip");
    require_finite(strip.values, stem, "heat strip");
  }
}

void trace(cairo_t* cr, const Axes& axes, const std::vector<double>& x, const std::vector<double>& y) {
  for (std::size_t i = 0; i < x.size(); ++i) cairo_line_to(cr, axes.device_x(x[i]), axes.device_y(y[i]));
}

void draw_series(cairo_t* cr, const Axes& axes, const Series& series, const Color& color) {
  if (!series.lower.empty()) {
    cairo_new_path(cr);
    trace(cr, axes, series.x, series.upper);
    for (std::size_t i = series.x.size(); i-- > 0;)
      cairo_line_to(cr, axes.device_x(series.x[i]), axes.device_y(series.lower[i]));
    cairo_close_path(cr);
    cairo_set_source_rgba(cr, color.red, color.green, color.blue, kBandOpacity);
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, color.red, color.green, color.blue);
  cairo_new_path(cr);
  set_line_style(cr, series.style, kLineWidth);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  trace(cr, axes, series.x, series.y);
  cairo_stroke(cr);
  if (series.markers) {
    for (std::size_t i = 0; i < series.x.size(); ++i) {
      cairo_new_sub_path(cr);
      cairo_arc(cr, axes.device_x(series.x[i]), axes.device_y(series.y[i]), 3.2, 0.0, 2.0 * M_PI);
    }
    cairo_fill(cr);
  }
}

// Each value gets a cell reaching halfway to its neighbours; the end cells are as wide as their
// neighbour gap would make them.
void draw_heat_strip(cairo_t* cr, const Axes& axes, const HeatStrip& strip) {
  std::vector<std::size_t> order(strip.x.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return strip.x[a] < strip.x[b]; });
  const auto [data_low, data_high] = std::minmax_element(strip.values.begin(), strip.values.end());
  const double low = strip.scale_min.value_or(*data_low), high = strip.scale_max.value_or(*data_high);
  const double span = high - low;
  const Rect& row = axes.strip();
  cairo_save(cr);
  cairo_rectangle(cr, row.left, row.top, row.width, row.height);
  cairo_clip(cr);
  for (std::size_t k = 0; k < order.size(); ++k) {
    const double x = axes.device_x(strip.x[order[k]]);
    const double previous = k > 0 ? axes.device_x(strip.x[order[k - 1]]) : std::nan("");
    const double next = k + 1 < order.size() ? axes.device_x(strip.x[order[k + 1]]) : std::nan("");
    double half_left = std::isnan(previous) ? (std::isnan(next) ? row.width : next - x) / 2.0
                                            : (x - previous) / 2.0;
    double half_right = std::isnan(next) ? half_left : (next - x) / 2.0;
    if (std::isnan(previous)) half_left = half_right;
    const double t = span > 0.0 ? std::clamp((strip.values[order[k]] - low) / span, 0.0, 1.0) : 0.5;
    const Color color = sequential_color(t);
    cairo_set_source_rgb(cr, color.red, color.green, color.blue);
    // Half a pixel of overlap hides seams between neighbouring cells.
    cairo_rectangle(cr, x - half_left - 0.25, row.top, half_left + half_right + 0.5, row.height);
    cairo_fill(cr);
  }
  cairo_restore(cr);
  cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
  set_line_style(cr, LineStyle::solid, 1.0);
  cairo_rectangle(cr, std::floor(row.left) + 0.5, std::floor(row.top) + 0.5, std::round(row.width),
                  std::round(row.height));
  cairo_stroke(cr);

  // The colour scale: "min [gradient] max" beside the strip.
  const Rect& side = axes.strip_side();
  const TextStyle scale_style{11.0, false, Color{0.3, 0.3, 0.3}};
  const std::string low_text = fmt::format("{:.3g}", low);
  const std::string high_text = fmt::format("{:.3g}", high);
  const double low_width = text_width(cr, low_text, scale_style);
  const double gradient_left = side.left + low_width + 6.0;
  const double gradient_width =
      std::max(side.width - low_width - text_width(cr, high_text, scale_style) - 12.0, 20.0);
  const double middle = side.top + side.height / 2.0;
  draw_text(cr, low_text, side.left, middle, HAlign::left, VAlign::middle, scale_style);
  cairo_pattern_t* gradient =
      cairo_pattern_create_linear(gradient_left, 0.0, gradient_left + gradient_width, 0.0);
  for (int i = 0; i <= 8; ++i) {
    const Color color = sequential_color(i / 8.0);
    cairo_pattern_add_color_stop_rgb(gradient, i / 8.0, color.red, color.green, color.blue);
  }
  cairo_set_source(cr, gradient);
  cairo_rectangle(cr, gradient_left, middle - 5.0, gradient_width, 10.0);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);
  draw_text(cr, high_text, gradient_left + gradient_width + 6.0, middle, HAlign::left,
            VAlign::middle, scale_style);
}

}  // namespace

void write_line_chart(const LineChart& chart, const std::filesystem::path& stem) {
  validate(chart, stem);
  DataRange x_range;
  DataRange y_range;
  for (const Series& series : chart.series) {
    x_range.include(series.x);
    y_range.include(series.y);
    y_range.include(series.lower);
    y_range.include(series.upper);
  }
  if (chart.heat_strip) x_range.include(chart.heat_strip->x);

  Frame frame;
  frame.title = chart.title;
  frame.x = numeric_axis(chart.x_label, x_range.low, x_range.high);
  const auto [y_low, y_high] = padded_limits(y_range, chart.y_min, chart.y_max, stem);
  frame.y = numeric_axis(chart.y_label, y_low, y_high);
  std::vector<Color> colors;
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const Series& series = chart.series[i];
    colors.push_back(series.color.value_or(palette_color(i)));
    if (!series.name.empty())
      frame.legend.push_back(LegendEntry{series.name, colors.back(), LegendMark::line, series.style});
  }
  for (const auto& [label, style] : chart.style_key)
    frame.legend.push_back(LegendEntry{label, Color{0.35, 0.35, 0.35}, LegendMark::line, style});
  if (chart.heat_strip) {
    frame.strip_height = kStripHeight;
    frame.strip_label = chart.heat_strip->label;
  }

  render_figure(stem, chart.width, chart.height, [&](cairo_t* cr) {
    const Axes axes(cr, chart.width, chart.height, frame);
    axes.draw_background(cr);
    axes.clip_to_area(cr);
    for (std::size_t i = 0; i < chart.series.size(); ++i) draw_series(cr, axes, chart.series[i], colors[i]);
    cairo_restore(cr);
    if (chart.heat_strip) draw_heat_strip(cr, axes, *chart.heat_strip);
    axes.draw_furniture(cr);
  });
}

}  // namespace qtalign::plot
