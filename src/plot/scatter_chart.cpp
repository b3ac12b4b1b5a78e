#include "plot/scatter_chart.h"

#include <fmt/format.h>

#include <cmath>

#include "io/error.h"
#include "plot/figure.h"
#include "plot/range.h"

namespace qtalign::plot {
namespace {

constexpr double kPointOpacity = 0.75;

void validate(const ScatterChart& chart, const std::filesystem::path& stem) {
  std::size_t points = 0;
  for (const PointGroup& group : chart.groups) {
    const std::string where = fmt::format("scatter group '{}'", group.name);
    if (group.x.size() != group.y.size())
      fail_at(stem, fmt::format("{} has {} x values but {} y values", where, group.x.size(),
                                group.y.size()));
    require_finite(group.x, stem, where);
    require_finite(group.y, stem, where);
    points += group.x.size();
  }
  if (points == 0) fail_at(stem, "scatter chart has no points");
  if (!(chart.point_radius > 0.0 && chart.point_radius < 100.0))
    fail_at(stem, fmt::format("scatter point radius {} is outside (0, 100)", chart.point_radius));
}

}  // namespace

void write_scatter_chart(const ScatterChart& chart, const std::filesystem::path& stem) {
  validate(chart, stem);
  DataRange x_range;
  DataRange y_range;
  for (const PointGroup& group : chart.groups) {
    x_range.include(group.x);
    y_range.include(group.y);
  }
  Frame frame;
  frame.title = chart.title;
  const auto [x_low, x_high] = padded_limits(x_range, std::nullopt, std::nullopt, stem);
  const auto [y_low, y_high] = padded_limits(y_range, std::nullopt, std::nullopt, stem);
  frame.x = numeric_axis(chart.x_label, x_low, x_high);
  frame.y = numeric_axis(chart.y_label, y_low, y_high);
  std::vector<Color> colors;
  for (std::size_t g = 0; g < chart.groups.size(); ++g) {
    colors.push_back(chart.groups[g].color.value_or(palette_color(g)));
    frame.legend.push_back(LegendEntry{chart.groups[g].name, colors.back(), LegendMark::dot});
  }

  render_figure(stem, chart.width, chart.height, [&](cairo_t* cr) {
    const Axes axes(cr, chart.width, chart.height, frame);
    axes.draw_background(cr);
    axes.clip_to_area(cr);
    for (std::size_t g = 0; g < chart.groups.size(); ++g) {
      const PointGroup& group = chart.groups[g];
      const Color& color = colors[g];
      for (std::size_t i = 0; i < group.x.size(); ++i) {
        cairo_new_path(cr);
        cairo_arc(cr, axes.device_x(group.x[i]), axes.device_y(group.y[i]), chart.point_radius, 0.0,
                  2.0 * M_PI);
        cairo_set_source_rgba(cr, color.red, color.green, color.blue, kPointOpacity);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, color.red * 0.7, color.green * 0.7, color.blue * 0.7);
        set_line_style(cr, LineStyle::solid, 0.6);
        cairo_stroke(cr);
      }
    }
    cairo_restore(cr);
    axes.draw_furniture(cr);
  });
}

}  // namespace qtalign::plot
