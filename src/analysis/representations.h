#pragma once
// Cross-lingual representations, as the study's notebook measured them: per layer, each prompt's
// hidden state pooled into one vector (the last layer's after the final norm, as transformers'
// hidden_states[L]), for the same items in several languages; then a 2-D PCA of the scatter languages
// coloured by language, for each language pair the Pearson correlation of the items' coordinates on
// one 1-D PCA fitted to the study's seven languages together (the study's measure; a fit per pair is
// kept beside it, named so), and the mean cosine similarity between each language's vector and
// English's for the same item (a direct measure of alignment), layer by layer. Its JSON form is in
// analysis/representations_json.h, its files and charts in analysis/representation_outputs.h.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/bootstrap_settings.h"
#include "analysis/representation_spec.h"
#include "data/protocol.h"
#include "distributed/process_group.h"
#include "io/json_file.h"
#include "model/model.h"
#include "stats/statistics.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::analysis {

// Parses "mean" or "last"; throws Error naming both.
Pooling parse_pooling(const std::string& name);
std::string pooling_name(Pooling pooling);

// Parses "study", "question" or "few-shot"; throws Error naming them.
RepresentationPrompt parse_representation_prompt(const std::string& name);
std::string representation_prompt_name(RepresentationPrompt prompt);

// The prompt a task's analysis uses unless told otherwise: the study's for tasks with same-language
// answers (emotion), else the question.
RepresentationPrompt default_representation_prompt(const data::TaskProtocol& task);

// The study's pairs: en-de, en-fr, en-hi, de-fr, de-hi, fr-hi, en-th, en-sw, en-ms.
std::vector<LanguagePair> study_language_pairs();

// The languages the study's 1-D PCA is fitted to together: en, de, fr, hi, th, sw, ms.
std::vector<std::string> study_correlation_languages();

// The languages the study's PCA scatter figures are fitted to and show: en, de, fr, hi.
std::vector<std::string> study_scatter_languages();

// Parses "en-de,fr-hi" into validated pairs of distinct languages (repeats dropped); throws Error
// naming the entry and the valid languages.
std::vector<LanguagePair> parse_language_pairs(const data::Protocol& protocol, const std::string& text);

// Fewer paired items than this make a correlation meaningless; results say so.
constexpr size_t kMinimumPairedItems = 10;

// What the outputs say when fewer than kMinimumPairedItems items are paired.
std::string too_few_items_note(size_t items);

// "en-de".
std::string pair_name(const LanguagePair& pair);

// Pearson's r between the 1-D PCA coordinates of two languages' vectors of the same items (a and b,
// [items, hidden], row i of each the same item): one principal component fitted to the rows of both
// together, then the correlation of a's coordinates with b's, item by item. Unset when the vectors do
// not vary or either language's coordinates are constant. Throws Error on mismatched shapes or fewer
// than two items.
std::optional<double> pca_1d_correlation(const at::Tensor& a, const at::Tensor& b);

// The study's measure: one principal component fitted to the rows of the `fit` languages' vectors
// together (vectors[l] is [items, hidden], rows parallel), every language's rows projected onto it,
// and for each pair the Pearson r of the two languages' coordinates, item by item. Unset for every
// pair when the fitted vectors do not vary, and for a pair whose coordinates are constant in either
// language. Throws Error on mismatched shapes, an index out of range or fewer than two items.
std::vector<std::optional<double>> joint_pca_1d_correlations(const std::vector<at::Tensor>& vectors,
                                                             const std::vector<size_t>& fit,
                                                             const std::vector<std::pair<size_t, size_t>>& pairs);

// Parses "all" or a list like "0,6,12" of residual-stream indices (0 = embeddings, i = output of
// layer i, up to num_hidden_layers); sorted, repeats dropped; throws Error for anything out of range.
std::vector<int64_t> parse_layer_list(const std::string& text, int64_t num_hidden_layers);

