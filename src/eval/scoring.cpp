#include "eval/scoring.h"

#include <fmt/format.h>

#include <cmath>

#include "data/sampling.h"
#include "io/error.h"

namespace qtalign::eval {

ScoringMode parse_scoring_mode(const std::string& name) {
  if (name == "prefix-sum") return ScoringMode::prefix_sum;
  if (name == "sequence") return ScoringMode::sequence;
  throw Error("unknown scoring mode '" + name + "' (expected prefix-sum or sequence)");
}

std::string scoring_mode_name(ScoringMode mode) {
  return mode == ScoringMode::prefix_sum ? "prefix-sum" : "sequence";
}

at::Tensor prefix_sum_scores(const at::Tensor& probabilities, const std::vector<std::vector<int64_t>>& candidates) {
  if (probabilities.dim() != 2) throw Error("prefix-sum scoring: probabilities must be [batch, vocab]");
  const int64_t vocab = probabilities.size(1);
  std::vector<at::Tensor> columns;
  for (const std::vector<int64_t>& ids : candidates) {
    for (const int64_t id : ids)
      if (id < 0 || id >= vocab)
        throw Error(fmt::format("prefix-sum scoring: candidate id {} is outside the model's vocabulary of {}", id, vocab));
    const at::Tensor index = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(probabilities.device());
    columns.push_back(probabilities.index_select(1, index).to(at::kDouble).sum(1));
  }
  return at::stack(columns, 1).cpu();
}

size_t choose_label(const std::vector<double>& scores, std::mt19937_64& generator) {
  if (scores.empty()) throw Error("no label scores to choose from");
  for (const double score : scores)
    if (std::isnan(score)) throw Error("a label score is NaN (the model's output is not finite)");
  std::vector<size_t> best{0};
  for (size_t label = 1; label < scores.size(); ++label) {
    if (scores[label] > scores[best.front()]) best.assign(1, label);
    else if (scores[label] == scores[best.front()]) best.push_back(label);
  }
  if (best.size() == 1) return best.front();
  return best[data::uniform_below(generator, best.size())];
}

std::mt19937_64 tie_break_generator(uint64_t seed, const std::string& task, const std::string& language,
                                    size_t item_index) {
  return data::seeded_generator(seed, fmt::format("tie/{}/{}/{}", task, language, item_index));
}

}  // namespace qtalign::eval
