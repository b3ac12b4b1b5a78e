#include "analysis/item_selection.h"

#include <fmt/format.h>

#include <numeric>

#include "io/error.h"

namespace qtalign::analysis {

std::vector<size_t> select_items(size_t item_count, const std::vector<size_t>& requested, int64_t limit,
                                 const std::string& context) {
  std::vector<size_t> selected = requested;
  if (selected.empty()) {
    selected.resize(item_count);
    std::iota(selected.begin(), selected.end(), size_t{0});
  }
  std::vector<bool> seen(item_count, false);
  for (size_t index : selected) {
    if (index >= item_count)
      throw Error(fmt::format("{}: item index {} is out of range (the set has {} items)", context, index, item_count));
    if (seen[index]) throw Error(fmt::format("{}: item index {} is requested twice", context, index));
    seen[index] = true;
  }
  if (limit > 0 && selected.size() > static_cast<size_t>(limit)) selected.resize(static_cast<size_t>(limit));
  if (selected.empty()) throw Error(fmt::format("{}: no items to analyse", context));
  return selected;
}

}  // namespace qtalign::analysis
