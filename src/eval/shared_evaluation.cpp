#include "eval/shared_evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "distributed/shared_work.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/progress.h"

namespace qtalign::eval {
namespace {

// A run of consecutive items of one pair, the unit of shared work.
struct Piece {
  size_t job = 0;
  size_t begin = 0, end = 0;
};

// Whether `evaluation` holds the job's items from `begin` on, as they are selected now.
bool holds_items_of(const PairJob& job, size_t begin, const LanguageEvaluation& evaluation) {
  if (evaluation.items.empty() || begin + evaluation.items.size() > job.items.size()) return false;
  for (size_t i = 0; i < evaluation.items.size(); ++i)
    if (evaluation.items[i].index != job.items[begin + i].index) return false;
  return true;
}

// The stored pieces of a job that still hold its items, in item order, without overlaps.
std::vector<PairPiece> reusable_pieces(const RunState& state, const PairJob& job) {
  std::vector<PairPiece> kept;
  for (PairPiece& piece : state.load_pieces(job.task->name, job.language, job.file_hash))
    if (holds_items_of(job, piece.begin, piece.evaluation) && (kept.empty() || kept.back().end() <= piece.begin))
      kept.push_back(std::move(piece));
  return kept;
}

size_t items_in(const std::vector<PairPiece>& pieces) {
  size_t items = 0;
  for (const PairPiece& piece : pieces) items += piece.evaluation.items.size();
  return items;
}

// The pieces that cover the items of a job that `done` (in item order) does not, each ending at the
// next multiple of piece_items (0: at the end of its gap).
std::vector<Piece> missing_pieces(size_t job, size_t items, const std::vector<PairPiece>& done, int64_t piece_items) {
  std::vector<Piece> pieces;
  const size_t size = static_cast<size_t>(piece_items);
  size_t at = 0;
  const auto cover = [&](size_t end) {
    while (at < end) {
      const size_t stop = size > 0 ? std::min(end, (at / size + 1) * size) : end;
      pieces.push_back({job, at, stop});
      at = stop;
    }
  };
  for (const PairPiece& piece : done) {
    cover(piece.begin);
    at = piece.end();
  }
  cover(items);
  return pieces;
}

// Rank 0's plan of what runs now: the pieces of every pair neither stored whole in `state` (then
// moved into `results`) nor complete from stored pieces (kept in `done`, then `complete` called),
// within the schedule's limits; prints what resumes.
std::vector<Piece> plan_pieces(const std::vector<PairJob>& jobs, const PairSchedule& schedule, const RunState* state,
                               std::vector<std::optional<LanguageEvaluation>>& results,
                               std::vector<std::vector<PairPiece>>& done, const std::function<void(size_t)>& complete) {
  std::vector<Piece> planned;
  int64_t started_pairs = 0;
  std::vector<size_t> kept_items(jobs.size(), 0);
  for (size_t job = 0; job < jobs.size(); ++job) {
    const PairJob& pair = jobs[job];
    if (state) {
      std::optional<LanguageEvaluation> stored = state->load(pair.task->name, pair.language, pair.file_hash);
      if (stored && stored->items.size() == pair.items.size() && holds_items_of(pair, 0, *stored)) {
        std::fprintf(stderr, "%s/%s: resumed from %s (%ld/%zu correct)\n", pair.task->name.c_str(),
                     pair.language.c_str(), state->directory().c_str(), static_cast<long>(stored->correct()),
                     stored->items.size());
        results[job] = std::move(stored);
        continue;
      }
      done[job] = reusable_pieces(*state, pair);
      kept_items[job] = items_in(done[job]);
    }
    if (kept_items[job] == pair.items.size()) {
      complete(job);
      continue;
    }
    if (schedule.max_pairs > 0 && started_pairs >= schedule.max_pairs) continue;
    ++started_pairs;
    for (const Piece& piece : missing_pieces(job, pair.items.size(), done[job], schedule.piece_items))
      planned.push_back(piece);
  }
  if (schedule.max_items > 0) {
    size_t count = 0, items = 0;
    for (; count < planned.size() && items < static_cast<size_t>(schedule.max_items); ++count)
      items += planned[count].end - planned[count].begin;
    planned.resize(count);
  }
  for (size_t job = 0; job < jobs.size(); ++job) {
    if (kept_items[job] == 0) continue;
    size_t now = 0;
    for (const Piece& piece : planned) now += piece.job == job ? piece.end - piece.begin : 0;
    if (now > 0)
      std::fprintf(stderr, "%s/%s: resumed %zu of %zu items from %s; evaluating %zu more\n",
                   jobs[job].task->name.c_str(), jobs[job].language.c_str(), kept_items[job],
                   jobs[job].items.size(), state->directory().c_str(), now);
  }
  return planned;
}

// Rank 0's plan, as every rank receives it.
std::vector<Piece> shared_plan(distributed::ProcessGroup& group, std::vector<Piece> planned) {
  if (group.world_size() > 1) {
    io::Json plan = io::Json::array();
    for (const Piece& piece : planned) plan.push_back({piece.job, piece.begin, piece.end});
    planned.clear();
    for (const io::Json& piece : io::Json::parse(group.all_gather_text(plan.dump()).front()))
      planned.push_back({piece[0].get<size_t>(), piece[1].get<size_t>(), piece[2].get<size_t>()});
  }
  return planned;
}

// The planned pieces cut so that, when there are fewer than ranks, every rank has items to evaluate;
// `costs` gets each one's item count.
std::vector<Piece> cut_for_ranks(const std::vector<Piece>& planned, int world_size, std::vector<int64_t>& costs) {
  const size_t cuts = planned.empty() ? 1 : (static_cast<size_t>(world_size) + planned.size() - 1) / planned.size();
  std::vector<Piece> pieces;
  for (const Piece& whole : planned)
    for (const auto& [begin, end] : distributed::split_range(whole.end - whole.begin, cuts)) {
      pieces.push_back({whole.job, whole.begin + begin, whole.begin + end});
      costs.push_back(static_cast<int64_t>(end - begin));
    }
  return pieces;
}

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
    const std::vector<PairJob>& jobs, const EvaluationOptions& options, const PairSchedule& schedule,
    const RunState* state, const std::function<void(const PairJob&, const LanguageEvaluation&)>& finished) {
  std::vector<std::optional<LanguageEvaluation>> results(jobs.size());
  // Rank 0's finished pieces of each pair not yet complete: kept from an earlier run, then evaluated.
  std::vector<std::vector<PairPiece>> done(jobs.size());
  const auto complete = [&](size_t job) {
    std::sort(done[job].begin(), done[job].end(),
              [](const PairPiece& a, const PairPiece& b) { return a.begin < b.begin; });
    std::vector<LanguageEvaluation> ordered;
    for (PairPiece& piece : done[job]) ordered.push_back(std::move(piece.evaluation));
    done[job].clear();
    results[job] = join_pieces(ordered);
    if (state) state->store(*results[job], jobs[job].file_hash);
    finished(jobs[job], *results[job]);
  };

  // Rank 0 decides what runs now, as only its state directory is sure to exist.
  std::vector<Piece> planned;
  if (group.is_main()) planned = plan_pieces(jobs, schedule, state, results, done, complete);
  planned = shared_plan(group, std::move(planned));
  std::vector<int64_t> costs;
  const std::vector<Piece> pieces = cut_for_ranks(planned, group.world_size(), costs);
  // A rank's pieces of one pair come one after another (pieces are in pair order), so one progress
  // line and one prefix cache serve all of them.
  const std::vector<int> owner = distributed::assign_units(costs, group.world_size());
  std::vector<size_t> share(jobs.size(), 0);
  for (size_t unit = 0; unit < pieces.size(); ++unit)
    if (owner[unit] == group.rank()) share[pieces[unit].job] += pieces[unit].end - pieces[unit].begin;

  std::optional<LanguageEvaluator> evaluator;
  std::unique_ptr<io::Progress> progress;
  size_t current_job = 0;
  int64_t correct = 0;
  const auto work = [&](size_t unit) {
    const Piece& piece = pieces[unit];
    const PairJob& job = jobs[piece.job];
    if (!evaluator || current_job != piece.job) {
      current_job = piece.job;
      evaluator.emplace(model, tokenizer, *job.task, job.language, options);
      std::string label = job.task->name + "/" + job.language;
      if (share[piece.job] < job.items.size())
        label += fmt::format(" ({} of {} items)", share[piece.job], job.items.size());
      if (group.world_size() > 1) label = fmt::format("[rank {}] {}", group.rank(), label);
      progress = std::make_unique<io::Progress>(label, static_cast<int64_t>(share[piece.job]), "items");
      correct = 0;
    }
    const std::vector<data::TaskItem> items(job.items.begin() + static_cast<std::ptrdiff_t>(piece.begin),
                                            job.items.begin() + static_cast<std::ptrdiff_t>(piece.end));
    const LanguageEvaluation evaluation = evaluator->evaluate(items, [&](int64_t count) { progress->advance(count); });
    correct += evaluation.correct();
    if (progress->done() == static_cast<int64_t>(share[piece.job])) {
      progress->finish(fmt::format("accuracy {:.1f}%", 100.0 * static_cast<double>(correct) /
                                                          static_cast<double>(share[piece.job])));
      evaluator.reset();  // frees the prefix cache
      progress.reset();
    }
    return language_evaluation_to_json(evaluation).dump();
  };
  const auto on_result = [&](size_t unit, const std::string& text) {
    if (!group.is_main()) return;
    const Piece& piece = pieces[unit];
    const PairJob& job = jobs[piece.job];
    const std::string origin =
        fmt::format("(evaluation of {}/{} items {}-{} sent by a rank)", job.task->name, job.language, piece.begin,
                    piece.end);
    done[piece.job].push_back({piece.begin, language_evaluation_from_json(io::Json::parse(text), origin)});
    if (items_in(done[piece.job]) == job.items.size())
      complete(piece.job);
    else if (state)
      state->store_piece(done[piece.job].back(), job.file_hash);
  };
  distributed::run_shared_work(group, costs, work, on_result);
  if (!group.is_main()) return {};
  return results;
}

}  // namespace qtalign::eval
