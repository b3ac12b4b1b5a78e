#include "plot/figure.h"

#include <cairo-svg.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "io/atomic_file.h"
#include "io/error.h"

namespace qtalign::plot {
namespace {

constexpr double kOuterPadding = 16.0;
constexpr double kTickLength = 4.0;
constexpr double kTickLabelGap = 6.0;
constexpr double kLegendGap = 18.0;
constexpr double kLegendRowHeight = 20.0;
constexpr double kLegendMarkWidth = 26.0;
constexpr double kStripGap = 6.0;
constexpr double kStripScaleWidth = 150.0;
const TextStyle kTitleStyle{17.0, true};
const TextStyle kLabelStyle{14.0};
const TextStyle kTickStyle{12.0, false, Color{0.3, 0.3, 0.3}};
const TextStyle kLegendStyle{12.5};
const TextStyle kStripLabelStyle{12.0};

struct SurfaceDeleter {
  void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};
struct ContextDeleter {
  void operator()(cairo_t* context) const { cairo_destroy(context); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using ContextPtr = std::unique_ptr<cairo_t, ContextDeleter>;

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check_status(cairo_status_t status, const std::filesystem::path& destination) {
  if (status != CAIRO_STATUS_SUCCESS)
    fail_at(destination, std::string("cannot render the chart: ") + cairo_status_to_string(status));
}

void draw_onto(cairo_surface_t* surface, const std::function<void(cairo_t*)>& draw,
               const std::filesystem::path& destination) {
  ContextPtr context(cairo_create(surface));
  draw(context.get());
  check_status(cairo_status(context.get()), destination);
}

std::filesystem::path with_suffix(const std::filesystem::path& stem, const char* suffix) {
  std::filesystem::path path = stem;
  path += suffix;
  return path;
}

void select_font(cairo_t* cr, const TextStyle& style) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         style.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, style.size);
}

void set_color(cairo_t* cr, const Color& color) {
  cairo_set_source_rgb(cr, color.red, color.green, color.blue);
}

// Snaps a coordinate to a pixel centre so 1-pixel lines stay crisp.
double crisp(double coordinate) { return std::floor(coordinate) + 0.5; }

}  // namespace

std::vector<double> nice_ticks(double low, double high, int target) {
  if (!std::isfinite(low) || !std::isfinite(high) || low > high)
    throw Error(fmt::format("invalid axis range [{}, {}]", low, high));
  if (high - low <= 1e-12 * std::max(1.0, std::abs(high))) {
    const double half = low == 0.0 ? 0.5 : std::abs(low) * 0.1;
    low -= half;
    high += half;
  }
  const double raw_step = (high - low) / std::max(target, 2);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = 10.0 * magnitude;
  for (double multiple : {1.0, 2.0, 2.5, 5.0}) {
    if (multiple * magnitude >= raw_step * (1.0 - 1e-9)) {
      step = multiple * magnitude;
      break;
    }
  }
  const double tolerance = step * 1e-9;
  std::vector<double> ticks;
  for (double k = std::ceil((low - tolerance) / step); k * step <= high + tolerance; k += 1.0) {
    const double tick = k * step;
    ticks.push_back(std::abs(tick) < tolerance ? 0.0 : tick);
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  if (value == 0.0) return "0";
  const double magnitude = std::max(std::abs(value), step);
  if (magnitude >= 1e6 || step < 1e-4) return fmt::format("{:g}", value);
  int decimals = 0;
  while (decimals < 6) {
    const double scaled = step * std::pow(10.0, decimals);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
    ++decimals;
  }
  std::string text = fmt::format("{:.{}f}", value, decimals);
  if (text.find_first_not_of("-0.") == std::string::npos) return "0";
  return text;
}

void render_figure(const std::filesystem::path& stem, int width, int height,
                   const std::function<void(cairo_t*)>& draw) {
  const std::filesystem::path png_path = with_suffix(stem, ".png");
  const std::filesystem::path svg_path = with_suffix(stem, ".svg");
  if (width < 64 || height < 64 || width > 16384 || height > 16384)
    fail_at(png_path, fmt::format("chart size {}x{} is outside 64..16384 pixels", width, height));

  std::string png;
  {
    SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height));
    check_status(cairo_surface_status(surface.get()), png_path);
    draw_onto(surface.get(), draw, png_path);
    check_status(cairo_surface_write_to_png_stream(surface.get(), append_to_string, &png), png_path);
  }
  std::string svg;
  {
    SurfacePtr surface(cairo_svg_surface_create_for_stream(append_to_string, &svg, width, height));
    check_status(cairo_surface_status(surface.get()), svg_path);
    draw_onto(surface.get(), draw, svg_path);
    cairo_surface_finish(surface.get());
    check_status(cairo_surface_status(surface.get()), svg_path);
  }
  io::write_file_atomically(png_path, png);
  io::write_file_atomically(svg_path, svg);
}

