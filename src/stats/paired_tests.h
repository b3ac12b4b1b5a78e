#pragma once
// Paired significance of base vs tuned on the same items: the exact McNemar test on the discordant
// pairs, and Holm's step-down correction for the many languages one configuration is tested on.
#include <cstdint>
#include <map>
#include <vector>

namespace qtalign::stats {

// Correctness of the same items under two systems, counted by agreement.
struct PairedOutcomes {
  int64_t both_correct = 0;
  int64_t base_only = 0;   // base right, tuned wrong (discordant)
  int64_t tuned_only = 0;  // base wrong, tuned right (discordant)
  int64_t both_wrong = 0;

  int64_t pairs() const { return both_correct + base_only + tuned_only + both_wrong; }
};

// Pairs the items (keyed by item index) that both maps hold; items only one system saw are left out.
PairedOutcomes pair_outcomes(const std::map<int64_t, bool>& base_correct, const std::map<int64_t, bool>& tuned_correct);

// The exact two-sided McNemar p-value: under H0 the discordant pairs split Binomial(b + c, 1/2), and
// p = min(1, 2 P(X <= min(b, c))); 1 when there are no discordant pairs. Throws Error on negative counts.
double mcnemar_exact_p(int64_t base_only, int64_t tuned_only);

// Holm-Bonferroni adjusted p-values, in the order given: the i-th smallest p times (m - i + 1), made
// monotone and capped at 1. Throws Error on a p-value outside [0, 1].
std::vector<double> holm_adjust(const std::vector<double>& p_values);

}  // namespace qtalign::stats
