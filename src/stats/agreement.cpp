#include "stats/agreement.h"

namespace qtalign::stats {

std::optional<double> Agreement::share() const {
  if (compared == 0) return std::nullopt;
  return static_cast<double>(agreeing) / static_cast<double>(compared);
}

Agreement prediction_agreement(const std::map<int64_t, std::string>& predictions,
                               const std::map<int64_t, std::string>& reference) {
  Agreement agreement;
  for (const auto& [index, prediction] : predictions) {
    const auto other = reference.find(index);
    if (other == reference.end()) continue;
    ++agreement.compared;
    if (prediction == other->second) ++agreement.agreeing;
  }
  return agreement;
}

}  // namespace qtalign::stats
