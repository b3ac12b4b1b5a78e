#pragma once
// Many (task, language) pairs evaluated by one process or shared over a process group. Each pair is
// cut into pieces of consecutive items at fixed boundaries (every PairSchedule::piece_items items),
// the unit of shared work and of what a resumed run keeps; when there are fewer pieces than ranks
// they are cut further so that every rank has items. A pair's pieces are rejoined exactly as one run
// over all its items would have produced them.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "eval/evaluator.h"
#include "eval/run_state.h"

namespace qtalign::eval {

// One pair to evaluate: its task, language, the items in file order and its test file's content hash.
struct PairJob {
  const data::TaskProtocol* task = nullptr;
  std::string language;
  std::vector<data::TaskItem> items;
  std::string file_hash;
};

// How evaluate_pairs cuts its work and how much of it one call does.
struct PairSchedule {
  // Items per piece: pieces start at multiples of it in a pair's item list (0: whole pairs). Pieces
  // are batched on their own, so it changes scores in their last bits, like the batch size.
  int64_t piece_items = 100;
  int64_t max_pairs = 0;  // unfinished pairs to work on in this call (0 = all)
  int64_t max_items = 0;  // stop after the piece that reaches this many items in this call (0 = no limit)
};

// Rejoins evaluations of consecutive runs of one pair's items (in item order) into the evaluation one
// run over all of them gives: items concatenated, counts summed, the shared prefix counted once.
LanguageEvaluation join_pieces(const std::vector<LanguageEvaluation>& pieces);

// Evaluates the pairs of `jobs` over `group` (pieces shared by distributed::run_shared_work). On rank
// 0, `state` (may be null) supplies the pairs and pieces an earlier run finished, which are reused and
// not evaluated again, and receives each piece and pair as it finishes; rank 0's plan is followed by
// every rank. finished(job, evaluation) is called on rank 0 as each pair completes in this call.
// Returns, on rank 0, every job's evaluation (nullopt for the pairs the schedule's limits left
// unfinished); on other ranks, nothing.
std::vector<std::optional<LanguageEvaluation>> evaluate_pairs(
    distributed::ProcessGroup& group, const model::Model& model, const tokenizer::Tokenizer& tokenizer,
    const std::vector<PairJob>& jobs, const EvaluationOptions& options, const PairSchedule& schedule,
    const RunState* state, const std::function<void(const PairJob&, const LanguageEvaluation&)>& finished);

}  // namespace qtalign::eval
