#include "plot/range.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "io/error.h"

namespace qtalign::plot {

void DataRange::include(double value) {
  low = empty ? value : std::min(low, value);
  high = empty ? value : std::max(high, value);
  empty = false;
}

void DataRange::include(const std::vector<double>& values) {
  for (double value : values) include(value);
}

void require_finite(const std::vector<double>& values, const std::filesystem::path& destination,
                    const std::string& what) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      fail_at(destination, fmt::format("{} has a non-finite value at index {}", what, i));
}

std::pair<double, double> padded_limits(const DataRange& range, std::optional<double> low,
                                        std::optional<double> high,
                                        const std::filesystem::path& destination, double padding) {
  const double data_low = range.empty ? 0.0 : range.low;
  const double data_high = range.empty ? 1.0 : range.high;
  const double span = data_high - data_low;
  const double margin =
      span > 0.0 ? span * padding : (data_low == 0.0 ? 0.5 : std::abs(data_low) * 0.1);
  const double axis_low = low.value_or(data_low - margin);
  const double axis_high = high.value_or(std::max(data_high + margin, axis_low + margin));
  if (!std::isfinite(axis_low) || !std::isfinite(axis_high) || axis_low >= axis_high)
    fail_at(destination, fmt::format("axis limits [{}, {}] are empty or reversed", axis_low, axis_high));
  return {axis_low, axis_high};
}

}  // namespace qtalign::plot
