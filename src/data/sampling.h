#pragma once
// Seeded sampling that gives the same result with every standard library: std::mt19937_64's output
// sequence is fixed by the standard, its distributions are not, so bounded draws and shuffles are ours.
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

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

}  // namespace qtalign::data
