#pragma once
// Agreement with a reference language: the share of items whose prediction in a language equals the
// same model's prediction on the parallel reference item (same index), a direct measure of whether
// the model answers the same question the same way across languages.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace qtalign::stats {

struct Agreement {
  int64_t agreeing = 0;
  int64_t compared = 0;  // items present in both

  // agreeing / compared; nullopt when no item was compared.
  std::optional<double> share() const;
};

// Compares predictions keyed by item index; items missing from either side are left out.
Agreement prediction_agreement(const std::map<int64_t, std::string>& predictions,
                               const std::map<int64_t, std::string>& reference);

}  // namespace qtalign::stats
