#include "plot/bar_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "io/error.h"
#include "plot/figure.h"
#include "plot/range.h"

namespace qtalign::plot {
namespace {

constexpr double kGroupShare = 0.8;  // of a category's slot; the rest separates categories
constexpr double kBarGap = 1.0;      // pixels between neighbouring bars of one category

void validate(const BarChart& chart, const std::filesystem::path& stem) {
  if (chart.categories.empty()) fail_at(stem, "bar chart has no categories");
  if (chart.groups.empty()) fail_at(stem, "bar chart has no groups");
  for (const BarGroup& group : chart.groups) {
    const std::string where = fmt::format("bar chart group '{}'", group.name);
    if (group.values.size() != chart.categories.size())
      fail_at(stem, fmt::format("{} has {} values for {} categories", where, group.values.size(),
                                chart.categories.size()));
    if (group.lower.size() != group.upper.size() ||
        (!group.lower.empty() && group.lower.size() != chart.categories.size()))
      fail_at(stem, fmt::format("{}: its error bars need one lower and one upper value per category",
                                where));
    require_finite(group.values, stem, where);
    require_finite(group.lower, stem, where);
    require_finite(group.upper, stem, where);
  }
  for (const ReferenceLine& line : chart.reference_lines)
    require_finite(std::vector<double>{line.value}, stem, fmt::format("bar chart reference line '{}'", line.label));
}

std::string value_text(double value) { return fmt::format("{:.3g}", value); }

// The value axis's limits: zero and every value, interval end and reference line, with headroom on
// the side away from zero (bars grow from zero), unless the chart fixes them.
std::pair<double, double> value_limits(const BarChart& chart, const std::filesystem::path& stem) {
  DataRange data;
  data.include(0.0);
  for (const BarGroup& group : chart.groups) {
    data.include(group.values);
    data.include(group.lower);
    data.include(group.upper);
  }
  for (const ReferenceLine& line : chart.reference_lines) data.include(line.value);
  // More room with value labels.
  const double headroom = chart.value_labels ? 0.1 : 0.05;
  const double span = std::max(data.high - data.low, 1e-12);
  const double y_low = chart.y_min.value_or(data.low < 0.0 ? data.low - headroom * span : 0.0);
  const double y_high = chart.y_max.value_or(data.high > 0.0 ? data.high + headroom * span : 0.0);
  return padded_limits(data, y_low, y_high, stem);
}

// The frame of the chart: title, axes and a legend entry per group (in `colors`) and reference line.
Frame bar_frame(const BarChart& chart, double axis_low, double axis_high, const std::vector<Color>& colors) {
  Frame frame;
  frame.title = chart.title;
  frame.x = category_axis(chart.x_label, chart.categories);
  frame.y = numeric_axis(chart.y_label, axis_low, axis_high);
  for (std::size_t g = 0; g < chart.groups.size(); ++g)
    frame.legend.push_back(LegendEntry{chart.groups[g].name, colors[g], LegendMark::box});
  for (const ReferenceLine& line : chart.reference_lines)
    frame.legend.push_back(LegendEntry{line.label, line.color, LegendMark::line, LineStyle::dashed});
  return frame;
}

// Where the bars of a chart lie on its axes.
struct BarLayout {
  const Axes& axes;
  double bar_width;
  double baseline;  // the device y of zero (or the axis end nearest it)