void draw_text(cairo_t* cr, const std::string& text, double x, double y, HAlign h, VAlign v,
               const TextStyle& style, double angle) {
  if (text.empty()) return;
  select_font(cr, style);
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  double dx = 0.0;
  if (h == HAlign::center) dx = -extents.x_advance / 2.0;
  if (h == HAlign::right) dx = -extents.x_advance;
  // Vertical placement uses the font size rather than the glyphs' ink so labels share baselines.
  double dy = 0.0;
  if (v == VAlign::top) dy = style.size * 0.76;
  if (v == VAlign::middle) dy = style.size * 0.36;
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, dx, dy);
  set_color(cr, style.color);
  cairo_show_text(cr, text.c_str());
  cairo_new_path(cr);
  cairo_restore(cr);
}

double text_width(cairo_t* cr, const std::string& text, const TextStyle& style) {
  if (text.empty()) return 0.0;
  select_font(cr, style);
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  return extents.x_advance;
}

void set_line_style(cairo_t* cr, LineStyle style, double width) {
  cairo_set_line_width(cr, width);
  if (style == LineStyle::dashed) {
    const double dashes[] = {4.0 * width, 2.5 * width};
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_set_dash(cr, dashes, 2, 0.0);
  } else if (style == LineStyle::dotted) {
    const double dashes[] = {0.0, 2.2 * width};
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_dash(cr, dashes, 2, 0.0);
  } else {
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_set_dash(cr, nullptr, 0, 0.0);
  }
}

Axis numeric_axis(std::string label, double low, double high) {
  Axis axis;
  axis.label = std::move(label);
  axis.ticks = nice_ticks(low, high);
  if (high - low <= 1e-12 * std::max(1.0, std::abs(high))) {
    low = std::min(low, axis.ticks.front());
    high = std::max(high, axis.ticks.back());
  }
  axis.min = low;
  axis.max = high;
  const double step = axis.ticks.size() > 1 ? axis.ticks[1] - axis.ticks[0] : 1.0;
  for (double tick : axis.ticks) axis.tick_labels.push_back(format_tick(tick, step));
  return axis;
}

Axis category_axis(std::string label, const std::vector<std::string>& categories) {
  Axis axis;
  axis.label = std::move(label);
  axis.min = 0.0;
  axis.max = static_cast<double>(categories.size());
  for (std::size_t i = 0; i < categories.size(); ++i) axis.ticks.push_back(i + 0.5);
  axis.tick_labels = categories;
  axis.gridlines = false;
  return axis;
}

