#pragma once
// The extent of chart data and the axis limits derived from it.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qtalign::plot {

// The smallest interval holding every value seen; empty until the first value.
struct DataRange {
  double low = 0.0;
  double high = 0.0;
  bool empty = true;

  void include(double value);
  void include(const std::vector<double>& values);
};

// Throws Error "<destination>: <what> has a non-finite value at index i" if any value is NaN or inf.
void require_finite(const std::vector<double>& values, const std::filesystem::path& destination,
                    const std::string& what);

// Axis limits: the given ones where set, otherwise the data range widened by `padding` of its span
// (or by a small amount around a single value); throws Error if the limits end up empty or reversed.
std::pair<double, double> padded_limits(const DataRange& range, std::optional<double> low,
                                        std::optional<double> high,
                                        const std::filesystem::path& destination,
                                        double padding = 0.05);

}  // namespace qtalign::plot
