#include "eval/evaluator.h"

#include <gtest/gtest.h>

#include <set>

#include "data/prompt_format.h"
#include "data/task_file.h"
#include "data/task_items.h"
#include "eval/eval_test_support.h"
#include "eval/few_shot.h"
#include "eval/label_tokens.h"
#include "eval/shared_evaluation.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "model/transformer.h"

namespace qtalign::eval {
namespace {

class Evaluator : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new Shared{data::load_protocol(testing::shared_data_dir()),
                         tokenizer::Tokenizer::from_file(testing::qwen_tokenizer_file()), testing::tiny_qwen_model()};
  }
  static void TearDownTestSuite() { delete shared_; }

  static const data::Protocol& protocol() { return shared_->protocol; }
  static const tokenizer::Tokenizer& tokenizer() { return shared_->tokenizer; }
  static const model::Model& model() { return shared_->model; }

  static std::vector<data::TaskItem> first_items(const std::string& task, const std::string& language, size_t count) {
    std::vector<data::TaskItem> items = data::read_test_set(protocol(), task, language);
    items.resize(count);
    return items;
  }

  // The reference scores of one item: the whole prompt run alone, no cache, no batching; prefix-sum
  // from the softmax at its last position, sequence from the prompt followed by each label's tokens.
  static std::vector<double> reference_scores(const data::TaskProtocol& task, const std::string& language,
                                              const data::TaskItem& item, ScoringMode mode) {
    const std::string& template_text = task.language(language).template_text;
    std::vector<std::vector<int64_t>> continuations;
    for (const std::string& label : task.labels)
      continuations.push_back(
          label_sequence_ids(tokenizer(), template_text.substr(template_text.rfind('}') + 1), label));
    return reference_scores(tokenizer().encode(data::evaluation_prompt(task, language, item), true), task.labels,
                            continuations, mode);
  }

  // The same for given prompt ids, words scored by prefix-sum and token continuations scored by sequence.
  static std::vector<double> reference_scores(const std::vector<int64_t>& prompt, const std::vector<std::string>& words,
                                              const std::vector<std::vector<int64_t>>& continuations, ScoringMode mode) {
    const int64_t last_prompt_position = static_cast<int64_t>(prompt.size()) - 1;
    // Log-probabilities of the next token at positions last_prompt_position onwards of `ids`.
    const auto next_token_log_probs = [&](const std::vector<int64_t>& ids) {
      const at::Tensor input = at::tensor(ids, at::kLong).view({1, -1});
      const at::Tensor hidden = model::forward(model(), {input, at::Tensor(), nullptr}).final_hidden[0];
      const at::Tensor scored = hidden.narrow(0, last_prompt_position, hidden.size(0) - last_prompt_position);
      return at::log_softmax(model::logits(model(), scored), -1).to(at::kDouble);
    };
    std::vector<double> scores;
    if (mode == ScoringMode::prefix_sum) {
      const at::Tensor probabilities = next_token_log_probs(prompt)[0].exp();
      for (const std::string& word : words) {
        double sum = 0.0;
        for (const int64_t id : prefix_sum_candidates(tokenizer(), word)) sum += probabilities[id].item<double>();
        scores.push_back(sum);
      }
      return scores;
    }
    for (const std::vector<int64_t>& continuation : continuations) {
      std::vector<int64_t> ids = prompt;
      ids.insert(ids.end(), continuation.begin(), continuation.end());
      const at::Tensor log_probs = next_token_log_probs(ids);
      double sum = 0.0;
      for (size_t j = 0; j < continuation.size(); ++j)
        sum += log_probs[static_cast<int64_t>(j)][continuation[j]].item<double>();
      scores.push_back(sum);
    }
    return scores;
  }

  static void expect_matches_reference(const std::string& task_name, const std::string& language,
                                       const EvaluationOptions& options, double tolerance) {
    SCOPED_TRACE(task_name + "/" + language);
    const data::TaskProtocol& task = protocol().task(task_name);
    const std::vector<data::TaskItem> items = first_items(task_name, language, 5);
    int64_t reported = 0;
    const LanguageEvaluation result =
        evaluate_language(model(), tokenizer(), task, language, items, options, [&](int64_t count) { reported += count; });
    EXPECT_EQ(reported, 5);
    ASSERT_EQ(result.items.size(), items.size());
    EXPECT_EQ(result.labels, task.labels);
    EXPECT_EQ(result.prefix_fallbacks, 0);
    EXPECT_EQ(result.prefix_tokens > 0, options.prefix_cache);
    for (size_t i = 0; i < items.size(); ++i) {
      const ItemResult& item = result.items[i];
      EXPECT_EQ(item.index, items[i].index);
      EXPECT_EQ(item.label, items[i].label);
      EXPECT_EQ(item.cached, options.prefix_cache);
      const std::vector<double> expected = reference_scores(task, language, items[i], options.mode);
      ASSERT_EQ(item.scores.size(), expected.size());
      for (size_t label = 0; label < expected.size(); ++label)
        EXPECT_NEAR(item.scores[label], expected[label], tolerance) << "item " << i << " label " << label;
      const size_t best = std::max_element(expected.begin(), expected.end()) - expected.begin();
      EXPECT_EQ(item.prediction, task.labels[best]);
    }
  }

