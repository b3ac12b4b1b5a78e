#include "cli/item_limit_options.h"

#include "cli/common.h"

namespace qtalign::cli {

void add_item_limit_options(CLI::App* command, ItemLimitOptions& options, const std::string& what) {
  CLI::Option* limit =
      command
          ->add_option("--limit", options.limit,
                       "N items " + what + ": a label-balanced sample drawn with --seed, the same items in every "
                       "language (0 = all)")
          ->capture_default_str()
          ->check(at_least(0));
  command->add_option("--first", options.first, "the first N items " + what + " instead of a balanced sample")
      ->check(at_least(1))
      ->excludes(limit);
}

data::ItemLimit item_limit(const ItemLimitOptions& options, uint64_t seed) {
  if (options.first > 0) return {static_cast<size_t>(options.first), data::ItemPick::first, seed};
  return {static_cast<size_t>(options.limit), data::ItemPick::balanced, seed};
}

}  // namespace qtalign::cli
