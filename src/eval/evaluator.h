#pragma once
// Few-shot evaluation of one task in one language with constrained decoding: prompts built from
// prompts.json, tokenized, the shared few-shot prefix run once and its KV cache reused, items batched
// by length, and each item scored in the chosen mode.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/answer_type.h"
#include "data/protocol.h"
#include "data/task_items.h"
#include "eval/prompt_split.h"
#include "eval/scoring.h"
#include "model/model.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::eval {

struct EvaluationOptions {
  ScoringMode mode = ScoringMode::prefix_sum;
  int64_t batch_size = 8;    // items per forward pass
  bool prefix_cache = true;  // run the shared few-shot prefix once and reuse its KV cache
  uint64_t seed = 0;         // for breaking exact ties
  bool truncate_left = false;  // fit prompts longer than the context by cutting the item's first tokens
  data::AnswerType answer_type = data::AnswerType::english;  // how answers are written (demonstrations, words)
};

struct ItemResult {
  size_t index = 0;           // position in the test file
  std::string answer;         // the file's answer value
  std::string label;          // its English label (the gold label)
  std::string prediction;     // the chosen English label (whatever words the answer type scored)
  std::vector<double> scores; // per label, in the task's order: summed probability (prefix-sum) or log-probability (sequence)
  bool cached = false;        // scored through the shared prefix's KV cache
  int64_t prompt_tokens = 0;  // tokens of the whole prompt

  bool correct() const { return prediction == label; }
};

struct LanguageEvaluation {
  std::string task;
  std::string language;
  std::string mode;                 // scoring_mode_name
  std::vector<std::string> labels;  // the English labels, in the task's order
  std::vector<ItemResult> items;    // in test-file order
  int64_t prefix_tokens = 0;        // tokens of the shared prefix (0 without the cache)
  int64_t prefix_fallbacks = 0;     // items run whole because their tokens did not continue the prefix
  int64_t computed_tokens = 0;      // real tokens run through the model (the prefix once)
  int64_t truncated_prompts = 0;    // prompts cut to fit the context (truncate_left)
  double seconds = 0.0;

  int64_t correct() const;
};

// The ids scoring reads for each label of the task, in the task's order.
struct LabelTokens {
  std::vector<std::vector<int64_t>> candidates;  // prefix-sum candidate ids of each scored word
  std::vector<std::vector<int64_t>> sequences;   // scored word tokens plus the closing quote, after the prompt
  std::vector<int64_t> forced_prefix;            // appended to every prompt, no special tokens (Thai same-language)
};

// The label tokens of a task in a language under an answer type: for each label the word it is
// written as (data::answer_words), less a forced prefix. Sequences follow the language's template
// ending; after a forced prefix (its own tokens) they are the remainder and closing quote encoded alone.
LabelTokens label_tokens_for(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                             const std::string& language, data::AnswerType answer_type = data::AnswerType::english);

// Evaluates `items` of `task` in `language` (prompts and words of options.answer_type, each prompt
// followed by the forced prefix's tokens), calling on_items_done(count) as items are scored. A task file
// scoring option_text is scored in sequence mode whatever options.mode says, each item's candidates
// being its options' texts (each followed by the closing quote), its scores their summed log-probabilities. Throws
// Error naming the item when a prompt (with the longest label) exceeds the model's context, unless
// truncate_left: then the tokens right after the shared prefix (demonstrations and the template text
// before the first field) are dropped until it fits, and only a prefix that cannot fit is an error.
LanguageEvaluation evaluate_language(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                     const data::TaskProtocol& task, const std::string& language,
                                     const std::vector<data::TaskItem>& items, const EvaluationOptions& options,
                                     const std::function<void(int64_t)>& on_items_done = {});

// Evaluates runs of one task's items in one language, preparing what the runs share once: the label
// tokens and, at the first run that uses it, the shared prefix's KV cache. Each run's evaluation is the
// one evaluate_language gives for its items alone (its prefix counted as run), so join_pieces of the
// runs of consecutive items equals one evaluation of them all, while the prefix runs only once.
class LanguageEvaluator {
 public:
  // Throws Error for a batch size below 1. The model, tokenizer and task must outlive the evaluator.
  LanguageEvaluator(const model::Model& model, const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                    std::string language, EvaluationOptions options);

  // Evaluates `items` as evaluate_language does, calling on_items_done(count) as items are scored (after
  // each batch; under prefix-sum scoring, after each unembedding of the rows of several batches).
  LanguageEvaluation evaluate(const std::vector<data::TaskItem>& items,
                              const std::function<void(int64_t)>& on_items_done = {});

 private:
  // Items whose scored positions wait to be unembedded together (prefix-sum scoring). The unembedding
  // reads the whole vocabulary matrix on every call (311 MB for Qwen1.5-0.5B in bf16), so one batch's
  // few rows cost that read, not arithmetic; up to kUnembeddingRows rows share one.
  struct PendingPositions {
    std::vector<at::Tensor> hidden;  // the final hidden states [rows, hidden] of each pass
    std::vector<size_t> items;       // the item (position in the evaluated items) of each row, in order
  };
  static constexpr size_t kUnembeddingRows = 64;

  // Each item's prompt ids (cut on the left where allowed and needed, counted in `result`), and under
  // option-text scoring its own candidate sequences in `option_sequences`.
  std::vector<std::vector<int64_t>> encode_prompts(const std::vector<data::TaskItem>& items,
                                                   LanguageEvaluation& result,
                                                   std::vector<std::vector<std::vector<int64_t>>>& option_sequences) const;
  // `ids` cut to fit the model's context with `longest` candidate tokens after it; throws Error when it
  // does not fit and may not be cut, or cannot be cut enough.
  void fit_to_context(std::vector<int64_t>& ids, size_t longest, int64_t item_index, LanguageEvaluation& result) const;
  // The shared prefix's KV cache, computed on first use, or null when no prompt starts with it.
  const model::KVCache* prefix_cache_for(const PromptSplit& split, LanguageEvaluation& result);
  // Prefix-sum scores and predictions of the pending items, from one unembedding of their rows;
  // reports them done and empties `pending`.
  void score_pending(PendingPositions& pending, LanguageEvaluation& result,
                     const std::function<void(int64_t)>& on_items_done) const;
  // Sets the item's scores and the label they choose (exact ties broken by the seeded generator).
  void predict(ItemResult& item, std::vector<double> scores) const;

  const model::Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  const data::TaskProtocol& task_;
  std::string language_;
  EvaluationOptions options_;
  LabelTokens label_tokens_;
  size_t longest_label_ = 0;
  std::string answer_tail_;  // the template text the answer follows, for the options' sequences
  std::vector<int64_t> truncation_prefix_;  // the prefix's own encoding, kept whole by truncate_left
  std::vector<int64_t> cached_prefix_;      // the ids the KV cache holds (empty without the cache)
  std::optional<model::KVCache> prefix_cache_;
};

}  // namespace qtalign::eval