 private:
  struct Shared {
    data::Protocol protocol;
    tokenizer::Tokenizer tokenizer;
    model::Model model;
  };
  static Shared* shared_;
};
Evaluator::Shared* Evaluator::shared_ = nullptr;

TEST_F(Evaluator, PrefixSumWithPrefixCacheMatchesWholePromptReference) {
  EvaluationOptions options;
  options.batch_size = 2;
  expect_matches_reference("snli", "en", options, 1e-5);
  expect_matches_reference("emotion", "zh", options, 1e-5);
}

TEST_F(Evaluator, PrefixSumWithoutCacheMatchesWholePromptReference) {
  EvaluationOptions options;
  options.batch_size = 3;
  options.prefix_cache = false;
  expect_matches_reference("paws", "de", options, 1e-5);
}

TEST_F(Evaluator, SequenceModeMatchesWholePromptReference) {
  EvaluationOptions options;
  options.mode = ScoringMode::sequence;
  options.batch_size = 3;
  expect_matches_reference("snli", "zh", options, 1e-4);
  options.prefix_cache = false;
  expect_matches_reference("emotion", "en", options, 1e-4);
}

TEST_F(Evaluator, BatchSizeDoesNotChangeScores) {
  const data::TaskProtocol& task = protocol().task("paws");
  const std::vector<data::TaskItem> items = first_items("paws", "ja", 6);
  EvaluationOptions single;
  single.batch_size = 1;
  EvaluationOptions batched;
  batched.batch_size = 4;
  const LanguageEvaluation a = evaluate_language(model(), tokenizer(), task, "ja", items, single);
  const LanguageEvaluation b = evaluate_language(model(), tokenizer(), task, "ja", items, batched);
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(a.items[i].prediction, b.items[i].prediction);
    for (size_t label = 0; label < task.labels.size(); ++label)
      EXPECT_NEAR(a.items[i].scores[label], b.items[i].scores[label], 1e-6);
  }
}

TEST_F(Evaluator, PrefixSumUnembedsTheRowsOfSeveralBatchesTogetherAsEachItemAlone) {
  // 70 items in batches of 8: the scored rows of 8 batches (64) share one unembedding, the last 6 another.
  const data::TaskProtocol& task = protocol().task("emotion");
  const std::vector<data::TaskItem> items = first_items("emotion", "fr", 70);
  EvaluationOptions options;
  options.batch_size = 8;
  std::vector<int64_t> reports;
  const LanguageEvaluation result = evaluate_language(model(), tokenizer(), task, "fr", items, options,
                                                      [&](int64_t count) { reports.push_back(count); });
  EXPECT_EQ(reports, (std::vector<int64_t>{64, 6}));
  ASSERT_EQ(result.items.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE("item " + std::to_string(i));
    EXPECT_EQ(result.items[i].index, items[i].index);
    const std::vector<double> expected = reference_scores(task, "fr", items[i], ScoringMode::prefix_sum);
    ASSERT_EQ(result.items[i].scores.size(), expected.size());
    for (size_t label = 0; label < expected.size(); ++label)
      EXPECT_NEAR(result.items[i].scores[label], expected[label], 1e-5) << "label " << label;
  }
}

