#include "analysis/lens_json.h"

#include "analysis/lens_plan.h"
#include "analysis/text_output.h"
#include "data/answer_type.h"
#include "data/sampling.h"
#include "io/error.h"

namespace qtalign::analysis {
namespace {

io::Json estimate_json(const stats::Estimate& estimate) {
  return {{"mean", estimate.value}, {"lower", estimate.lower}, {"upper", estimate.upper}};
}

io::Json top_tokens_json(const std::vector<TokenProbability>& top, const tokenizer::Tokenizer& tokenizer) {
  io::Json tokens = io::Json::array();
  for (const TokenProbability& token : top)
    tokens.push_back({{"id", token.id}, {"text", token_text(tokenizer, token.id)}, {"probability", token.probability}});
  return tokens;
}

io::Json per_item_json(const LensLanguageResult& result) {
  const LensLanguagePlan& plan = result.plan;
  io::Json per_item = io::Json::array();
  for (size_t item = 0; item < result.readings.size(); ++item) {
    io::Json item_layers = io::Json::array();
    for (const LensLayerReading& reading : result.readings[item]) {
      io::Json top = io::Json::array();
      for (const TokenProbability& token : reading.top_tokens) top.push_back({token.id, token.probability});
      io::Json entry = io::Json::object();
      for (const LensQuantity& quantity : kLensQuantities) entry[quantity.key] = reading.*quantity.reading;
      entry["top_tokens"] = top;
      item_layers.push_back(std::move(entry));
    }
    per_item.push_back({{"index", plan.item_indices[item]},
                        {"label", plan.english_labels.at(plan.item_labels[item])},
                        {"layers", item_layers}});
  }
  return per_item;
}

}  // namespace

io::Json lens_result_to_json(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                             const io::Json& provenance) {
  const LensLanguagePlan& plan = result.plan;
  io::Json layers = io::Json::array();
  for (const LensLayerSummary& layer : result.layers) {
    io::Json entry{{"layer", layer.layer}};
    for (const LensQuantity& quantity : kLensQuantities) entry[quantity.key] = estimate_json(layer.*quantity.estimate);
    entry["top_tokens"] = top_tokens_json(layer.top_tokens, tokenizer);
    layers.push_back(std::move(entry));
  }
  return {{"kind", "qtalign logit lens"},
          {"task", plan.task},
          {"language", plan.language},
          {"answer_type", data::answer_type_name(plan.answer_type)},
          {"forced_prefix", plan.forced_prefix},
          {"prompt_end", plan.forced_prefix.empty()
                             ? "the opening quote; whole answer words read (the study's lens script)"
                             : "the forced prefix after the opening quote; the words' remainders read (the study's "
                               "evaluation script)"},
          {"provenance", provenance},
          {"labels", {{"english", plan.english_labels}, {"native", plan.native_labels}}},
          {"token_sets", {{"english", plan.token_sets.english}, {"native", plan.token_sets.native}}},
          {"bootstrap",
           {{"resamples", result.bootstrap.resamples},
            {"seed", result.bootstrap.seed},
            {"confidence", result.bootstrap.confidence}}},
          {"sample",
           {{"limit", result.limit.count},
            {"pick", data::item_pick_description(result.limit)},
            {"item_indices", plan.sampled_indices}}},
          {"items", result.readings.size()},
          {"item_indices", plan.item_indices},
          {"dropped_overlap", plan.dropped_indices.size()},
          {"dropped_item_indices", plan.dropped_indices},
          {"dropped_reason", lens_drop_reason(plan, tokenizer)},
          {"entropy_unit", "bits"},
          {"layers", layers},
          {"per_item", per_item_json(result)}};
}

LensFileSummary read_lens_file(const std::filesystem::path& file) {
  const io::Json result = io::read_json_file(file);
  LensFileSummary summary;
  summary.items = io::required_field<int64_t>(result, "items", file);
  summary.dropped = io::required_field<int64_t>(result, "dropped_overlap", file);
  summary.layers = io::required_field<io::Json>(result, "layers", file);
  summary.dropped_reason = result.value("dropped_reason", "");
  if (!summary.layers.is_array() || (summary.items > 0 && summary.layers.empty())) fail_at(file, "no layers");
  return summary;
}

double lens_estimate_at(const io::Json& layer, const char* quantity, const std::filesystem::path& file) {
  return io::required_field<double>(io::required_field<io::Json>(layer, quantity, file, "layers"), "mean", file,
                                    std::string("layers.") + quantity);
}

std::pair<int64_t, double> lens_peak_of(const io::Json& layers, const char* quantity,
                                        const std::filesystem::path& file) {
  std::pair<int64_t, double> peak{0, -1.0};
  for (const io::Json& layer : layers) {
    const double value = lens_estimate_at(layer, quantity, file);
    if (value > peak.second) peak = {io::required_field<int64_t>(layer, "layer", file, "layers"), value};
  }
  return peak;
}

}  // namespace qtalign::analysis
