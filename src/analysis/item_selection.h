#pragma once
// Which test items an analysis runs on.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qtalign::analysis {

// The item indices to analyse out of `item_count`: `requested` (all items when empty) in order, cut to
// the first `limit` when limit > 0; throws Error naming `context` for an index out of range or a repeat.
std::vector<size_t> select_items(size_t item_count, const std::vector<size_t>& requested, int64_t limit,
                                 const std::string& context);

}  // namespace qtalign::analysis
