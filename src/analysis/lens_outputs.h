#pragma once
// The logit lens's files: per language a CSV, the JSON (analysis/lens_json.h) and a chart; the
// overview of every language; the base-vs-tuned comparison.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/logit_lens.h"
#include "io/json_file.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::analysis {

// One row per layer: items, each quantity's mean and interval, the top tokens of the mean distribution.
std::string lens_csv(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer);

// Figure-1-style chart of one lens result: the four quantities with their bands over layers, entropy
// as a strip beneath on the fixed scale 0 to log2(vocab) bits; `variant` ("base", "tuned" or "") in the title.
void write_lens_chart(const LensLanguageResult& result, int64_t vocab_size, const std::string& variant,
                      const std::filesystem::path& stem);

// Writes <dir>/<language>.json, .csv (one row per layer) and, when items were read, the chart
// <language>.png/.svg, atomically.
void write_lens_outputs(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                        int64_t vocab_size, const std::string& variant, const std::filesystem::path& directory,
                        const io::Json& provenance);

// From the <lang>.json of every language in `directory`: summary.json, summary.md and the
// overview_latent / overview_native charts (.png, .svg; a language's colour is its place in the
// chart); `variant` names the model in titles.
void write_lens_overview(const std::vector<std::string>& languages, const std::filesystem::path& directory,
                         const std::string& variant);

// From the lens outputs of the base and the tuned model (<lang>.json in each directory), writes into
// `directory` per language <lang>.png/.svg (the four quantities, base dashed and tuned solid) and
// comparison.md / comparison.json (per language: the latent answer's peak and the correct test-language
// answer at the last layer, base vs tuned). Languages without items in either are listed, not drawn.
void write_lens_comparison(const std::filesystem::path& base_directory, const std::filesystem::path& tuned_directory,
                           const std::vector<std::string>& languages, const std::filesystem::path& directory);

}  // namespace qtalign::analysis
