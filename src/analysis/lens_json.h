#pragma once
// The logit lens's JSON form: a language's result as written to <lang>.json, and what the overview and
// the base-vs-tuned comparison read back from such a file.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "analysis/logit_lens.h"
#include "io/json_file.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::analysis {

// The result as JSON (summary per layer, token sets, kept and dropped items, per-item readings), with
// `provenance` embedded.
io::Json lens_result_to_json(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                             const io::Json& provenance);

// What the overview and the comparison read back from a <lang>.json.
struct LensFileSummary {
  int64_t items = 0;
  int64_t dropped = 0;
  io::Json layers;  // the file's "layers" array (empty when every item was dropped)
  std::string dropped_reason;  // lens_drop_reason ("" when none was dropped)
};

// Reads a <lang>.json; throws Error naming the file when a field is missing or it has items but no layers.
LensFileSummary read_lens_file(const std::filesystem::path& file);

// The mean of `quantity` in one entry of a lens file's "layers"; throws Error naming the file when absent.
double lens_estimate_at(const io::Json& layer, const char* quantity, const std::filesystem::path& file);

// The layer where a quantity's mean peaks, and the mean there.
std::pair<int64_t, double> lens_peak_of(const io::Json& layers, const char* quantity,
                                        const std::filesystem::path& file);

}  // namespace qtalign::analysis