TEST_F(Evaluator, RunsOfOneEvaluatorScoreAsFreshEvaluationsAndJoinToOneRun) {
  const data::TaskProtocol& task = protocol().task("snli");
  const std::vector<data::TaskItem> items = first_items("snli", "de", 5);
  const std::vector<data::TaskItem> head(items.begin(), items.begin() + 2), tail(items.begin() + 2, items.end());
  EvaluationOptions options;
  options.batch_size = 2;
  LanguageEvaluator evaluator(model(), tokenizer(), task, "de", options);
  const LanguageEvaluation first = evaluator.evaluate(head);
  int64_t reported = 0;
  const LanguageEvaluation second = evaluator.evaluate(tail, [&](int64_t count) { reported += count; });
  EXPECT_EQ(reported, 3);
  // The second run reuses the first one's prefix cache: the same scores, bit for bit, as a run of its
  // own, which computes the prefix afresh, and the same counts (its prefix included).
  const LanguageEvaluation fresh = evaluate_language(model(), tokenizer(), task, "de", tail, options);
  ASSERT_EQ(second.items.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second.items[i].index, tail[i].index);
    EXPECT_EQ(second.items[i].scores, fresh.items[i].scores) << "item " << i;
  }
  EXPECT_GT(second.prefix_tokens, 0);
  EXPECT_EQ(second.prefix_tokens, fresh.prefix_tokens);
  EXPECT_EQ(second.computed_tokens, fresh.computed_tokens);
  // Joined, the runs count what one run over all five items counts; scores differ at most by batching.
  const LanguageEvaluation whole = evaluate_language(model(), tokenizer(), task, "de", items, options);
  const LanguageEvaluation joined = join_pieces({first, second});
  EXPECT_EQ(joined.computed_tokens, whole.computed_tokens);
  EXPECT_EQ(joined.prefix_tokens, whole.prefix_tokens);
  ASSERT_EQ(joined.items.size(), whole.items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(joined.items[i].index, whole.items[i].index);
    EXPECT_EQ(joined.items[i].prediction, whole.items[i].prediction);
    for (size_t label = 0; label < task.labels.size(); ++label)
      EXPECT_NEAR(joined.items[i].scores[label], whole.items[i].scores[label], 1e-6);
  }
}

TEST_F(Evaluator, CountsTokensRunThroughTheModel) {
  const data::TaskProtocol& task = protocol().task("emotion");
  const std::vector<data::TaskItem> items = first_items("emotion", "fr", 3);
  const LanguageEvaluation cached = evaluate_language(model(), tokenizer(), task, "fr", items, {});
  int64_t prompt_tokens = 0;
  for (const ItemResult& item : cached.items) prompt_tokens += item.prompt_tokens;
  // The prefix runs once instead of once per item.
  EXPECT_EQ(cached.computed_tokens, prompt_tokens - 2 * cached.prefix_tokens);
  EvaluationOptions whole;
  whole.prefix_cache = false;
  EXPECT_EQ(evaluate_language(model(), tokenizer(), task, "fr", items, whole).computed_tokens, prompt_tokens);
}

TEST_F(Evaluator, RejectsPromptsLongerThanTheContext) {
  model::Model short_context = model();
  short_context.config.max_position_embeddings = 64;
  try {
    evaluate_language(short_context, tokenizer(), protocol().task("snli"), "en", first_items("snli", "en", 2), {});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("snli/en item 0"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("context of 64"), std::string::npos) << error.what();
  }
}

