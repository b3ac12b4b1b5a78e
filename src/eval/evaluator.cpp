#include "eval/evaluator.h"

#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "data/prompt_format.h"
#include "eval/label_tokens.h"
#include "eval/prompt_split.h"
#include "io/error.h"
#include "model/prompt_batches.h"
#include "model/transformer.h"

namespace qtalign::eval {
namespace {

// The template text after its last field: how every prompt of the language ends (e.g. "\nAnswer: \"").
std::string template_tail(const std::string& template_text) {
  const size_t last_close = template_text.rfind('}');
  return last_close == std::string::npos ? template_text : template_text.substr(last_close + 1);
}

// Rows of `states` [batch, tokens, hidden] at one position per row ([batch] int64): [batch, hidden].
at::Tensor gather_rows(const at::Tensor& states, const at::Tensor& positions) {
  const at::Tensor index = positions.to(states.device()).view({-1, 1, 1}).expand({-1, 1, states.size(2)});
  return states.gather(1, index).squeeze(1);
}

// One row of a batched cache, as a batch-1 cache (views, no copy).
model::KVCache cache_row(const model::KVCache& cache, int64_t row) {
  model::KVCache single;
  for (size_t layer = 0; layer < cache.keys.size(); ++layer) {
    single.keys.push_back(cache.keys[layer].narrow(0, row, 1));
    single.values.push_back(cache.values[layer].narrow(0, row, 1));
  }
  single.attention_mask = cache.attention_mask.narrow(0, row, 1);
  return single;
}

// Sequence scores of one item: log p(first label token | prompt) from the prompt pass, plus the
// log-probabilities of the label's remaining tokens and the closing quote, all labels in one pass
// over the item's cache.
std::vector<double> sequence_scores(const model::Model& model, const model::KVCache& item_cache,
                                    const at::Tensor& next_token_log_probs,
                                    const std::vector<std::vector<int64_t>>& sequences) {
  const int64_t labels = static_cast<int64_t>(sequences.size());
  int64_t width = 0;
  for (const auto& sequence : sequences) width = std::max<int64_t>(width, static_cast<int64_t>(sequence.size()) - 1);
  // Each row feeds all but the last token of a label: position j predicts token j + 1.
  at::Tensor input_ids = at::zeros({labels, width}, at::kLong);
  at::Tensor mask = at::zeros({labels, width}, at::kLong);
  std::vector<int64_t> rows, columns, targets;
  auto ids = input_ids.accessor<int64_t, 2>();
  auto real = mask.accessor<int64_t, 2>();
  for (int64_t label = 0; label < labels; ++label) {
    const auto& sequence = sequences[label];
    for (size_t j = 0; j + 1 < sequence.size(); ++j) {
      ids[label][j] = sequence[j];
      real[label][j] = 1;
      rows.push_back(label);
      columns.push_back(static_cast<int64_t>(j));
      targets.push_back(sequence[j + 1]);
    }
  }
  const at::Tensor first = next_token_log_probs.to(at::kDouble).cpu();
  auto first_values = first.accessor<double, 1>();
  std::vector<double> scores(sequences.size());
  for (size_t label = 0; label < sequences.size(); ++label) scores[label] = first_values[sequences[label].front()];
  if (rows.empty()) return scores;  // every label is a single token

  const model::ForwardOutput output = model::forward(model, {input_ids, mask, &item_cache});
  const at::Device device = output.final_hidden.device();
  const at::Tensor row_index = at::tensor(rows, at::kLong).to(device);
  const at::Tensor column_index = at::tensor(columns, at::kLong).to(device);
  const at::Tensor hidden = output.final_hidden.reshape({-1, output.final_hidden.size(2)})
                                .index_select(0, row_index * width + column_index);
  const at::Tensor log_probs = at::log_softmax(model::logits(model, hidden), -1);
  const at::Tensor picked =
      log_probs.gather(1, at::tensor(targets, at::kLong).to(device).view({-1, 1})).squeeze(1).to(at::kDouble).cpu();
  auto picked_values = picked.accessor<double, 1>();
  for (size_t k = 0; k < rows.size(); ++k) scores[static_cast<size_t>(rows[k])] += picked_values[k];
  return scores;
}

// The token count of the longest of `sequences` (0 for none).
size_t longest_sequence(const std::vector<std::vector<int64_t>>& sequences) {
  size_t longest = 0;
  for (const auto& sequence : sequences) longest = std::max(longest, sequence.size());
  return longest;
}

// Option-text scoring's candidates of an item: each option's text and the closing quote as they
// continue the prompt, in label order; throws Error naming the item and option when the text merges
// with the prompt's last tokens.
std::vector<std::vector<int64_t>> option_text_sequences(const tokenizer::Tokenizer& tokenizer,
                                                        const data::TaskProtocol& task, const std::string& tail,
                                                        const data::TaskItem& item, const std::string& context) {
  std::vector<std::vector<int64_t>> sequences;
  for (size_t o = 0; o < task.options.size(); ++o) {
    try {
      sequences.push_back(label_sequence_ids(tokenizer, tail, item.fields.at(task.options[o])));
    } catch (const Error& error) {
      throw Error(fmt::format("{} item {} option {}: {}", context, item.index, task.labels[o], error.what()));
    }
  }
  return sequences;
}

}  // namespace

int64_t LanguageEvaluation::correct() const {
  return std::count_if(items.begin(), items.end(), [](const ItemResult& item) { return item.correct(); });
}

LabelTokens label_tokens_for(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                             const std::string& language, data::AnswerType answer_type) {
  const data::AnswerWords words = data::answer_words(task, language, answer_type);
  // After separately encoded prefix tokens, the remainder's tokens are its own encoding.
  const std::string tail = words.forced_prefix.empty() ? template_tail(task.language(language).template_text) : "";
  LabelTokens tokens;
  tokens.forced_prefix = tokenizer.encode(words.forced_prefix, /*add_special_tokens=*/false);
  for (const std::string& word : words.scored_words()) {
    tokens.candidates.push_back(prefix_sum_candidates(tokenizer, word));
    tokens.sequences.push_back(label_sequence_ids(tokenizer, tail, word));
  }
  return tokens;
}

LanguageEvaluation evaluate_language(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                     const data::TaskProtocol& task, const std::string& language,
                                     const std::vector<data::TaskItem>& items, const EvaluationOptions& options,
                                     const std::function<void(int64_t)>& on_items_done) {
  return LanguageEvaluator(model, tokenizer, task, language, options).evaluate(items, on_items_done);
}

LanguageEvaluator::LanguageEvaluator(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                     const data::TaskProtocol& task, std::string language, EvaluationOptions options)
    : model_(model), tokenizer_(tokenizer), task_(task), language_(std::move(language)), options_(options) {
  if (options_.batch_size < 1) throw Error("batch size must be at least 1");
  if (task_.option_scoring == data::OptionScoring::option_text) options_.mode = ScoringMode::sequence;
  label_tokens_ = label_tokens_for(tokenizer_, task_, language_, options_.answer_type);
  answer_tail_ = template_tail(task_.language(language_).template_text);
  longest_label_ = longest_sequence(label_tokens_.sequences);
  const std::string prefix_text = data::shared_prompt_prefix(task_, language_, options_.answer_type);
  if (options_.truncate_left) truncation_prefix_ = tokenizer_.encode(prefix_text, /*add_special_tokens=*/true);
  if (options_.prefix_cache) cached_prefix_ = cacheable_prefix_ids(tokenizer_, prefix_text);
}

void LanguageEvaluator::fit_to_context(std::vector<int64_t>& ids, size_t longest, int64_t item_index,
                                       LanguageEvaluation& result) const {
  const int64_t context_length = model_.config.max_position_embeddings;
  const int64_t needed = static_cast<int64_t>(ids.size() + longest);
  if (context_length <= 0 || needed <= context_length) return;
  const std::string context = task_.name + "/" + language_;
  if (!options_.truncate_left)
    throw Error(fmt::format("{} item {}: the prompt and its longest label take {} tokens, more than the model's "
                            "context of {}",
                            context, item_index, needed, context_length));
  // The ids the prompt shares with the prefix's own encoding are kept (all of them unless BPE
  // merges the prefix's last token with the item text); the item's tokens after them are cut.
  const size_t kept = static_cast<size_t>(
      std::mismatch(truncation_prefix_.begin(), truncation_prefix_.end(), ids.begin(), ids.end()).first -
      truncation_prefix_.begin());
  const size_t excess = static_cast<size_t>(needed - context_length);
  if (ids.size() - kept <= excess)
    throw Error(fmt::format("{} item {}: even cut to one token after the {} tokens of the demonstrations, the "
                            "prompt and its longest label do not fit the model's context of {}",
                            context, item_index, kept, context_length));
  ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(kept), ids.begin() + static_cast<std::ptrdiff_t>(kept + excess));
  ++result.truncated_prompts;
}

