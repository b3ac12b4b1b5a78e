#pragma once
// Many (task, language) pairs evaluated by one process or shared over a process group: pairs go whole
// to ranks, or, when there are fewer pairs than ranks, are cut into contiguous runs of items that
// several ranks evaluate and that are rejoined exactly as one process would have produced them.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "eval/evaluator.h"

namespace qtalign::eval {

// One pair to evaluate: its task, language, the items in file order and its test file's content hash.
struct PairJob {
  const data::TaskProtocol* task = nullptr;
  std::string language;
  std::vector<data::TaskItem> items;
  std::string file_hash;
};

// Rejoins evaluations of consecutive runs of one pair's items (in item order) into the evaluation one
// run over all of them gives: items concatenated, counts summed, the shared prefix counted once.
LanguageEvaluation join_pieces(const std::vector<LanguageEvaluation>& pieces);

// Evaluates the pairs of `jobs` over `group` (work split by distributed::run_shared_work). On rank 0,
// stored(job) may return a finished evaluation to reuse (a resumed run) and at most `max_new` other
// pairs are evaluated (0 = all); rank 0's choice is followed by every rank. finished(job, evaluation)
// is called on rank 0 as each evaluated pair completes. Returns, on rank 0, every job's evaluation
// (nullopt for the pairs left over by max_new); on other ranks, nothing.
std::vector<std::optional<LanguageEvaluation>> evaluate_pairs(
    distributed::ProcessGroup& group, const model::Model& model, const tokenizer::Tokenizer& tokenizer,
    const std::vector<PairJob>& jobs, const EvaluationOptions& options, int64_t max_new,
    const std::function<std::optional<LanguageEvaluation>(const PairJob&)>& stored,
    const std::function<void(const PairJob&, const LanguageEvaluation&)>& finished);

}  // namespace qtalign::eval