// With truncate_left, a prompt too long for the context loses the tokens right after the shared prefix
// (its encoding kept whole) and is scored exactly like that cut prompt run alone; prompts that fit
// are untouched, and a prefix that alone leaves no room is still an error naming the item.
TEST_F(Evaluator, TruncateLeftCutsTheItemAfterThePrefix) {
  const data::TaskProtocol& task = protocol().task("snli");
  const std::vector<data::TaskItem> items = first_items("snli", "en", 4);
  const LabelTokens label_tokens = label_tokens_for(tokenizer(), task, "en");
  size_t longest_label = 0;
  for (const auto& sequence : label_tokens.sequences) longest_label = std::max(longest_label, sequence.size());
  const std::vector<int64_t> prefix = tokenizer().encode(data::shared_prompt_prefix(task, "en"), true);
  std::vector<std::vector<int64_t>> prompts;
  std::vector<size_t> kept;  // tokens of the prefix's own encoding each prompt starts with
  size_t shortest = SIZE_MAX, longest = 0;
  for (const data::TaskItem& item : items) {
    prompts.push_back(tokenizer().encode(data::evaluation_prompt(task, "en", item), true));
    kept.push_back(0);
    while (kept.back() < prefix.size() && prefix[kept.back()] == prompts.back()[kept.back()]) ++kept.back();
    // The prefix ends in "Premise: "; its last token, the space, merges with the premise's first word.
    EXPECT_EQ(kept.back(), prefix.size() - 1);
    shortest = std::min(shortest, prompts.back().size());
    longest = std::max(longest, prompts.back().size());
  }
  ASSERT_LT(shortest, longest);
  // A context the shortest prompt fits exactly, with its longest label: the others are cut.
  model::Model short_context = model();
  short_context.config.max_position_embeddings = static_cast<int64_t>(shortest + longest_label);
  EvaluationOptions options;
  options.truncate_left = true;
  options.batch_size = 3;
  const LanguageEvaluation result = evaluate_language(short_context, tokenizer(), task, "en", items, options);

  int64_t cut = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<int64_t> expected_ids = prompts[i];
    const size_t excess = expected_ids.size() - shortest;
    expected_ids.erase(expected_ids.begin() + kept[i], expected_ids.begin() + kept[i] + excess);
    cut += excess > 0;
    EXPECT_EQ(result.items[i].prompt_tokens, static_cast<int64_t>(shortest)) << i;
    const at::Tensor input = at::tensor(expected_ids, at::kLong).view({1, -1});
    const at::Tensor hidden = model::forward(model(), {input, at::Tensor(), nullptr}).final_hidden[0][-1];
    const at::Tensor probabilities = at::softmax(model::logits(model(), hidden.unsqueeze(0)), -1)[0].to(at::kDouble);
    for (size_t label = 0; label < task.labels.size(); ++label) {
      double sum = 0.0;
      for (const int64_t id : label_tokens.candidates[label]) sum += probabilities[id].item<double>();
      EXPECT_NEAR(result.items[i].scores[label], sum, 1e-5) << "item " << i << " label " << label;
    }
  }
  EXPECT_EQ(result.truncated_prompts, cut);
  EXPECT_GT(cut, 0);

  // Room for the kept prefix tokens and the longest label, none for a token of the item.
  short_context.config.max_position_embeddings = static_cast<int64_t>(kept[0] + longest_label);
  try {
    evaluate_language(short_context, tokenizer(), task, "en", items, options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("snli/en item 0: even cut"), std::string::npos) << error.what();
  }
}

// Same-language Thai (prompts.json forced_prefix "เชิง"): the prompt text, then the prefix's own tokens
// without special tokens, and the remainders บวก / ลบ scored; predictions stay English labels.
TEST_F(Evaluator, ThaiSameLanguageAppendsTheForcedPrefixAndScoresTheRemainders) {
  const data::TaskProtocol& task = protocol().task("emotion");
  const std::vector<data::TaskItem> items = first_items("emotion", "th", 3);
  const std::vector<int64_t> prefix = tokenizer().encode("เชิง", /*add_special_tokens=*/false);
  ASSERT_FALSE(prefix.empty());
  const std::vector<std::string> remainders = {"บวก", "ลบ"};  // positive, negative
  std::vector<std::vector<int64_t>> continuations;
  for (const std::string& remainder : remainders) continuations.push_back(tokenizer().encode(remainder + "\"", false));
  const LabelTokens tokens = label_tokens_for(tokenizer(), task, "th", data::AnswerType::same_language);
  EXPECT_EQ(tokens.forced_prefix, prefix);
  EXPECT_EQ(tokens.sequences, continuations);
  EXPECT_EQ(tokens.candidates[1], prefix_sum_candidates(tokenizer(), "ลบ"));
  for (const ScoringMode mode : {ScoringMode::prefix_sum, ScoringMode::sequence}) {
    SCOPED_TRACE(scoring_mode_name(mode));
    EvaluationOptions options;
    options.mode = mode;
    options.batch_size = 2;
    options.answer_type = data::AnswerType::same_language;
    const LanguageEvaluation result = evaluate_language(model(), tokenizer(), task, "th", items, options);
    EXPECT_EQ(result.labels, task.labels);
    for (size_t i = 0; i < items.size(); ++i) {
      std::vector<int64_t> prompt =
          tokenizer().encode(data::evaluation_prompt(task, "th", items[i], data::AnswerType::same_language), true);
      prompt.insert(prompt.end(), prefix.begin(), prefix.end());
      EXPECT_EQ(result.items[i].prompt_tokens, static_cast<int64_t>(prompt.size()));
      const std::vector<double> expected = reference_scores(prompt, remainders, continuations, mode);
      ASSERT_EQ(result.items[i].scores.size(), 2u);
      for (size_t label = 0; label < 2; ++label)
        EXPECT_NEAR(result.items[i].scores[label], expected[label], mode == ScoringMode::prefix_sum ? 1e-5 : 1e-3)
            << "item " << i;
      EXPECT_EQ(result.items[i].prediction, expected[0] >= expected[1] ? "positive" : "negative");
    }
  }
}

