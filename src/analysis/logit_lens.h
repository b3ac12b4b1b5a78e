#pragma once
// The logit lens: every layer's residual stream at the last prompt position read through the final
// norm and the unembedding, as if the model stopped there. Per layer it records the probability mass
// on two label token sets (English labels and the prompt language's own labels), the entropy and the
// top tokens; per language it aggregates items with bootstrap confidence intervals and writes CSV,
// JSON and a chart.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/bootstrap_settings.h"
#include "data/protocol.h"
#include "io/json_file.h"
#include "model/model.h"
#include "stats/statistics.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::analysis {

// The token ids whose probabilities make up each label set's mass (the scoring rule's candidates of
// every label word, merged; a token may belong to both sets).
struct LensTokenSets {
  std::vector<int64_t> english;
  std::vector<int64_t> native;
};

struct TokenProbability {
  int64_t id = 0;
  double probability = 0.0;
};

// What the lens reads at one layer for one prompt.
struct LensLayerReading {
  double english_mass = 0.0;
  double native_mass = 0.0;
  double entropy = 0.0;  // nats
  std::vector<TokenProbability> top_tokens;  // by decreasing probability
};

// The readings of a batch: readings[row][layer], layer 0 the embeddings, layer i the output of layer i.
struct LensBatch {
  std::vector<std::vector<LensLayerReading>> readings;
  at::Tensor probability_sums;  // [layers + 1, vocab] float64 on CPU: the batch's distributions summed
};

// The lens distribution of residual-stream states [..., hidden]: softmax(unembed(final_norm(h))), fp32.
at::Tensor lens_probabilities(const model::Model& model, const at::Tensor& residual);

// Reads each row of [rows, vocab] probabilities: both masses, the entropy and the top_k tokens.
std::vector<LensLayerReading> read_distributions(const at::Tensor& probabilities, const LensTokenSets& token_sets,
                                                 int top_k);

// Runs the model on a padded batch (input_ids and attention_mask [batch, tokens], padding on either
// side) and reads the lens at each row's last real token, at every layer.
LensBatch read_lens(const model::Model& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const LensTokenSets& token_sets, int top_k);

// One layer aggregated over items.
struct LensLayerSummary {
  int64_t layer = 0;
  stats::Estimate english_mass;
  stats::Estimate native_mass;
  stats::Estimate entropy;
  std::vector<TokenProbability> top_tokens;  // of the mean distribution over items
};

// Per-layer means with bootstrap intervals (the same resampled items for every layer) and the top_k
// tokens of the mean distribution (probability_sums / items); throws Error on no items or ragged layers.
std::vector<LensLayerSummary> summarize_lens(const std::vector<std::vector<LensLayerReading>>& readings,
                                             const at::Tensor& probability_sums, int top_k,
                                             const BootstrapSettings& bootstrap);

struct LensOptions {
  std::string task = "emotion";
  std::vector<size_t> item_indices;  // test items to read (empty: all), before the limit
  int64_t limit = 0;                 // items per language (0: all)
  int64_t batch_size = 8;
  int top_k = 5;
  BootstrapSettings bootstrap;
};

// The lens of one language: its native-label prompts, what was read and the per-layer summary.
struct LensLanguageResult {
  std::string task;
  std::string language;
  std::vector<std::string> english_labels;  // the task's English label words
  std::vector<std::string> native_labels;   // the same labels in the language, in the same order
  LensTokenSets token_sets;
  std::vector<size_t> item_indices;
  std::vector<std::vector<LensLayerReading>> readings;  // [item][layer]
  std::vector<LensLayerSummary> layers;
  BootstrapSettings bootstrap;
};

// Runs the lens over the task's test items in `language`, each prompt built with the language's
// native-label demonstrations (prompts.json tasks.<task>.lens); shows progress. Throws Error when the
// task or language has no lens prompts.
LensLanguageResult run_lens(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                            const data::Protocol& protocol, const std::string& language,
                            const LensTokenSets& token_sets, const LensOptions& options);

// The languages that have lens prompts for a task, in prompts.json order.
std::vector<std::string> lens_languages(const data::Protocol& protocol, const std::string& task);

// The result as JSON (summary per layer, token sets, per-item readings), with `provenance` embedded.
io::Json lens_result_to_json(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                             const io::Json& provenance);

// Writes <dir>/<language>.json, .csv (one row per layer) and the chart <language>.png/.svg
// (both label masses with their bands over layers, entropy as a heat strip), atomically.
void write_lens_outputs(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                        const std::filesystem::path& directory, const io::Json& provenance);

}  // namespace qtalign::analysis
