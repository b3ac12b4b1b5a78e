#pragma once
// The representation analysis's files: per-layer PCA scatters, the cosine chart and tables of one
// model, and the base-vs-tuned comparison.
#include <filesystem>

#include "analysis/representations.h"

namespace qtalign::analysis {

// Writes into `directory`: layer_<L>.png/.svg (PCA scatter per layer), cosine.png/.svg (cosine to the
// reference over layers, one line per language), cosine.csv, pair_correlation.csv (every pair, every
// layer), representations.md (tables) and, last, representations.json.
void write_representation_outputs(const RepresentationResult& result, const std::filesystem::path& directory);

// Writes the base-vs-tuned comparison into `directory`: cosine_comparison.png/.svg (per language, base
// dashed, tuned solid, same colour) and .csv (layer, language, base, tuned, delta); the pair
// correlations in one table, pair_correlation_comparison.md/.csv/.json (layer, pair, base, tuned,
// delta), and one figure per layer, pair_correlation_layer_<L>.png/.svg (base and tuned bars per
// pair). Throws Error when the two results differ in languages, pairs, layers or items.
void write_base_tuned_comparison(const RepresentationResult& base, const RepresentationResult& tuned,
                                 const std::filesystem::path& directory);

}  // namespace qtalign::analysis