// Task-agnostic answers: the rewritten demonstrations and "ox"/"horse" scored, English labels predicted.
TEST_F(Evaluator, TaskAgnosticScoresTheStandInWords) {
  const data::TaskProtocol& task = protocol().task("emotion");
  const std::vector<data::TaskItem> items = first_items("emotion", "zh", 2);
  EvaluationOptions options;
  options.answer_type = data::AnswerType::task_agnostic;
  const LanguageEvaluation result = evaluate_language(model(), tokenizer(), task, "zh", items, options);
  const std::string& template_text = task.language("zh").template_text;
  const std::string tail = template_text.substr(template_text.rfind('}') + 1);
  const std::vector<std::vector<int64_t>> continuations = {label_sequence_ids(tokenizer(), tail, "ox"),
                                                           label_sequence_ids(tokenizer(), tail, "horse")};
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string prompt = data::evaluation_prompt(task, "zh", items[i], data::AnswerType::task_agnostic);
    ASSERT_NE(prompt.find("情感: \"ox\""), std::string::npos);
    const std::vector<double> expected =
        reference_scores(tokenizer().encode(prompt, true), {"ox", "horse"}, continuations, ScoringMode::prefix_sum);
    EXPECT_NEAR(result.items[i].scores[0], expected[0], 1e-5);
    EXPECT_NEAR(result.items[i].scores[1], expected[1], 1e-5);
    EXPECT_EQ(result.items[i].prediction, expected[0] >= expected[1] ? "positive" : "negative");
  }
}

