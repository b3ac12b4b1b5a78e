#pragma once
// --limit and --first, shared by every command that reads test items (eval, lens, pca, run).
#include <CLI/CLI.hpp>

#include <cstdint>

#include "data/sampling.h"

namespace qtalign::cli {

struct ItemLimitOptions {
  int64_t limit = 0;  // a label-balanced seeded sample of this many items (0 = all)
  int64_t first = 0;  // instead, the first this many items
};

// Adds --limit N (the balanced sample, the same items in every language) and --first N to a command;
// `what` says per what ("per language").
void add_item_limit_options(CLI::App* command, ItemLimitOptions& options, const std::string& what);

// The pick the options ask for, the sample drawn with `seed`.
data::ItemLimit item_limit(const ItemLimitOptions& options, uint64_t seed);

}  // namespace qtalign::cli
