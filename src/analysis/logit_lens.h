#pragma once
// The logit lens as the study ran it (after Wendler et al. 2024): every layer's residual stream at the
// last prompt position read through the final norm and the unembedding, as if the model stopped
// there. Per layer and item it records the probability of the correct answer written in English (the
// latent answer), of the correct answer in the test language, of all the task's answers in the test
// language and in English, and the entropy in bits; items whose correct answer has a token in both its
// English and its test-language candidate sets are left out (but in English, as the study's lens
// script: there the two readings are one word), since the two readings would share mass. Per
// language it aggregates items with bootstrap confidence intervals. Its JSON form is in
// analysis/lens_json.h, its files and charts in analysis/lens_outputs.h, its plan in
// analysis/lens_plan.h.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analysis/bootstrap_settings.h"
#include "analysis/lens_spec.h"
#include "data/answer_type.h"
#include "data/sampling.h"
#include "distributed/process_group.h"
#include "model/model.h"
#include "stats/statistics.h"

namespace qtalign::analysis {

// The candidate token ids of each label (task label order) in each writing: the scoring rule's
// candidates of the English label word, and of the test-language word (its part after a forced prefix).
struct LensTokenSets {
  std::vector<std::vector<int64_t>> english;  // [label] sorted ids
  std::vector<std::vector<int64_t>> native;   // [label] sorted ids

  // Every label's English (native) candidates merged, sorted, without repeats.
  std::vector<int64_t> all_english() const;
  std::vector<int64_t> all_native() const;
  // Whether the label's English and test-language candidates share a token.
  bool overlaps(size_t label) const;
  // The tokens they share, sorted.
  std::vector<int64_t> shared(size_t label) const;
};

struct TokenProbability {
  int64_t id = 0;
  double probability = 0.0;
};

// What the lens reads at one layer for one prompt whose correct answer is a known label.
struct LensLayerReading {
  double correct_english = 0.0;  // the latent answer: the correct label's English candidates
  double correct_native = 0.0;   // the correct label's test-language candidates
  double all_native = 0.0;       // every label's test-language candidates
  double all_english = 0.0;      // every label's English candidates
  double entropy = 0.0;          // bits, as the study reports it
  std::vector<TokenProbability> top_tokens;  // by decreasing probability
};

// The readings of a batch: readings[row][layer], layer 0 the embeddings, layer i the output of layer i.
struct LensBatch {
  std::vector<std::vector<LensLayerReading>> readings;
  at::Tensor probability_sums;  // [layers + 1, vocab] float64 on CPU: the batch's distributions summed
};

// The lens distribution of residual-stream states [..., hidden]: softmax(unembed(final_norm(h))), fp32.
at::Tensor lens_probabilities(const model::Model& model, const at::Tensor& residual);

// Reads each row of [rows, vocab] probabilities, row r's correct answer being label labels[r]: the
// four masses, the entropy (bits) and the top_k tokens (k capped at the vocabulary's size). Throws Error on a label or token id out of range or
// non-finite probabilities.
std::vector<LensLayerReading> read_distributions(const at::Tensor& probabilities, const LensTokenSets& token_sets,
                                                 const std::vector<size_t>& labels, int top_k);

// Runs the model on a padded batch (input_ids and attention_mask [batch, tokens], padding on either
// side) and reads the lens at each row's last real token, at every layer; labels[r] is row r's answer.
LensBatch read_lens(const model::Model& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const LensTokenSets& token_sets, const std::vector<size_t>& labels, int top_k);

// One layer aggregated over items.
struct LensLayerSummary {
  int64_t layer = 0;
  stats::Estimate correct_english;
  stats::Estimate correct_native;
  stats::Estimate all_native;
  stats::Estimate all_english;
  stats::Estimate entropy;
  std::vector<TokenProbability> top_tokens;  // of the mean distribution over items
};

// The per-item quantities in the order files list them, with their names there.
struct LensQuantity {
  const char* key;
  stats::Estimate LensLayerSummary::*estimate;
  double LensLayerReading::*reading;
};
inline constexpr LensQuantity kLensQuantities[] = {
    {"correct_english", &LensLayerSummary::correct_english, &LensLayerReading::correct_english},
    {"correct_native", &LensLayerSummary::correct_native, &LensLayerReading::correct_native},
    {"all_native", &LensLayerSummary::all_native, &LensLayerReading::all_native},
    {"all_english", &LensLayerSummary::all_english, &LensLayerReading::all_english},
    {"entropy_bits", &LensLayerSummary::entropy, &LensLayerReading::entropy},
};

// Per-layer means with bootstrap intervals (the same resampled items for every layer and quantity)
// and the top_k tokens of the mean distribution (probability_sums / items); throws Error on no items
// or ragged layers.
std::vector<LensLayerSummary> summarize_lens(const std::vector<std::vector<LensLayerReading>>& readings,
                                             const at::Tensor& probability_sums, int top_k,
                                             const BootstrapSettings& bootstrap);

// The item indices (ascending) of `items` the lens keeps: those whose correct label's English and
// test-language candidates do not overlap; `dropped` receives the others.
std::vector<size_t> items_without_overlap(const std::vector<size_t>& items, const std::vector<size_t>& labels,
                                          const LensTokenSets& token_sets, std::vector<size_t>& dropped);

// Everything about one language decided before any forward pass: prompts, labels, token sets, which
// items are kept and which dropped for overlapping candidates.
struct LensLanguagePlan {
  std::string task;
  std::string language;
  data::AnswerType answer_type = data::AnswerType::same_language;
  std::vector<std::string> english_labels;  // the task's English label words
  std::vector<std::string> native_labels;   // the same labels in the test language, in the same order
  std::string forced_prefix;                // appended to every prompt (Thai same-language answers)
  LensTokenSets token_sets;
  std::vector<size_t> sampled_indices;  // the items the limit picked
  std::vector<size_t> item_indices;     // of those, the ones read (no overlap)
  std::vector<size_t> dropped_indices;  // of those, the ones left out (overlap)
  std::vector<size_t> item_labels;      // label index of each read item
  std::vector<std::vector<int64_t>> prompts;  // token ids of each read item
};

// The lens of one language: its plan, what was read and the per-layer summary (empty when every
// item was dropped).
struct LensLanguageResult {
  LensLanguagePlan plan;
  std::vector<std::vector<LensLayerReading>> readings;  // [item][layer]
  std::vector<LensLayerSummary> layers;
  BootstrapSettings bootstrap;
  data::ItemLimit limit;
};

// Reads every plan's prompts through the lens (spec's batch size, top-k and bootstrap), the batches shared over `group`
// (analysis/shared_batches.h), and on rank 0 calls finished(result) for each
// language once its last batch arrives (at once, without layers, for a plan that keeps no item): the
// result one process computes, distributions summed in batch order. Shows each rank's progress;
// collective failures (a rank died or stalled) throw Error naming the rank.
void run_lens_shared(distributed::ProcessGroup& group, const model::Model& model,
                     const std::vector<LensLanguagePlan>& plans, const LensSpec& spec,
                     const std::function<void(LensLanguageResult)>& finished);

// Reads the plan's prompts through the lens in this process and summarizes them; shows progress.
// Returns a result without layers when the plan keeps no item.
LensLanguageResult run_lens(const model::Model& model, const LensLanguagePlan& plan, const LensSpec& spec);

}  // namespace qtalign::analysis