std::vector<std::vector<int64_t>> LanguageEvaluator::encode_prompts(
    const std::vector<data::TaskItem>& items, LanguageEvaluation& result,
    std::vector<std::vector<std::vector<int64_t>>>& option_sequences) const {
  const std::string context = task_.name + "/" + language_;
  std::vector<std::vector<int64_t>> prompts;
  for (const data::TaskItem& item : items) {
    std::vector<int64_t> ids =
        tokenizer_.encode(data::evaluation_prompt(task_, language_, item, options_.answer_type), /*add_special_tokens=*/true);
    ids.insert(ids.end(), label_tokens_.forced_prefix.begin(), label_tokens_.forced_prefix.end());
    size_t longest = longest_label_;
    if (task_.option_scoring == data::OptionScoring::option_text) {
      option_sequences.push_back(option_text_sequences(tokenizer_, task_, answer_tail_, item, context));
      longest = longest_sequence(option_sequences.back());
    }
    fit_to_context(ids, longest, item.index, result);
    prompts.push_back(std::move(ids));
  }
  return prompts;
}

const model::KVCache* LanguageEvaluator::prefix_cache_for(const PromptSplit& split, LanguageEvaluation& result) {
  if (std::find(split.cached.begin(), split.cached.end(), true) == split.cached.end()) return nullptr;
  // Runs after the first reuse the cache the first one made: the same ids give the same keys and values.
  if (!prefix_cache_) {
    const at::Tensor prefix_ids = at::tensor(split.prefix, at::kLong).view({1, -1});
    model::ForwardOptions keep_cache;
    keep_cache.return_cache = true;
    prefix_cache_ = model::forward(model_, {prefix_ids, at::Tensor(), nullptr}, keep_cache).cache;
  }
  result.prefix_tokens = static_cast<int64_t>(split.prefix.size());
  result.computed_tokens += result.prefix_tokens;
  return &*prefix_cache_;
}

