#pragma once
// Seeded sampling that gives the same result with every standard library: std::mt19937_64's output
// sequence is fixed by the standard, its distributions are not, so bounded draws and shuffles are ours.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "data/task_items.h"

namespace qtalign::data {

// A uniform integer in [0, bound) (bound > 0), by rejection sampling.
uint64_t uniform_below(std::mt19937_64& generator, uint64_t bound);

// Fisher-Yates shuffle in place.
void shuffle_indices(std::vector<size_t>& indices, std::mt19937_64& generator);

// `count` distinct positions of [0, population) in random order; count <= population.
std::vector<size_t> sample_without_replacement(size_t population, size_t count, std::mt19937_64& generator);

// Splits `total` into `parts` sizes differing by at most one, the remainder going to the first parts.
std::vector<size_t> split_evenly(size_t total, size_t parts);

// A generator for one named stream of a seed (e.g. one language of a mixture): the same (seed, name)
// always gives the same sequence, different names give unrelated ones.
std::mt19937_64 seeded_generator(uint64_t seed, std::string_view stream_name);

// How a run limited to N test items picks them.
enum class ItemPick {
  balanced,  // a seeded sample with equal label counts (the default of every --limit)
  first,     // the first N candidates (--first)
};

struct ItemLimit {
  size_t count = 0;  // 0: every candidate
  ItemPick pick = ItemPick::balanced;
  uint64_t seed = 0;
};

// The indices, ascending, of the test items a run uses: among `candidates` (item indices; empty = all
// items) every one when limit.count is 0 or covers them, else limit.count of them, either the first or
// a label-balanced sample: each English label gets count / L items (the remainder one each to the first
// labels in name order; a label short of its share leaves the rest to the others), drawn per label
// from seeded_generator(seed, label). The draw depends only on the labels, so parallel test sets give
// the same indices in every language. Throws Error naming `context` for an index out of range or
// repeated, or no items.
std::vector<size_t> pick_test_items(const std::vector<TaskItem>& items, const std::vector<size_t>& candidates,
                                    const ItemLimit& limit, const std::string& context);

// "balanced (seed S)" or "first": how outputs record the pick.
std::string item_pick_description(const ItemLimit& limit);

}  // namespace qtalign::data
