#include "stats/paired_tests.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "io/error.h"

namespace qtalign::stats {

PairedOutcomes pair_outcomes(const std::map<int64_t, bool>& base_correct, const std::map<int64_t, bool>& tuned_correct) {
  PairedOutcomes outcomes;
  for (const auto& [index, base] : base_correct) {
    const auto tuned = tuned_correct.find(index);
    if (tuned == tuned_correct.end()) continue;
    if (base && tuned->second) ++outcomes.both_correct;
    else if (base) ++outcomes.base_only;
    else if (tuned->second) ++outcomes.tuned_only;
    else ++outcomes.both_wrong;
  }
  return outcomes;
}

double mcnemar_exact_p(int64_t base_only, int64_t tuned_only) {
  if (base_only < 0 || tuned_only < 0)
    throw Error(fmt::format("McNemar test: negative discordant counts ({}, {})", base_only, tuned_only));
  const int64_t n = base_only + tuned_only;
  if (n == 0) return 1.0;
  const int64_t k = std::min(base_only, tuned_only);
  // Summed in log space: C(n, i) / 2^n underflows doubles long before n reaches a test set's size.
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  double tail = 0.0;
  for (int64_t i = 0; i <= k; ++i)
    tail += std::exp(std::lgamma(double(n + 1)) - std::lgamma(double(i + 1)) - std::lgamma(double(n - i + 1)) + log_half_n);
  return std::min(1.0, 2.0 * tail);
}

std::vector<double> holm_adjust(const std::vector<double>& p_values) {
  for (double p : p_values)
    if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("Holm correction: p-value {} is outside [0, 1]", p));
  const size_t m = p_values.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m);
  double running = 0.0;
  for (size_t rank = 0; rank < m; ++rank) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - rank) * p_values[order[rank]]));
    adjusted[order[rank]] = running;
  }
  return adjusted;
}

}  // namespace qtalign::stats