  double left(std::size_t g, std::size_t c) const {
    return axes.device_x(c + (1.0 - kGroupShare) / 2.0) + g * bar_width;
  }
  double centre(std::size_t g, std::size_t c) const {
    return axes.device_x(c + (1.0 - kGroupShare) / 2.0) + (g + 0.5) * bar_width;
  }
};

void draw_bars(cairo_t* cr, const BarChart& chart, const BarLayout& layout, const std::vector<Color>& colors) {
  for (std::size_t g = 0; g < chart.groups.size(); ++g) {
    const BarGroup& group = chart.groups[g];
    for (std::size_t c = 0; c < chart.categories.size(); ++c) {
      const double left = layout.left(g, c);
      const double top = layout.axes.device_y(group.values[c]);
      cairo_set_source_rgb(cr, colors[g].red, colors[g].green, colors[g].blue);
      cairo_rectangle(cr, left + kBarGap / 2.0, std::min(top, layout.baseline), layout.bar_width - kBarGap,
                      std::abs(layout.baseline - top));
      cairo_fill(cr);
    }
  }
}

void draw_error_bars(cairo_t* cr, const BarChart& chart, const BarLayout& layout) {
  const Axes& axes = layout.axes;
  for (std::size_t g = 0; g < chart.groups.size(); ++g) {
    const BarGroup& group = chart.groups[g];
    for (std::size_t c = 0; c < chart.categories.size() && !group.lower.empty(); ++c) {
      const double centre = layout.centre(g, c);
      const double cap = std::min(layout.bar_width * 0.25, 5.0);
      cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
      set_line_style(cr, LineStyle::solid, 1.2);
      for (double end : {group.lower[c], group.upper[c]}) {
        cairo_move_to(cr, centre - cap, axes.device_y(end));
        cairo_line_to(cr, centre + cap, axes.device_y(end));
      }
      cairo_move_to(cr, centre, axes.device_y(group.lower[c]));
      cairo_line_to(cr, centre, axes.device_y(group.upper[c]));
      cairo_stroke(cr);
    }
  }
}

void draw_reference_lines(cairo_t* cr, const BarChart& chart, const Axes& axes) {
  for (const ReferenceLine& line : chart.reference_lines) {
    const double y = std::floor(axes.device_y(line.value)) + 0.5;
    cairo_set_source_rgb(cr, line.color.red, line.color.green, line.color.blue);
    set_line_style(cr, LineStyle::dashed, 1.5);
    cairo_move_to(cr, axes.area().left, y);
    cairo_line_to(cr, axes.area().right(), y);
    cairo_stroke(cr);
  }
}

void draw_value_labels(cairo_t* cr, const BarChart& chart, const BarLayout& layout) {
  const TextStyle label_style{std::clamp(layout.bar_width * 0.75, 8.0, 11.0), false, Color{0.2, 0.2, 0.2}};
  double widest = 0.0;
  for (const BarGroup& group : chart.groups)
    for (double value : group.values) widest = std::max(widest, text_width(cr, value_text(value), label_style));
  // Labels wider than their bar are turned upright so neighbours never overlap.
  const bool upright = widest > layout.bar_width - 1.0;
  for (std::size_t g = 0; g < chart.groups.size(); ++g) {
    for (std::size_t c = 0; c < chart.categories.size(); ++c) {
      const BarGroup& group = chart.groups[g];
      const double value = group.values[c];
      const double centre = layout.centre(g, c);
      // Beyond the bar's end, or beyond its error bar when that reaches further.
      const double end = group.lower.empty() ? value
                         : value >= 0.0      ? std::max(value, group.upper[c])
                                             : std::min(value, group.lower[c]);
      const double top = layout.axes.device_y(end) - 3.0 * (value >= 0.0 ? 1.0 : -1.0);
      const std::string text = value_text(value);
      if (upright) {
        draw_text(cr, text, centre, top, value >= 0.0 ? HAlign::left : HAlign::right, VAlign::middle, label_style,
                  -M_PI / 2.0);
      } else {
        draw_text(cr, text, centre, top, HAlign::center, value >= 0.0 ? VAlign::bottom : VAlign::top, label_style);
      }
    }
  }
}

// The zero line, drawn over the bars.
void draw_baseline(cairo_t* cr, const Axes& axes, double baseline) {
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  set_line_style(cr, LineStyle::solid, 1.0);
  cairo_move_to(cr, axes.area().left, std::floor(baseline) + 0.5);
  cairo_line_to(cr, axes.area().right(), std::floor(baseline) + 0.5);
  cairo_stroke(cr);
}

}  // namespace

void write_bar_chart(const BarChart& chart, const std::filesystem::path& stem) {
  validate(chart, stem);
  const std::size_t categories = chart.categories.size();
  const std::size_t groups = chart.groups.size();
  const int width = chart.width > 0
                        ? chart.width
                        : std::max(960, static_cast<int>(260 + categories * (groups * 16 + 12)));
  const auto [axis_low, axis_high] = value_limits(chart, stem);
  std::vector<Color> colors;
  for (std::size_t g = 0; g < groups; ++g) colors.push_back(chart.groups[g].color.value_or(palette_color(g)));
  const Frame frame = bar_frame(chart, axis_low, axis_high, colors);
  const bool all_zero = std::all_of(chart.groups.begin(), chart.groups.end(), [](const BarGroup& group) {
    return std::all_of(group.values.begin(), group.values.end(), [](double value) { return value == 0.0; });
  });

  const double zero_on_axis = std::clamp(0.0, axis_low, axis_high);
  render_figure(stem, width, chart.height, [&](cairo_t* cr) {
    const Axes axes(cr, width, chart.height, frame);
    axes.draw_background(cr);
    const double slot = axes.device_x(1.0) - axes.device_x(0.0);
    const BarLayout layout{axes, slot * kGroupShare / groups, axes.device_y(zero_on_axis)};
    axes.clip_to_area(cr);
    draw_bars(cr, chart, layout, colors);
    draw_error_bars(cr, chart, layout);
    draw_reference_lines(cr, chart, axes);
    cairo_restore(cr);
    if (chart.value_labels) draw_value_labels(cr, chart, layout);
    // Bars of zero height leave the plot looking empty, as if nothing had been drawn.
    if (all_zero && !chart.zero_note.empty())
      draw_text(cr, chart.zero_note, axes.area().left + axes.area().width / 2.0, axes.area().top + axes.area().height / 4.0,
                HAlign::center, VAlign::middle, TextStyle{16.0, false, Color{0.35, 0.35, 0.35}});
    draw_baseline(cr, axes, layout.baseline);
    axes.draw_furniture(cr);
  });
}

}  // namespace qtalign::plot
