#include "plot/style.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace qtalign::plot {
namespace {

constexpr Color from_hex(uint32_t rgb) {
  return Color{((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0, (rgb & 0xff) / 255.0};
}

// Tableau 10, then ten further tones chosen to stay apart from them and from each other; no pastels,
// so every colour reads on white.
constexpr std::array<Color, 20> kPalette = {
    from_hex(0x1f77b4), from_hex(0xff7f0e), from_hex(0x2ca02c), from_hex(0xd62728),
    from_hex(0x9467bd), from_hex(0x8c564b), from_hex(0xe377c2), from_hex(0x7f7f7f),
    from_hex(0xbcbd22), from_hex(0x17becf), from_hex(0x000075), from_hex(0x800000),
    from_hex(0x469990), from_hex(0xf032e6), from_hex(0x808000), from_hex(0x911eb4),
    from_hex(0xe6ab02), from_hex(0x66a61e), from_hex(0xfa8072), from_hex(0x6baed6)};

// Viridis sampled at nine equally spaced points.
constexpr std::array<Color, 9> kViridis = {
    from_hex(0x440154), from_hex(0x472d7b), from_hex(0x3b528b), from_hex(0x2c728e),
    from_hex(0x21918c), from_hex(0x28ae80), from_hex(0x5ec962), from_hex(0xaddc30),
    from_hex(0xfde725)};

}  // namespace

Color palette_color(std::size_t index) { return kPalette[index % kPalette.size()]; }

Color sequential_color(double t) {
  const double position = std::clamp(std::isnan(t) ? 0.0 : t, 0.0, 1.0) * (kViridis.size() - 1);
  const std::size_t below = std::min(static_cast<std::size_t>(position), kViridis.size() - 2);
  const double fraction = position - below;
  const Color& a = kViridis[below];
  const Color& b = kViridis[below + 1];
  return Color{a.red + (b.red - a.red) * fraction, a.green + (b.green - a.green) * fraction,
               a.blue + (b.blue - a.blue) * fraction};
}

}  // namespace qtalign::plot
