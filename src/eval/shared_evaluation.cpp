#include "eval/shared_evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "distributed/shared_work.h"
#include "eval/run_state.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/progress.h"

namespace qtalign::eval {
namespace {

// A run of consecutive items of one pair, the unit of shared work.
struct Piece {
  size_t job = 0;
  size_t begin = 0, end = 0;
  size_t index = 0, count = 1;  // which piece of how many the pair was cut into
};

}  // namespace

LanguageEvaluation join_pieces(const std::vector<LanguageEvaluation>& pieces) {
  if (pieces.empty()) throw Error("join_pieces: no evaluations to join");
  LanguageEvaluation joined = pieces.front();
  joined.items.clear();
  joined.prefix_tokens = joined.prefix_fallbacks = joined.computed_tokens = joined.truncated_prompts = 0;
  joined.seconds = 0.0;
  for (const LanguageEvaluation& piece : pieces) {
    joined.items.insert(joined.items.end(), piece.items.begin(), piece.items.end());
    joined.prefix_fallbacks += piece.prefix_fallbacks;
    joined.truncated_prompts += piece.truncated_prompts;
    joined.seconds += piece.seconds;
    // Each piece ran the shared prefix (when any of its items used it); one run runs it once.
    joined.computed_tokens += piece.computed_tokens - piece.prefix_tokens;
    joined.prefix_tokens = std::max(joined.prefix_tokens, piece.prefix_tokens);
  }
  joined.computed_tokens += joined.prefix_tokens;
  return joined;
}

std::vector<std::optional<LanguageEvaluation>> evaluate_pairs(
    distributed::ProcessGroup& group, const model::Model& model, const tokenizer::Tokenizer& tokenizer,
    const std::vector<PairJob>& jobs, const EvaluationOptions& options, int64_t max_new,
    const std::function<std::optional<LanguageEvaluation>(const PairJob&)>& stored,
    const std::function<void(const PairJob&, const LanguageEvaluation&)>& finished) {
  std::vector<std::optional<LanguageEvaluation>> results(jobs.size());
  // Rank 0 decides what runs now, as only its state directory is sure to exist.
  std::vector<size_t> pending;
  if (group.is_main())
    for (size_t job = 0; job < jobs.size(); ++job) {
      if (std::optional<LanguageEvaluation> evaluation = stored(jobs[job]))
        results[job] = std::move(evaluation);
      else if (max_new <= 0 || static_cast<int64_t>(pending.size()) < max_new)
        pending.push_back(job);
    }
  if (group.world_size() > 1)
    pending = io::Json::parse(group.all_gather_text(io::Json(pending).dump()).front()).get<std::vector<size_t>>();

  // Fewer pairs than ranks: cut each pair so that every rank has items to evaluate.
  const size_t cuts = pending.empty() ? 1 : (static_cast<size_t>(group.world_size()) + pending.size() - 1) / pending.size();
  std::vector<Piece> pieces;
  std::vector<int64_t> costs;
  for (size_t job : pending) {
    const auto ranges = distributed::split_range(jobs[job].items.size(), cuts);
    for (size_t index = 0; index < ranges.size(); ++index) {
      pieces.push_back({job, ranges[index].first, ranges[index].second, index, ranges.size()});
      costs.push_back(static_cast<int64_t>(ranges[index].second - ranges[index].first));
    }
  }

  const auto work = [&](size_t unit) {
    const Piece& piece = pieces[unit];
    const PairJob& job = jobs[piece.job];
    const std::vector<data::TaskItem> items(job.items.begin() + static_cast<std::ptrdiff_t>(piece.begin),
                                            job.items.begin() + static_cast<std::ptrdiff_t>(piece.end));
    std::string label = job.task->name + "/" + job.language;
    if (piece.count > 1) label += fmt::format(" part {}/{}", piece.index + 1, piece.count);
    if (group.world_size() > 1) label = fmt::format("[rank {}] {}", group.rank(), label);
    io::Progress progress(label, static_cast<int64_t>(items.size()), "items");
    const LanguageEvaluation evaluation = evaluate_language(model, tokenizer, *job.task, job.language, items, options,
                                                            [&](int64_t count) { progress.advance(count); });
    progress.finish(fmt::format("accuracy {:.1f}%", 100.0 * static_cast<double>(evaluation.correct()) /
                                                        static_cast<double>(evaluation.items.size())));
    return language_evaluation_to_json(evaluation).dump();
  };
  std::map<size_t, std::map<size_t, LanguageEvaluation>> arrived;  // by job, then by piece (rounds may swap them)
  const auto on_result = [&](size_t unit, const std::string& text) {
    if (!group.is_main()) return;
    const Piece& piece = pieces[unit];
    const PairJob& job = jobs[piece.job];
    std::map<size_t, LanguageEvaluation>& parts = arrived[piece.job];
    parts.emplace(piece.index, language_evaluation_from_json(
                                   io::Json::parse(text),
                                   fmt::format("(evaluation of {}/{} sent by a rank)", job.task->name, job.language)));
    if (parts.size() < piece.count) return;
    std::vector<LanguageEvaluation> ordered;
    for (auto& [index, part] : parts) ordered.push_back(std::move(part));
    arrived.erase(piece.job);
    results[piece.job] = join_pieces(ordered);
    finished(job, *results[piece.job]);
  };
  distributed::run_shared_work(group, costs, work, on_result);
  if (!group.is_main()) return {};
  return results;
}

}  // namespace qtalign::eval
