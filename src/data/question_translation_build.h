#pragma once
// Building a question-translation training set for one task and a mixture of languages: where each
// language's questions come from, keeping evaluation items out, and the seeded draw.
//
// Sources, per language X:
//   shipped:   the study's set (prompts.json question_translation.shipped_sets; snli de/es/it/sw/zh),
//              aligned with the English training file; index = position in it.
//   test_sets: the parallel test sets (X file and English file of the task); index = test item.
//   files:     two parallel files given by the user (one language).
//   automatic: shipped where the task has a shipped set for X (and the target is English), test_sets otherwise.
// The target (English by default) is the language every question is translated into; shipped sets
// translate into English only, test_sets and files into any language (the second file is then the
// target language's). The target is never also a source.
// The mixture: `size` examples split evenly over the languages (remainder to the first ones); each
// language's share is drawn without replacement from its pool with a generator seeded by (seed, X),
// after repeated English targets in the pool are dropped (first kept); the mixture is then shuffled.
// size 0 takes every available example of every language.
//
// Keeping evaluation items out (exclude_test): an EvaluationSplit of the task's test indices is made.
// When some language draws from the test sets, eval_fraction of each label's items (seeded) go to
// evaluation and only the remaining indices may be drawn; otherwise every test item is evaluation.
// In both cases any example whose target equals the English question of an evaluation item is dropped.
// Evaluate only split.evaluation_indices afterwards.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/data_dir.h"
#include "data/evaluation_split.h"
#include "data/protocol.h"
#include "data/question_translation.h"
#include "io/options.h"

namespace qtalign::data {

enum class QuestionSource { automatic, shipped, test_sets, files };

struct BuildOptions {
  std::string task;
  std::vector<std::string> languages;  // validated codes, not the target
  std::string target = "en";           // the language of the answers (targets)
  size_t size = 10000;                 // 0 = all available
  uint64_t seed = 0;
  QuestionSource source = QuestionSource::automatic;
  std::filesystem::path file_x, file_target;  // for QuestionSource::files: X and the same items in the target
  bool exclude_test = false;
  double eval_fraction = 0.5;  // share of test items held out when drawing from test sets
};

struct LanguageReport {
  QuestionSource source_kind = QuestionSource::automatic;  // the source used (never automatic)
  std::string source;      // file(s) the questions came from
  size_t available = 0;    // pool size after removing repeats and excluded items
  size_t excluded = 0;     // dropped as evaluation items
  size_t drawn = 0;
};

struct BuildResult {
  std::string target;  // the target language of every example
  std::vector<QuestionTranslationExample> examples;
  std::optional<EvaluationSplit> evaluation_split;  // set when exclude_test
  std::map<std::string, LanguageReport> languages;
};

// Parses "auto", "shipped", "test" or "files"; throws Error listing them.
QuestionSource parse_question_source(const std::string& name);

// Builds the set; throws Error (naming the language, the pool and its size) when a language's share
// exceeds what is available, for parallel files given with another source than files, and for every
// data problem of the files read.
BuildResult build_question_translation_set(const Protocol& protocol, const BuildOptions& options);

// Where a set written to `out` keeps its evaluation split unless told otherwise: <out stem>.eval_split.json.
std::filesystem::path default_split_file(const std::filesystem::path& out);

// Writes a built set: its evaluation split (when it has one) to `split_file`, then the examples to
// `out`, last, so that the examples file marks a finished build.
void write_question_translation_set(const BuildResult& result, const std::filesystem::path& out,
                                    const std::filesystem::path& split_file);

// The languages a model tuned on such a set has seen, as the study counts them: the sources, then the
// target (once, whatever the order given).
std::vector<std::string> seen_languages(const std::vector<std::string>& sources, const std::string& target);

// The options of `qtalign data build` that set `options` (const or not), in the command's order;
// --langs and --source (resolved with the protocol), --split-out, --out and the data are its own.
template <class Options, class Visit, io::IfSpec<Options, BuildOptions> = 0>
void for_each_option(Options& options, Visit&& visit) {
  using io::option;
  visit(option("--task", "emotion, snli, paws or a task file's name").mandatory(), options.task);
  visit(option("--langs", ""), io::CommandOwned{});
  visit(option("--size", "examples in all (0 = all available)").shown(), options.size);
  visit(option("--seed", "seed of the draw and of the evaluation split").shown(), options.seed);
  visit(option("--source", ""), io::CommandOwned{});
  visit(option("--x-file", "with --source files: the task file in X"), options.file_x);
  visit(option("--target", "language the questions are translated into").shown(), options.target);
  visit(option("--target-file,--en-file", "with --source files: the same items in the target language"),
        options.file_target);
  // Without --exclude-test no test items are held out, so --eval-fraction and --split-out would be ignored.
  visit(option("--exclude-test", "keep evaluation items out (see above)"), options.exclude_test);
  visit(option("--eval-fraction", "share of test items kept for evaluation when drawing from test sets")
            .shown()
            .needing("--exclude-test"),
        options.eval_fraction);
  visit(option("--split-out", ""), io::CommandOwned{});
}

// What `qtalign data build --help` says of a set: its examples, the sources, the draw, the evaluation split.
extern const char* const kQuestionTranslationBuildHelp;

}  // namespace qtalign::data
