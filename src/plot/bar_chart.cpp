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

}  // namespace

void write_bar_chart(const BarChart& chart, const std::filesystem::path& stem) {
  validate(chart, stem);
  const std::size_t categories = chart.categories.size();
  const std::size_t groups = chart.groups.size();
  const int width = chart.width > 0
                        ? chart.width
                        : std::max(960, static_cast<int>(260 + categories * (groups * 16 + 12)));

  DataRange data;
  data.include(0.0);
  for (const BarGroup& group : chart.groups) {
    data.include(group.values);
    data.include(group.lower);
    data.include(group.upper);
  }
  for (const ReferenceLine& line : chart.reference_lines) data.include(line.value);
  // Bars grow from zero, so only the side away from zero gets room (more with value labels).
  const double headroom = chart.value_labels ? 0.1 : 0.05;
  const double span = std::max(data.high - data.low, 1e-12);
  const double y_low = chart.y_min.value_or(data.low < 0.0 ? data.low - headroom * span : 0.0);
  const double y_high = chart.y_max.value_or(data.high > 0.0 ? data.high + headroom * span : 0.0);
  const auto [axis_low, axis_high] = padded_limits(data, y_low, y_high, stem);

  Frame frame;
  frame.title = chart.title;
  frame.x = category_axis(chart.x_label, chart.categories);
  frame.y = numeric_axis(chart.y_label, axis_low, axis_high);
  std::vector<Color> colors;
  for (std::size_t g = 0; g < groups; ++g) {
    colors.push_back(chart.groups[g].color.value_or(palette_color(g)));
    frame.legend.push_back(LegendEntry{chart.groups[g].name, colors.back(), LegendMark::box});
  }
  for (const ReferenceLine& line : chart.reference_lines)
    frame.legend.push_back(LegendEntry{line.label, line.color, LegendMark::line, LineStyle::dashed});
  const bool all_zero = std::all_of(chart.groups.begin(), chart.groups.end(), [](const BarGroup& group) {
    return std::all_of(group.values.begin(), group.values.end(), [](double value) { return value == 0.0; });
  });

  const double zero_on_axis = std::clamp(0.0, axis_low, axis_high);
  render_figure(stem, width, chart.height, [&](cairo_t* cr) {
    const Axes axes(cr, width, chart.height, frame);
    axes.draw_background(cr);
    const double slot = axes.device_x(1.0) - axes.device_x(0.0);
    const double bar_width = slot * kGroupShare / groups;
    const double baseline = axes.device_y(zero_on_axis);
    const TextStyle label_style{std::clamp(bar_width * 0.75, 8.0, 11.0), false,
                                Color{0.2, 0.2, 0.2}};
    axes.clip_to_area(cr);
    for (std::size_t g = 0; g < groups; ++g) {
      const BarGroup& group = chart.groups[g];
      for (std::size_t c = 0; c < categories; ++c) {
        const double left = axes.device_x(c + (1.0 - kGroupShare) / 2.0) + g * bar_width;
        const double top = axes.device_y(group.values[c]);
        cairo_set_source_rgb(cr, colors[g].red, colors[g].green, colors[g].blue);
        cairo_rectangle(cr, left + kBarGap / 2.0, std::min(top, baseline), bar_width - kBarGap,
                        std::abs(baseline - top));
        cairo_fill(cr);
      }
    }
    for (std::size_t g = 0; g < groups; ++g) {
      const BarGroup& group = chart.groups[g];
      for (std::size_t c = 0; c < categories && !group.lower.empty(); ++c) {
        const double centre = axes.device_x(c + (1.0 - kGroupShare) / 2.0) + (g + 0.5) * bar_width;
        const double cap = std::min(bar_width * 0.25, 5.0);
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
    for (const ReferenceLine& line : chart.reference_lines) {
      const double y = std::floor(axes.device_y(line.value)) + 0.5;
      cairo_set_source_rgb(cr, line.color.red, line.color.green, line.color.blue);
      set_line_style(cr, LineStyle::dashed, 1.5);
      cairo_move_to(cr, axes.area().left, y);
      cairo_line_to(cr, axes.area().right(), y);
      cairo_stroke(cr);
    }
    cairo_restore(cr);
    if (chart.value_labels) {
      double widest = 0.0;
      for (const BarGroup& group : chart.groups)
        for (double value : group.values)
          widest = std::max(widest, text_width(cr, value_text(value), label_style));
      // Labels wider than their bar are turned upright so neighbours never overlap.
      const bool upright = widest > bar_width - 1.0;
      for (std::size_t g = 0; g < groups; ++g) {
        for (std::size_t c = 0; c < categories; ++c) {
          const BarGroup& group = chart.groups[g];
          const double value = group.values[c];
          const double centre = axes.device_x(c + (1.0 - kGroupShare) / 2.0) + (g + 0.5) * bar_width;
          // Beyond the bar's end, or beyond its error bar when that reaches further.
          const double end = group.lower.empty() ? value
                             : value >= 0.0      ? std::max(value, group.upper[c])
                                                 : std::min(value, group.lower[c]);
          const double top = axes.device_y(end) - 3.0 * (value >= 0.0 ? 1.0 : -1.0);
          const std::string text = value_text(value);
          if (upright) {
            draw_text(cr, text, centre, top, value >= 0.0 ? HAlign::left : HAlign::right,
                      VAlign::middle, label_style, -M_PI / 2.0);
          } else {
            draw_text(cr, text, centre, top, HAlign::center,
                      value >= 0.0 ? VAlign::bottom : VAlign::top, label_style);
          }
        }
      }
    }
    // Bars of zero height leave the plot looking empty, as if nothing had been drawn.
    if (all_zero && !chart.zero_note.empty())
      draw_text(cr, chart.zero_note, axes.area().left + axes.area().width / 2.0, axes.area().top + axes.area().height / 4.0,
                HAlign::center, VAlign::middle, TextStyle{16.0, false, Color{0.35, 0.35, 0.35}});
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    set_line_style(cr, LineStyle::solid, 1.0);
    cairo_move_to(cr, axes.area().left, std::floor(baseline) + 0.5);
    cairo_line_to(cr, axes.area().right(), std::floor(baseline) + 0.5);
    cairo_stroke(cr);
    axes.draw_furniture(cr);
  });
}

}  // namespace qtalign::plot
