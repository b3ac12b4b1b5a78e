#include "data/sampling.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

#include "io/error.h"

namespace qtalign::data {
namespace {

// SplitMix64's finaliser: spreads nearby seeds (0, 1, 2...) over unrelated generator states.
uint64_t mix(uint64_t value) {
  value += 0x9e3779b97f4a7c15ULL;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

}  // namespace

uint64_t uniform_below(std::mt19937_64& generator, uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("uniform_below: bound must be positive");
  // Values below 2^64 mod bound would make the low residues more likely; draw again.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t value = generator();
    if (value >= threshold) return value % bound;
  }
}

void shuffle_indices(std::vector<size_t>& indices, std::mt19937_64& generator) {
  for (size_t i = indices.size(); i > 1; --i) std::swap(indices[i - 1], indices[uniform_below(generator, i)]);
}

std::vector<size_t> sample_without_replacement(size_t population, size_t count, std::mt19937_64& generator) {
  if (count > population) throw std::invalid_argument("sample_without_replacement: count exceeds population");
  std::vector<size_t> positions(population);
  std::iota(positions.begin(), positions.end(), size_t{0});
  // A partial Fisher-Yates shuffle: the first `count` slots are a uniform sample in random order.
  for (size_t i = 0; i < count; ++i) std::swap(positions[i], positions[i + uniform_below(generator, population - i)]);
  positions.resize(count);
  return positions;
}

std::vector<size_t> split_evenly(size_t total, size_t parts) {
  if (parts == 0) throw std::invalid_argument("split_evenly: no parts");
  std::vector<size_t> sizes(parts, total / parts);
  for (size_t i = 0; i < total % parts; ++i) ++sizes[i];
  return sizes;
}

std::mt19937_64 seeded_generator(uint64_t seed, std::string_view stream_name) {
  return std::mt19937_64(mix(mix(seed) ^ fnv1a(stream_name)));
}

std::vector<size_t> pick_test_items(const std::vector<TaskItem>& items, const std::vector<size_t>& candidates,
                                    const ItemLimit& limit, const std::string& context) {
  std::vector<size_t> pool = candidates;
  if (pool.empty()) {
    pool.resize(items.size());
    std::iota(pool.begin(), pool.end(), size_t{0});
  }
  std::vector<bool> seen(items.size(), false);
  for (size_t index : pool) {
    if (index >= items.size())
      throw Error(fmt::format("{}: item index {} is out of range (the set has {} items)", context, index, items.size()));
    if (seen[index]) throw Error(fmt::format("{}: item index {} is requested twice", context, index));
    seen[index] = true;
  }
  if (pool.empty()) throw Error(fmt::format("{}: no items to use", context));
  if (limit.count == 0 || limit.count >= pool.size()) {
    std::sort(pool.begin(), pool.end());
    return pool;
  }
  if (limit.pick == ItemPick::first) {
    pool.resize(limit.count);
    std::sort(pool.begin(), pool.end());
    return pool;
  }

  std::map<std::string, std::vector<size_t>> by_label;
  for (size_t index : pool) by_label[items[index].label].push_back(index);
  std::map<std::string, size_t> quota;
  // Equal shares, then what a short label cannot take is shared again among the others.
  size_t remaining = limit.count;
  while (remaining > 0) {
    std::vector<std::string> open;
    for (const auto& [label, indices] : by_label)
      if (quota[label] < indices.size()) open.push_back(label);
    if (open.empty()) break;
    const size_t share = remaining / open.size(), extra = remaining % open.size();
    for (size_t k = 0; k < open.size(); ++k) {
      const size_t room = by_label[open[k]].size() - quota[open[k]];
      const size_t add = std::min(room, share + (k < extra ? 1 : 0));
      quota[open[k]] += add;
      remaining -= add;
    }
  }
  std::vector<size_t> picked;
  for (const auto& [label, indices] : by_label) {
    std::mt19937_64 generator = seeded_generator(limit.seed, label);
    for (size_t position : sample_without_replacement(indices.size(), quota[label], generator))
      picked.push_back(indices[position]);
  }
  std::sort(picked.begin(), picked.end());
  return picked;
}

std::string item_pick_description(const ItemLimit& limit) {
  if (limit.count == 0) return "all";
  return limit.pick == ItemPick::first ? "first" : fmt::format("label-balanced sample (seed {})", limit.seed);
}

}  // namespace qtalign::data