// Option-text scoring: each item's candidates are its own options, scored as the sum of the log-
// probabilities of the option's tokens and the closing quote after the prompt. Checked against the
// prompt and the option encoded together and run whole (no cache, no batch), for options of several
// token lengths, prompts of different lengths padded into shared batches, with and without the prefix cache,
// and the default prefix-sum mode overridden by the task file.
TEST_F(Evaluator, OptionTextScoresEachItemsOptionsByTheirLogLikelihood) {
  testing::TempDir dir;
  io::write_file_atomically(dir / "dev.jsonl",
                            "{\"q\": \"Where do fish live?\", \"o1\": \"water\", \"o2\": \"trees\", \"o3\": \"sand\", \"gold\": \"water\"}\n"
                            "{\"q\": \"What do cows say?\", \"o1\": \"bark\", \"o2\": \"moo\", \"o3\": \"meow\", \"gold\": \"moo\"}\n"
                            "{\"q\": \"What is ice?\", \"o1\": \"steam\", \"o2\": \"fire\", \"o3\": \"frozen water\", \"gold\": \"frozen water\"}\n");
  io::write_file_atomically(dir / "test.jsonl",
                            "{\"q\": \"Capital of France?\", \"o1\": \"Paris\", \"o2\": \"the city of Rome, in Italy\", \"o3\": \"Oslo\", \"gold\": \"Paris\"}\n"
                            "{\"q\": \"Which animal is the largest of all that ever lived on the earth?\", \"o1\": \"an ant\", \"o2\": \"blue whale\", \"o3\": \"a small grey mouse from the fields\", \"gold\": \"blue whale\"}\n"
                            "{\"q\": \"How much are two and two together?\", \"o1\": \"five\", \"o2\": \"three\", \"o3\": \"four\", \"gold\": \"four\"}\n");
  io::write_file_atomically(dir / "quiz.json", R"({"options": ["o1", "o2", "o3"], "scoring": "option_text", "shots": 3,
    "template": "{demonstrations}\nQuestion: {q}\nAnswer: \"", "items": {"answer": "gold"},
    "languages": [{"code": "en", "name": "English", "items": "test.jsonl", "demonstrations": {"dev": "dev.jsonl"}}]})");
  const data::TaskProtocol task = data::read_task_file(dir / "quiz.json");
  const std::vector<data::TaskItem> items = data::read_task_items(task.language("en").file, task, "en");
  ASSERT_EQ(items.size(), 3u);

  std::vector<std::vector<double>> expected(items.size());
  std::set<size_t> option_lengths, prompt_lengths;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string prompt = data::evaluation_prompt(task, "en", items[i]);
    const std::vector<int64_t> prompt_ids = tokenizer().encode(prompt, true);
    prompt_lengths.insert(prompt_ids.size());
    for (const std::string& option : task.options) {
      const std::vector<int64_t> whole = tokenizer().encode(prompt + items[i].fields.at(option) + "\"", true);
      ASSERT_TRUE(std::equal(prompt_ids.begin(), prompt_ids.end(), whole.begin()));
      const std::vector<int64_t> continuation(whole.begin() + static_cast<std::ptrdiff_t>(prompt_ids.size()), whole.end());
      option_lengths.insert(continuation.size());
      const at::Tensor input = at::tensor(whole, at::kLong).view({1, -1});
      const at::Tensor hidden = model::forward(model(), {input, at::Tensor(), nullptr}).final_hidden[0];
      const at::Tensor log_probs = at::log_softmax(model::logits(model(), hidden), -1).to(at::kDouble);
      double sum = 0.0;
      for (size_t j = 0; j < continuation.size(); ++j)
        sum += log_probs[static_cast<int64_t>(prompt_ids.size() + j) - 1][continuation[j]].item<double>();
      expected[i].push_back(sum);
    }
  }
  ASSERT_GE(option_lengths.size(), 3u);
  ASSERT_GE(*option_lengths.rbegin() - *option_lengths.begin(), 4u);
  ASSERT_EQ(prompt_lengths.size(), 3u);  // every batch of two pads its shorter prompt

  for (const bool cache : {true, false}) {
    SCOPED_TRACE(cache ? "prefix cache" : "no cache");
    EvaluationOptions options;  // prefix-sum, which the task file's scoring overrides
    options.batch_size = 2;
    options.prefix_cache = cache;
    const LanguageEvaluation result = evaluate_language(model(), tokenizer(), task, "en", items, options);
    EXPECT_EQ(result.mode, "sequence");
    EXPECT_EQ(result.labels, (std::vector<std::string>{"A", "B", "C"}));
    EXPECT_EQ(result.prefix_tokens > 0, cache);
    for (size_t i = 0; i < items.size(); ++i) {
      const ItemResult& item = result.items[i];
      EXPECT_EQ(item.label, std::vector<std::string>({"A", "B", "C"})[i]);
      ASSERT_EQ(item.scores.size(), 3u);
      // float32 rounding, relative to sums of up to nine log-probabilities
      for (size_t o = 0; o < 3; ++o)
        EXPECT_NEAR(item.scores[o], expected[i][o], 1e-5 * std::max(1.0, std::abs(expected[i][o])))
            << "item " << i << " option " << o;
      const size_t best = std::max_element(expected[i].begin(), expected[i].end()) - expected[i].begin();
      EXPECT_EQ(item.prediction, task.labels[best]) << "item " << i;
    }
  }
  // The demonstrations answer with option texts, so a cut to fewer shots keeps their answer lines.
  const data::TaskProtocol one_shot = with_shots(task, 1);
  EXPECT_EQ(one_shot.language("en").demonstrations, "Question: Where do fish live?\nAnswer: \"water\"");
  // Answer types other than English have no option texts to use.
  EvaluationOptions same_language;
  same_language.answer_type = data::AnswerType::same_language;
  EXPECT_NE(testing::error_of([&] { evaluate_language(model(), tokenizer(), task, "en", items, same_language); })
                .find("scores each option's own text"),
            std::string::npos);
}

// Sequence scoring reads each label's tokens after the prompt from the template's ending alone; on the
// real prompts of every language that equals encoding the prompt and the label together.
TEST_F(Evaluator, LabelSequencesContinueEveryRealPrompt) {
  const auto mistral = tokenizer::Tokenizer::from_file(testing::mistral_tokenizer_file());
  for (const tokenizer::Tokenizer* tokenizer : {&Evaluator::tokenizer(), &mistral}) {
    for (const std::string& task_name : protocol().task_names()) {
      const data::TaskProtocol& task = protocol().task(task_name);
      for (const std::string& language : protocol().languages) {
        const LabelTokens tokens = label_tokens_for(*tokenizer, task, language);
        for (const data::TaskItem& item : first_items(task_name, language, 2)) {
          const std::string prompt = data::evaluation_prompt(task, language, item);
          const std::vector<int64_t> prompt_ids = tokenizer->encode(prompt, true);
          for (size_t label = 0; label < task.labels.size(); ++label) {
            std::vector<int64_t> expected = prompt_ids;
            expected.insert(expected.end(), tokens.sequences[label].begin(), tokens.sequences[label].end());
            EXPECT_EQ(tokenizer->encode(prompt + task.labels[label] + "\"", true), expected)
                << task_name << "/" << language << " item " << item.index << " label " << task.labels[label];
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace qtalign::eval