Axes::Axes(cairo_t* cr, double width, double height, Frame frame)
    : frame_(std::move(frame)), width_(width), height_(height) {
  double y_tick_width = 0.0;
  for (const std::string& label : frame_.y.tick_labels)
    y_tick_width = std::max(y_tick_width, text_width(cr, label, kTickStyle));
  y_tick_label_width_ = y_tick_width;
  // The strip's label sits in the tick label column and may be wider than the tick labels.
  if (frame_.strip_height > 0.0)
    y_tick_width = std::max(y_tick_width, text_width(cr, frame_.strip_label, kStripLabelStyle) +
                                              kTickLabelGap - kTickLength);
  double x_tick_width = 0.0;
  for (const std::string& label : frame_.x.tick_labels)
    x_tick_width = std::max(x_tick_width, text_width(cr, label, kTickStyle));

  const double top = kOuterPadding + (frame_.title.empty() ? 4.0 : kTitleStyle.size * 2.0);
  const double x_label_height = frame_.x.label.empty() ? 0.0 : kLabelStyle.size * 2.0;
  const double strip_space = frame_.strip_height > 0.0 ? frame_.strip_height + kStripGap : 0.0;
  const double tentative_bottom =
      height_ - kOuterPadding - x_label_height - kTickStyle.size - kTickLength - kTickLabelGap -
      strip_space;
  const double area_height = std::max(tentative_bottom - top, 40.0);

  double legend_label_width = 0.0;
  for (const LegendEntry& entry : frame_.legend)
    legend_label_width = std::max(legend_label_width, text_width(cr, entry.label, kLegendStyle));
  legend_column_width_ = kLegendMarkWidth + 8.0 + legend_label_width + 14.0;
  const int rows_available = std::max(1, static_cast<int>(area_height / kLegendRowHeight));
  const int entries = static_cast<int>(frame_.legend.size());
  const int columns = entries == 0 ? 0 : (entries + rows_available - 1) / rows_available;
  legend_rows_ = columns == 0 ? 0 : (entries + columns - 1) / columns;
  double side_width = columns * legend_column_width_;
  if (frame_.strip_height > 0.0) side_width = std::max(side_width, kStripScaleWidth);

  const double left = kOuterPadding + (frame_.y.label.empty() ? 0.0 : kLabelStyle.size * 2.0) +
                      y_tick_width + kTickLength + kTickLabelGap;
  const double right = side_width > 0.0 ? width_ - kOuterPadding - side_width - kLegendGap
                                        : width_ - kOuterPadding - x_tick_width / 2.0;
  area_ = Rect{left, top, std::max(right - left, 40.0), area_height};

  // Category labels that do not fit their slot are turned 45 degrees; the plot gives way to them.
  const double slot = frame_.x.ticks.size() > 0 ? area_.width / (frame_.x.max - frame_.x.min) : 0.0;
  if (!frame_.x.gridlines && x_tick_width > slot * 0.9) {
    const double extra = x_tick_width * 0.71 - kTickStyle.size * 0.3;
    area_.height = std::max(area_.height - extra, 40.0);
  }
  strip_ = Rect{area_.left, area_.bottom() + kStripGap, area_.width, frame_.strip_height};
  strip_side_ = Rect{area_.right() + kLegendGap, strip_.top, side_width, frame_.strip_height};
  legend_ = Rect{area_.right() + kLegendGap, area_.top, side_width, legend_rows_ * kLegendRowHeight};
}

double Axes::device_x(double x) const {
  return area_.left + (x - frame_.x.min) / (frame_.x.max - frame_.x.min) * area_.width;
}

double Axes::device_y(double y) const {
  return area_.bottom() - (y - frame_.y.min) / (frame_.y.max - frame_.y.min) * area_.height;
}

void Axes::draw_background(cairo_t* cr) const {
  cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0.975, 0.975, 0.98);
  cairo_rectangle(cr, area_.left, area_.top, area_.width, area_.height);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0.87, 0.87, 0.89);
  set_line_style(cr, LineStyle::solid, 1.0);
  if (frame_.y.gridlines) {
    for (double tick : frame_.y.ticks) {
      const double y = crisp(device_y(tick));
      cairo_move_to(cr, area_.left, y);
      cairo_line_to(cr, area_.right(), y);
    }
  }
  if (frame_.x.gridlines) {
    for (double tick : frame_.x.ticks) {
      const double x = crisp(device_x(tick));
      cairo_move_to(cr, x, area_.top);
      cairo_line_to(cr, x, area_.bottom());
    }
  }
  cairo_stroke(cr);
}

void Axes::clip_to_area(cairo_t* cr) const {
  cairo_save(cr);
  cairo_rectangle(cr, area_.left, area_.top, area_.width, area_.height);
  cairo_clip(cr);
}

