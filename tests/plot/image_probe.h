#pragma once
// Reading written charts back: PNG pixels through cairo, SVG text, and the colours cairo wrote.
#include <cairo.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "plot/style.h"

namespace qtalign::testing {

struct Rgb {
  int red = 0;
  int green = 0;
  int blue = 0;
};

inline Rgb to_bytes(const plot::Color& color) {
  return Rgb{static_cast<int>(std::lround(color.red * 255)),
             static_cast<int>(std::lround(color.green * 255)),
             static_cast<int>(std::lround(color.blue * 255))};
}

inline bool close_to(const Rgb& a, const Rgb& b, int tolerance = 2) {
  return std::abs(a.red - b.red) <= tolerance && std::abs(a.green - b.green) <= tolerance &&
         std::abs(a.blue - b.blue) <= tolerance;
}

// An opaque image read from a PNG file.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<Rgb> pixels;  // row-major

  const Rgb& at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
};

inline Image read_png(const std::filesystem::path& path) {
  cairo_surface_t* surface = cairo_image_surface_create_from_png(path.c_str());
  Image image;
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    ADD_FAILURE() << path << " is not a readable PNG";
    return image;
  }
  cairo_surface_flush(surface);
  image.width = cairo_image_surface_get_width(surface);
  image.height = cairo_image_surface_get_height(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  const unsigned char* data = cairo_image_surface_get_data(surface);
  for (int y = 0; y < image.height; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + static_cast<std::size_t>(y) * stride);
    for (int x = 0; x < image.width; ++x) {
      const uint32_t pixel = row[x];
      image.pixels.push_back(Rgb{static_cast<int>((pixel >> 16) & 0xff),
                                 static_cast<int>((pixel >> 8) & 0xff),
                                 static_cast<int>(pixel & 0xff)});
    }
  }
  cairo_surface_destroy(surface);
  return image;
}

struct PixelSet {
  std::vector<int> xs;
  std::vector<int> ys;
  std::size_t size() const { return xs.size(); }
};

// Every pixel whose colour passes `keep`.
template <typename Predicate>
PixelSet find_pixels(const Image& image, Predicate keep) {
  PixelSet found;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      if (keep(image.at(x, y))) {
        found.xs.push_back(x);
        found.ys.push_back(y);
      }
  return found;
}

inline PixelSet pixels_of(const Image& image, const plot::Color& color, int tolerance = 2) {
  const Rgb target = to_bytes(color);
  return find_pixels(image, [&](const Rgb& pixel) { return close_to(pixel, target, tolerance); });
}

inline int median(std::vector<int> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

inline bool has_png_signature(const std::string& bytes) {
  return bytes.rfind(std::string("\x89PNG\r\n\x1a\n", 8), 0) == 0;
}

// Whether the SVG uses `color` (cairo writes colours as rgb(r%,g%,b%)).
inline bool svg_uses_color(const std::string& svg, const plot::Color& color) {
  static const std::regex kRgb(R"(rgb\(\s*([0-9.]+)%\s*,\s*([0-9.]+)%\s*,\s*([0-9.]+)%\s*\))");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), kRgb); it != std::sregex_iterator(); ++it) {
    const double red = std::stod((*it)[1]) / 100.0;
    const double green = std::stod((*it)[2]) / 100.0;
    const double blue = std::stod((*it)[3]) / 100.0;
    if (std::abs(red - color.red) < 1e-3 && std::abs(green - color.green) < 1e-3 &&
        std::abs(blue - color.blue) < 1e-3)
      return true;
  }
  return false;
}

// How many glyphs the SVG places (cairo writes toy-API text as <use> of glyph symbols).
inline std::size_t svg_glyph_count(const std::string& svg) {
  std::size_t count = 0;
  for (std::size_t at = svg.find("href=\"#glyph"); at != std::string::npos;
       at = svg.find("href=\"#glyph", at + 1))
    ++count;
  return count;
}

inline std::size_t visible_characters(const std::vector<std::string>& texts) {
  std::size_t count = 0;
  for (const std::string& text : texts)
    count += std::count_if(text.begin(), text.end(), [](char c) { return c != ' '; });
  return count;
}

// Files in `directory` (to find leftovers of a failed write).
inline std::vector<std::string> directory_entries(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace qtalign::testing
