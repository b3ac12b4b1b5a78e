#pragma once
// Cross-lingual representations: per layer, each prompt's residual stream pooled into one vector, for
// the same items in several languages; then a 2-D PCA of all of them coloured by language, the Pearson
// correlation of the first principal component between languages (item by item), and the mean cosine
// similarity between each language's vector and English's for the same item (a direct measure of
// alignment), layer by layer.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "analysis/bootstrap_settings.h"
#include "data/protocol.h"
#include "io/json_file.h"
#include "model/model.h"
#include "stats/statistics.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::analysis {

enum class Pooling {
  mean,        // the mean over every prompt token (the study's choice)
  last_token,  // the state at the last prompt token
};

// Parses "mean" or "last"; throws Error naming both.
Pooling parse_pooling(const std::string& name);
std::string pooling_name(Pooling pooling);

enum class RepresentationPrompt {
  question,  // the item in the language's template without demonstrations (what question translation trains on)
  few_shot,  // the full evaluation prompt, demonstrations included
};

// Parses "question" or "few-shot"; throws Error naming both.
RepresentationPrompt parse_representation_prompt(const std::string& name);
std::string representation_prompt_name(RepresentationPrompt prompt);

// Parses "all" or a list like "0,6,12" of residual-stream indices (0 = embeddings, i = output of
// layer i, up to num_hidden_layers); sorted, repeats dropped; throws Error for anything out of range.
std::vector<int64_t> parse_layer_list(const std::string& text, int64_t num_hidden_layers);

// Runs the model on a padded batch and pools each row's residual stream (real tokens only) at each of
// `layers`: one [batch, hidden] float32 CPU tensor per requested layer.
std::vector<at::Tensor> pooled_hidden_states(const model::Model& model, const at::Tensor& input_ids,
                                             const at::Tensor& attention_mask, const std::vector<int64_t>& layers,
                                             Pooling pooling);

// What one layer's vectors show.
struct LayerAnalysis {
  int64_t layer = 0;
  // PCA over every language's vectors together; unset when the vectors do not vary (e.g. the
  // embedding of the same last token in every prompt).
  bool has_pca = false;
  double explained_variance_ratio[2] = {0.0, 0.0};
  std::vector<std::vector<double>> pc1;  // [language][item]
  std::vector<std::vector<double>> pc2;
  // Pearson r of the PC1 coordinates of the same items between two languages; unset where either is
  // constant or there is no PCA.
  std::vector<std::vector<std::optional<double>>> pc1_correlation;  // [language][language]
  // Mean (with bootstrap interval over items) cosine similarity to the reference language's vector of
  // the same item.
  std::vector<stats::Estimate> cosine_to_reference;  // [language]
};

// Analyses one layer: vectors[l] is [items, hidden] for language l, rows parallel across languages;
// `reference` indexes the language the cosine compares with. Throws Error on mismatched shapes or
// fewer than two items.
LayerAnalysis analyse_layer(int64_t layer, const std::vector<at::Tensor>& vectors, size_t reference,
                            const BootstrapSettings& bootstrap);

struct RepresentationOptions {
  std::string task = "emotion";
  std::vector<std::string> languages;  // the reference language is added first when missing
  std::string reference_language = "en";
  std::vector<int64_t> layers;         // residual-stream indices; empty = all
  std::vector<size_t> item_indices;    // test items (empty: all), before the limit
  int64_t limit = 0;                   // items (0: all)
  int64_t batch_size = 8;
  Pooling pooling = Pooling::mean;
  RepresentationPrompt prompt = RepresentationPrompt::question;
  BootstrapSettings bootstrap;
};

struct RepresentationResult {
  std::string task;
  std::vector<std::string> languages;  // reference first
  std::string reference_language;
  std::vector<size_t> item_indices;
  Pooling pooling = Pooling::mean;
  RepresentationPrompt prompt = RepresentationPrompt::question;
  BootstrapSettings bootstrap;
  std::vector<LayerAnalysis> layers;
  io::Json provenance;
};

// Pools the same items' prompts in every language at the chosen layers and analyses each layer;
// shows progress.
RepresentationResult run_representations(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                         const data::Protocol& protocol, const RepresentationOptions& options);

// The result as JSON, and back (throws Error naming the file for anything missing or inconsistent).
io::Json representation_result_to_json(const RepresentationResult& result);
RepresentationResult representation_result_from_json(const io::Json& json, const std::filesystem::path& file);

// Writes into `directory`: layer_<L>.png/.svg (PCA scatter per layer), cosine.png/.svg (cosine to the
// reference over layers, one line per language), cosine.csv, pc1_correlation.csv (every pair, every
// layer), representations.md (tables) and, last, representations.json.
void write_representation_outputs(const RepresentationResult& result, const std::filesystem::path& directory);

// Writes the base-vs-tuned cosine comparison: <stem>.png/.svg (per language, base dashed, tuned solid,
// same colour) and <stem>.csv (layer, language, base, tuned, delta); throws Error when the two results
// differ in languages, layers or items.
void write_cosine_comparison(const RepresentationResult& base, const RepresentationResult& tuned,
                             const std::filesystem::path& stem);

}  // namespace qtalign::analysis
