#pragma once
// How a label is chosen from the model's output: the two scoring modes and the decision rule.
#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace qtalign::eval {

enum class ScoringMode {
  prefix_sum,  // the study's rule: next-token probability summed over each label's candidate ids
  sequence,    // log-likelihood of each label's full token sequence plus the closing quote
};

// Parses "prefix-sum" | "sequence"; throws Error naming the valid modes otherwise.
ScoringMode parse_scoring_mode(const std::string& name);

// "prefix-sum" or "sequence".
std::string scoring_mode_name(ScoringMode mode);

// Per row of next-token probabilities ([batch, vocab]), each label's summed probability over its
// candidate ids, as float64 [batch, labels]; throws Error for an id outside the vocabulary.
at::Tensor prefix_sum_scores(const at::Tensor& probabilities, const std::vector<std::vector<int64_t>>& candidates);

// The index of the largest score; an exact tie is broken by a uniform draw from `generator` (drawn
// only on ties). Throws Error for no scores or a NaN.
size_t choose_label(const std::vector<double>& scores, std::mt19937_64& generator);

// The tie-breaking generator of one item: the same (seed, task, language, item) always draws the same,
// whatever the batching, order or resumption of the run.
std::mt19937_64 tie_break_generator(uint64_t seed, const std::string& task, const std::string& language,
                                    size_t item_index);

}  // namespace qtalign::eval