LanguageEvaluation LanguageEvaluator::evaluate(const std::vector<data::TaskItem>& items,
                                               const std::function<void(int64_t)>& on_items_done) {
  const auto start = std::chrono::steady_clock::now();
  const c10::InferenceMode inference;
  if (items.empty()) throw Error(task_.name + "/" + language_ + ": no items to evaluate");

  LanguageEvaluation result;
  result.task = task_.name;
  result.language = language_;
  result.mode = scoring_mode_name(options_.mode);
  result.labels = task_.labels;

  // Under option-text scoring each item's candidates are its own options; otherwise every item's are the labels.
  std::vector<std::vector<std::vector<int64_t>>> option_sequences;
  const std::vector<std::vector<int64_t>> prompts = encode_prompts(items, result, option_sequences);
  const PromptSplit split = split_prompts(cached_prefix_, prompts);
  result.prefix_fallbacks = split.fallbacks();
  const model::KVCache* prefix_cache = prefix_cache_for(split, result);

  result.items.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    ItemResult& item = result.items[i];
    item.index = items[i].index;
    item.answer = items[i].answer;
    item.label = items[i].label;
    item.cached = split.cached[i];
    item.prompt_tokens = static_cast<int64_t>(prompts[i].size());
  }
  PendingPositions pending;
  for (const bool cached_group : {true, false}) {
    std::vector<size_t> members;
    std::vector<std::vector<int64_t>> continuations;
    for (size_t i = 0; i < items.size(); ++i) {
      if (split.cached[i] != cached_group) continue;
      members.push_back(i);
      continuations.push_back(split.continuations[i]);
    }
    if (members.empty()) continue;
    for (const model::PromptBatch& batch : model::make_prompt_batches(continuations, options_.batch_size)) {
      const model::ForwardInput input{batch.input_ids, batch.attention_mask, cached_group ? prefix_cache : nullptr};
      model::ForwardOptions forward_options;
      forward_options.return_cache = options_.mode == ScoringMode::sequence;
      const model::ForwardOutput output = model::forward(model_, input, forward_options);
      const at::Tensor scored = gather_rows(output.final_hidden, model::last_real_positions(batch.attention_mask));
      result.computed_tokens += batch.attention_mask.sum().item<int64_t>();
      std::vector<size_t> positions;
      for (const size_t index : batch.prompt_indices) positions.push_back(members[index]);
      if (options_.mode == ScoringMode::prefix_sum) {
        pending.hidden.push_back(scored);
        pending.items.insert(pending.items.end(), positions.begin(), positions.end());
        if (pending.items.size() >= kUnembeddingRows) score_pending(pending, result, on_items_done);
        continue;
      }
      const at::Tensor log_probs = at::log_softmax(model::logits(model_, scored), -1);
      for (size_t row = 0; row < positions.size(); ++row) {
        const auto& sequences = option_sequences.empty() ? label_tokens_.sequences : option_sequences[positions[row]];
        predict(result.items[positions[row]],
                sequence_scores(model_, cache_row(output.cache, static_cast<int64_t>(row)),
                                log_probs[static_cast<int64_t>(row)], sequences));
        for (const auto& sequence : sequences) result.computed_tokens += static_cast<int64_t>(sequence.size()) - 1;
      }
      if (on_items_done) on_items_done(static_cast<int64_t>(positions.size()));
    }
  }
  score_pending(pending, result, on_items_done);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void LanguageEvaluator::score_pending(PendingPositions& pending, LanguageEvaluation& result,
                                      const std::function<void(int64_t)>& on_items_done) const {
  if (pending.items.empty()) return;
  const at::Tensor logits = model::logits(model_, at::cat(pending.hidden));
  const at::Tensor sums = prefix_sum_scores(at::softmax(logits, -1), label_tokens_.candidates);
  const auto values = sums.accessor<double, 2>();
  for (size_t row = 0; row < pending.items.size(); ++row) {
    std::vector<double> scores;
    for (int64_t label = 0; label < sums.size(1); ++label) scores.push_back(values[static_cast<int64_t>(row)][label]);
    predict(result.items[pending.items[row]], std::move(scores));
  }
  if (on_items_done) on_items_done(static_cast<int64_t>(pending.items.size()));
  pending = {};
}

void LanguageEvaluator::predict(ItemResult& item, std::vector<double> scores) const {
  item.scores = std::move(scores);
  std::mt19937_64 generator = tie_break_generator(options_.seed, task_.name, language_, item.index);
  item.prediction = task_.labels[choose_label(item.scores, generator)];
}

}  // namespace qtalign::eval