void Axes::draw_furniture(cairo_t* cr) const {
  set_line_style(cr, LineStyle::solid, 1.0);
  cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
  cairo_rectangle(cr, crisp(area_.left), crisp(area_.top), std::round(area_.width),
                  std::round(area_.height));
  cairo_stroke(cr);

  const double x_labels_top = (frame_.strip_height > 0.0 ? strip_.bottom() : area_.bottom());
  for (double tick : frame_.y.ticks) {
    const double y = crisp(device_y(tick));
    cairo_move_to(cr, area_.left - kTickLength, y);
    cairo_line_to(cr, area_.left, y);
  }
  for (double tick : frame_.x.ticks) {
    const double x = crisp(device_x(tick));
    cairo_move_to(cr, x, x_labels_top);
    cairo_line_to(cr, x, x_labels_top + kTickLength);
  }
  cairo_stroke(cr);

  for (std::size_t i = 0; i < frame_.y.ticks.size(); ++i)
    draw_text(cr, frame_.y.tick_labels[i], area_.left - kTickLength - kTickLabelGap,
              device_y(frame_.y.ticks[i]), HAlign::right, VAlign::middle, kTickStyle);
  const double slot = area_.width / (frame_.x.max - frame_.x.min);
  double x_tick_width = 0.0;
  for (const std::string& label : frame_.x.tick_labels)
    x_tick_width = std::max(x_tick_width, text_width(cr, label, kTickStyle));
  const bool turned = !frame_.x.gridlines && x_tick_width > slot * 0.9;
  const double tick_text_top = x_labels_top + kTickLength + kTickLabelGap;
  double tick_text_height = kTickStyle.size;
  for (std::size_t i = 0; i < frame_.x.ticks.size(); ++i) {
    const double x = device_x(frame_.x.ticks[i]);
    if (turned) {
      draw_text(cr, frame_.x.tick_labels[i], x + kTickStyle.size * 0.3, tick_text_top - 2.0,
                HAlign::right, VAlign::top, kTickStyle, -M_PI / 4.0);
    } else {
      draw_text(cr, frame_.x.tick_labels[i], x, tick_text_top, HAlign::center, VAlign::top,
                kTickStyle);
    }
  }
  if (turned) tick_text_height = x_tick_width * 0.71 + kTickStyle.size * 0.7;

  draw_text(cr, frame_.x.label, area_.left + area_.width / 2.0,
            tick_text_top + tick_text_height + kLabelStyle.size * 0.6, HAlign::center, VAlign::top,
            kLabelStyle);
  // Turned a quarter left, the label's top faces left: it ends a gap left of the tick labels.
  const double y_label_left = area_.left - kTickLength - kTickLabelGap - y_tick_label_width_ -
                              kLabelStyle.size * 0.6 - kLabelStyle.size;
  draw_text(cr, frame_.y.label, std::max(y_label_left, kOuterPadding), area_.top + area_.height / 2.0,
            HAlign::center, VAlign::top, kLabelStyle, -M_PI / 2.0);
  if (frame_.strip_height > 0.0)
    draw_text(cr, frame_.strip_label, strip_.left - kTickLabelGap - 4.0, strip_.top + strip_.height / 2.0,
              HAlign::right, VAlign::middle, kStripLabelStyle);
  draw_text(cr, frame_.title, area_.left + area_.width / 2.0, kOuterPadding, HAlign::center,
            VAlign::top, kTitleStyle);

  for (std::size_t i = 0; i < frame_.legend.size(); ++i) {
    const LegendEntry& entry = frame_.legend[i];
    const double column = static_cast<double>(i / legend_rows_);
    const double x = legend_.left + column * legend_column_width_;
    const double y = legend_.top + (i % legend_rows_ + 0.5) * kLegendRowHeight;
    set_color(cr, entry.color);
    if (entry.mark == LegendMark::line) {
      set_line_style(cr, entry.style, 2.2);
      cairo_move_to(cr, x, y);
      cairo_line_to(cr, x + kLegendMarkWidth, y);
      cairo_stroke(cr);
      set_line_style(cr, LineStyle::solid, 1.0);
    } else if (entry.mark == LegendMark::box) {
      cairo_rectangle(cr, x + kLegendMarkWidth / 2.0 - 6.0, y - 6.0, 12.0, 12.0);
      cairo_fill(cr);
    } else if (entry.mark == LegendMark::dot) {
      cairo_arc(cr, x + kLegendMarkWidth / 2.0, y, 4.5, 0.0, 2.0 * M_PI);
      cairo_fill(cr);
    }
    draw_text(cr, entry.label, entry.mark == LegendMark::none ? x : x + kLegendMarkWidth + 8.0, y, HAlign::left,
              VAlign::middle, kLegendStyle);
  }
}

}  // namespace qtalign::plot
