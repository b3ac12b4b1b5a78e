#include "data/question_translation_build.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_set>

#include "data/question_translation.h"
#include "data/sampling.h"
#include "io/error.h"

namespace qtalign::data {
namespace {

struct Pool {
  std::string language;
  QuestionSource source;
  std::vector<QuestionTranslationExample> examples;
  LanguageReport report;
};

bool has_shipped_set(const Protocol& protocol, const std::string& task, const std::string& language) {
  const auto& shipped = protocol.question_translation.shipped_sets;
  const auto found = shipped.find(task);
  return found != shipped.end() && found->second.count(language);
}

Pool read_pool(const Protocol& protocol, const BuildOptions& options, const std::string& language) {
  Pool pool;
  pool.language = language;
  pool.source = options.source;
  if (pool.source == QuestionSource::automatic)
    pool.source = options.target == "en" && has_shipped_set(protocol, options.task, language) ? QuestionSource::shipped
                                                                                              : QuestionSource::test_sets;
  if (pool.source == QuestionSource::shipped && options.target != "en")
    throw Error(fmt::format("the shipped question-translation sets translate into English only, not {} (use the "
                            "test or files source)",
                            protocol.question_translation.language_name(options.target)));
  pool.report.source_kind = pool.source;
  switch (pool.source) {
    case QuestionSource::shipped:
      pool.examples = read_shipped_set(protocol, options.task, language);
      pool.report.source = protocol.question_translation.shipped_sets.at(options.task).at(language);
      break;
    case QuestionSource::test_sets: {
      const auto file_x = protocol.test_set_path(options.task, language);
      const auto file_target = protocol.test_set_path(options.task, options.target);
      pool.examples = examples_from_parallel_files(protocol, options.task, language, file_x, file_target,
                                                   Answers::required, options.target);
      pool.report.source = protocol.task(options.task).language(language).file + " + " +
                           protocol.task(options.task).language(options.target).file;
      break;
    }
    case QuestionSource::files:
      if (options.file_x.empty() || options.file_target.empty())
        throw Error("the 'files' source needs both parallel files (the task file in X and in the target language)");
      // User files need not carry answers (question translation uses none).
      pool.examples = examples_from_parallel_files(protocol, options.task, language, options.file_x,
                                                   options.file_target, Answers::ignored, options.target);
      pool.report.source = options.file_x.string() + " + " + options.file_target.string();
      break;
    case QuestionSource::automatic:
      break;
  }
  return pool;
}

// The split (of the English test set, whatever the target: the sets are parallel), and the target-language
// questions (as targets) of its evaluation items.
std::pair<EvaluationSplit, std::unordered_set<std::string>> evaluation_items(const Protocol& protocol,
                                                                             const BuildOptions& options,
                                                                             bool draws_from_test_sets) {
  const std::vector<TaskItem> english_test = read_test_set(protocol, options.task, "en");
  const std::vector<TaskItem> target_test = read_test_set(protocol, options.task, options.target);
  EvaluationSplit split =
      split_test_set(options.task, english_test, draws_from_test_sets ? options.eval_fraction : 1.0, options.seed);
  std::unordered_set<std::string> targets;
  for (size_t index : split.evaluation_indices)
    targets.insert(question_translation_target(protocol, options.task, target_test[index], options.target));
  return {std::move(split), std::move(targets)};
}

template <typename Keep>
size_t keep_only(std::vector<QuestionTranslationExample>& examples, Keep keep) {
  const size_t before = examples.size();
  examples.erase(std::remove_if(examples.begin(), examples.end(), [&](const auto& e) { return !keep(e); }),
                 examples.end());
  return before - examples.size();
}

}  // namespace

QuestionSource parse_question_source(const std::string& name) {
  if (name == "auto") return QuestionSource::automatic;
  if (name == "shipped") return QuestionSource::shipped;
  if (name == "test") return QuestionSource::test_sets;
  if (name == "files") return QuestionSource::files;
  throw Error("unknown question source '" + name + "' (valid: auto, shipped, test, files)");
}

BuildResult build_question_translation_set(const Protocol& protocol, const BuildOptions& options) {
  if ((!options.file_x.empty() || !options.file_target.empty()) && options.source != QuestionSource::files)
    throw Error("--x-file and --target-file go with --source files");
  protocol.task(options.task);
  if (options.languages.empty()) throw Error("no tuning language given");
  protocol.require_language(options.target);
  for (const auto& language : options.languages) {
    protocol.require_language(language);
    if (language == options.target)
      throw Error(fmt::format("'{}' cannot be a tuning language when it is the target: question translation goes from "
                              "each source language into {}",
                              language, protocol.question_translation.language_name(options.target)));
  }
  if (options.source == QuestionSource::files && options.languages.size() != 1)
    throw Error("the 'files' source takes exactly one language (the language of the non-English file)");
  if (options.size != 0 && options.size < options.languages.size())
    throw Error(fmt::format("size {} is smaller than the number of languages ({})", options.size, options.languages.size()));

  std::vector<Pool> pools;
  for (const auto& language : options.languages) pools.push_back(read_pool(protocol, options, language));

  BuildResult result;
  result.target = options.target;
  if (options.exclude_test) {
    const bool draws_from_test_sets = std::any_of(pools.begin(), pools.end(), [](const Pool& pool) {
      return pool.source == QuestionSource::test_sets;
    });
    auto [split, evaluation_targets] = evaluation_items(protocol, options, draws_from_test_sets);
    const std::set<int64_t> training(split.training_indices.begin(), split.training_indices.end());
    for (Pool& pool : pools) {
      if (pool.source == QuestionSource::test_sets)
        pool.report.excluded += keep_only(pool.examples, [&](const auto& e) { return training.count(e.index) > 0; });
      pool.report.excluded +=
          keep_only(pool.examples, [&targets = evaluation_targets](const auto& e) { return targets.count(e.target) == 0; });
    }
    result.evaluation_split = std::move(split);
  }

  for (Pool& pool : pools) {
    std::unordered_set<std::string> seen_targets;
    keep_only(pool.examples, [&](const auto& e) { return seen_targets.insert(e.target).second; });
    pool.report.available = pool.examples.size();
  }

  std::vector<size_t> shares;
  if (options.size == 0)
    for (const Pool& pool : pools) shares.push_back(pool.examples.size());
  else
    shares = split_evenly(options.size, pools.size());

  for (size_t k = 0; k < pools.size(); ++k) {
    Pool& pool = pools[k];
    if (shares[k] > pool.examples.size())
      throw Error(fmt::format("{}: {} examples asked for but only {} distinct ones are available{} from {}",
                              pool.language, shares[k], pool.examples.size(),
                              pool.report.excluded ? fmt::format(" after excluding {} evaluation items", pool.report.excluded) : "",
                              pool.report.source));
    std::mt19937_64 generator = seeded_generator(options.seed, "question translation " + options.task + " " + pool.language);
    for (size_t position : sample_without_replacement(pool.examples.size(), shares[k], generator))
      result.examples.push_back(pool.examples[position]);
    pool.report.drawn = shares[k];
    result.languages[pool.language] = pool.report;
  }

  if (result.examples.empty()) throw Error("no question-translation examples left to draw");
  std::vector<size_t> order(result.examples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 generator = seeded_generator(options.seed, "question translation mixture order");
  shuffle_indices(order, generator);
  std::vector<QuestionTranslationExample> mixed;
  mixed.reserve(order.size());
  for (size_t i : order) mixed.push_back(std::move(result.examples[i]));
  result.examples = std::move(mixed);
  return result;
}

std::vector<std::string> seen_languages(const std::vector<std::string>& sources, const std::string& target) {
  std::vector<std::string> seen = sources;
  if (std::find(seen.begin(), seen.end(), target) == seen.end()) seen.push_back(target);
  return seen;
}

std::filesystem::path default_split_file(const std::filesystem::path& out) {
  return out.parent_path() / (out.stem().string() + ".eval_split.json");
}

void write_question_translation_set(const BuildResult& result, const std::filesystem::path& out,
                                    const std::filesystem::path& split_file) {
  if (result.evaluation_split) write_evaluation_split(split_file, *result.evaluation_split);
  write_examples(out, result.examples);
}

const char* const kQuestionTranslationBuildHelp = R"(Build a question-translation training set (JSONL: input, target, language, index).

Each example: the task's question in language X (the test template without demonstrations and
without an answer) + "\nTranslate the input from <Language> to <Target>:\n" as input, the same
question in the target language (--target, English by default) as target. A model tuned on the set
has seen the sources and the target.

Sources (--source): 'shipped' = the study's sets (snli: de, es, it, sw, zh; index = item of
snli_en10k_train.json); 'test' = the parallel test sets (X and English, item by item; the only
non-English text for emotion, paws and the other snli languages); 'files' = --x-file and --target-file,
two parallel task files (one language); 'auto' = shipped where it exists (into English only), test
otherwise.
--size examples are split evenly over --langs (remainder to the first); each language's share is
drawn without replacement (seeded by --seed and the language), repeated targets dropped; 0 = all.

--exclude-test keeps evaluation items out. When a language draws from the test sets, the test
indices are split (stratified by label, seeded) into an evaluation part (--eval-fraction) and a
training part; only training indices are drawn, and the evaluation indices are written to
--split-out (default <out stem>.eval_split.json): evaluate on those items only. Otherwise every
test item is an evaluation item. Either way, examples whose English question equals an evaluation
item's are dropped.
)";

}  // namespace qtalign::data