// Runs the model on a padded batch and pools each row's hidden states (real tokens only) at each of
// `layers`: one [batch, hidden] float32 CPU tensor per requested layer. Layer num_hidden_layers is
// taken after the final norm, as transformers' hidden_states (the study's) has it.
std::vector<at::Tensor> pooled_hidden_states(const model::Model& model, const at::Tensor& input_ids,
                                             const at::Tensor& attention_mask, const std::vector<int64_t>& layers,
                                             Pooling pooling);

// What one layer's vectors show.
struct LayerAnalysis {
  int64_t layer = 0;
  // 2-D PCA over the scatter languages' vectors together; unset when they do not vary (e.g. the
  // embedding of the same last token in every prompt).
  bool has_pca = false;
  double explained_variance_ratio[2] = {0.0, 0.0};
  std::vector<std::vector<double>> pc1;  // [language][item], empty for a language outside the scatter
  std::vector<std::vector<double>> pc2;
  // joint_pca_1d_correlations of each language pair of the result, in its order (the study's measure).
  std::vector<std::optional<double>> pair_correlation;  // [pair]
  // pca_1d_correlation of each pair: a 1-D PCA fitted to the pair's two languages alone (not the study's).
  std::vector<std::optional<double>> pair_correlation_per_pair_fit;  // [pair]
  // Mean (with bootstrap interval over items) cosine similarity to the reference language's vector of
  // the same item.
  std::vector<stats::Estimate> cosine_to_reference;  // [language]
};

// The part each language (an index into a layer's vectors) plays in its analysis.
struct LayerRoles {
  size_t reference = 0;                          // the cosine compares with it
  std::vector<size_t> joint_fit;                 // the study's 1-D PCA is fitted to these together
  std::vector<size_t> scatter;                   // the 2-D PCA is fitted to these together
  std::vector<std::pair<size_t, size_t>> pairs;  // correlated
};

// Analyses one layer: vectors[l] is [items, hidden] for language l, rows parallel across languages.
// Throws Error on mismatched shapes, an index out of range or fewer than two items.
LayerAnalysis analyse_layer(int64_t layer, const std::vector<at::Tensor>& vectors, const LayerRoles& roles,
                            const BootstrapSettings& bootstrap);

struct RepresentationResult {
  std::string task;
  std::vector<std::string> languages;  // reference first
  std::string reference_language;
  std::vector<LanguagePair> pairs;     // the correlated pairs, languages among `languages`
  std::vector<std::string> joint_fit_languages;  // the study's 1-D PCA is fitted to these together
  std::vector<std::string> scatter_languages;    // the 2-D PCA scatters are fitted to and show these
  int64_t final_norm_layer = -1;       // the layer whose states are taken after the final norm (L)
  std::vector<size_t> item_indices;
  std::string item_pick;               // how the items were picked (item_pick_description)
  bool every_item = false;             // every test item in file order, as the study
  Pooling pooling = Pooling::mean;
  RepresentationPrompt prompt = RepresentationPrompt::study;
  BootstrapSettings bootstrap;
  std::vector<LayerAnalysis> layers;
  io::Json provenance;
};

// How the result's figures differ from the study's notebook ("" when they do not): scatters fitted to
// other languages than en, de, fr, hi; a sample or subset of the items rather than every item in file
// order; another prompt or pooling.
std::string study_difference_note(const RepresentationResult& result);

// What the correlation measures and layer indices mean, as the outputs say it.
extern const char* const kJointFitMeasure;
extern const char* const kPerPairFitMeasure;
extern const char* const kLayerStates;

// Pools the same items' prompts in every language at the chosen layers and analyses each layer;
// shows progress. Checks the task, languages, pairs, prompt and test sets before any forward pass,
// and warns on stderr when fewer than kMinimumPairedItems items are paired. The batches are shared
// over `group` (analysis/shared_batches.h) and rank 0 analyses the gathered vectors: it returns
// the result one process computes, the other ranks nothing. Collective failures (a rank died or
// stalled) throw Error naming the rank.
std::optional<RepresentationResult> run_representations(distributed::ProcessGroup& group, const model::Model& model,
                                                        const tokenizer::Tokenizer& tokenizer,
                                                        const data::Protocol& protocol,
                                                        const RepresentationSpec& spec);

}  // namespace qtalign::analysis
