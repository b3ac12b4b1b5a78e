#pragma once
// The machinery behind every chart: a picture drawn once and written as PNG and SVG, axes with
// "nice" ticks, text, and a legend beside the plotting area (never over the data).
#include <cairo.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "plot/style.h"

namespace qtalign::plot {

// Round tick positions within [low, high]: multiples of a step from {1, 2, 2.5, 5} x 10^k chosen
// to give about `target` ticks. Requires finite low <= high (a zero-width range is widened).
std::vector<double> nice_ticks(double low, double high, int target = 6);

// A tick label with the fewest decimals that distinguish ticks `step` apart ("0.25", "-3", "1e-05").
std::string format_tick(double value, double step);

// Draws the picture with `draw` onto a width x height image and onto an SVG of the same size, then
// writes stem.png and stem.svg (stem plus suffix) atomically; throws Error if either cannot be made.
void render_figure(const std::filesystem::path& stem, int width, int height,
                   const std::function<void(cairo_t*)>& draw);

enum class HAlign { left, center, right };
enum class VAlign { top, middle, bottom };

struct TextStyle {
  double size = 13.0;
  bool bold = false;
  Color color{0.15, 0.15, 0.15};
};

// Draws one line of ASCII text anchored at (x, y), rotated by `angle` radians about the anchor.
void draw_text(cairo_t* cr, const std::string& text, double x, double y, HAlign h, VAlign v,
               const TextStyle& style = {}, double angle = 0.0);
// The advance width of `text` in `style`.
double text_width(cairo_t* cr, const std::string& text, const TextStyle& style = {});

// Sets a line's dash pattern for `style` at line width `width`.
void set_line_style(cairo_t* cr, LineStyle style, double width);

struct Rect {
  double left = 0.0;
  double top = 0.0;
  double width = 0.0;
  double height = 0.0;
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

// An axis: the data range it spans and its labelled ticks.
struct Axis {
  std::string label;
  double min = 0.0;
  double max = 1.0;
  std::vector<double> ticks;
  std::vector<std::string> tick_labels;  // one per tick
  bool gridlines = true;
};

// An axis over [low, high] with nice ticks and their labels.
Axis numeric_axis(std::string label, double low, double high);
// An axis of named slots: category i is centred at i + 0.5 on [0, n], without gridlines.
Axis category_axis(std::string label, const std::vector<std::string>& categories);

// `none`: a line of text alone (a heading of the entries below it).
enum class LegendMark { line, box, dot, none };

struct LegendEntry {
  std::string label;
  Color color;
  LegendMark mark = LegendMark::line;
  LineStyle style = LineStyle::solid;
};

// Everything around the plotting area.
struct Frame {
  std::string title;
  Axis x;
  Axis y;
  std::vector<LegendEntry> legend;
  double strip_height = 0.0;  // a row under the plotting area sharing its x scale (0: none)
  std::string strip_label;    // shown left of that row
};

// A laid-out chart: the plotting area, the mapping from data to device coordinates, and the
// furniture (gridlines, ticks, labels, title, legend) around it.
class Axes {
 public:
  // Lays out `frame` on a width x height canvas, measuring text with `cr`.
  Axes(cairo_t* cr, double width, double height, Frame frame);

  const Rect& area() const { return area_; }
  // The row reserved by Frame::strip_height, directly under the plotting area.
  const Rect& strip() const { return strip_; }
  // The column right of the strip, for its colour scale.
  const Rect& strip_side() const { return strip_side_; }

  double device_x(double x) const;
  double device_y(double y) const;

  // Paints the white background and the gridlines; call before drawing data.
  void draw_background(cairo_t* cr) const;
  // Restricts drawing to the plotting area until cairo_restore (cairo_save is done here).
  void clip_to_area(cairo_t* cr) const;
  // Draws the frame, ticks, tick labels, axis labels, strip label, title and legend; call after
  // the data.
  void draw_furniture(cairo_t* cr) const;

 private:
  Frame frame_;
  double width_;
  double height_;
  Rect area_;
  Rect strip_;
  Rect strip_side_;
  Rect legend_;
  double y_tick_label_width_ = 0.0;
  int legend_rows_ = 0;
  double legend_column_width_ = 0.0;
};

}  // namespace qtalign::plot
