#include "analysis/representations_json.h"

#include <fmt/format.h>

#include <algorithm>

#include "io/error.h"

namespace qtalign::analysis {
namespace {

std::optional<double> optional_from_json(const io::Json& value) {
  return value.is_null() ? std::nullopt : std::optional<double>(value.get<double>());
}

}  // namespace

io::Json optional_json(const std::optional<double>& value) { return value ? io::Json(*value) : io::Json(nullptr); }

io::Json representation_result_to_json(const RepresentationResult& result) {
  io::Json layers = io::Json::array();
  for (const LayerAnalysis& layer : result.layers) {
    io::Json cosine = io::Json::object();
    io::Json correlation = io::Json::object();
    io::Json per_pair_fit = io::Json::object();
    for (size_t p = 0; p < result.pairs.size(); ++p) {
      correlation[pair_name(result.pairs[p])] = optional_json(layer.pair_correlation[p]);
      per_pair_fit[pair_name(result.pairs[p])] = optional_json(layer.pair_correlation_per_pair_fit[p]);
    }
    io::Json coordinates = io::Json::object();
    for (size_t a = 0; a < result.languages.size(); ++a) {
      const stats::Estimate& estimate = layer.cosine_to_reference[a];
      cosine[result.languages[a]] = {{"mean", estimate.value}, {"lower", estimate.lower}, {"upper", estimate.upper}};
      if (layer.has_pca && !layer.pc1[a].empty())
        coordinates[result.languages[a]] = {{"pc1", layer.pc1[a]}, {"pc2", layer.pc2[a]}};
    }
    layers.push_back({{"layer", layer.layer},
                      {"pca", layer.has_pca ? io::Json{{"explained_variance_ratio",
                                                        {layer.explained_variance_ratio[0],
                                                         layer.explained_variance_ratio[1]}},
                                                       {"coordinates", coordinates}}
                                            : io::Json(nullptr)},
                      {"pair_correlation", correlation},
                      {"pair_correlation_per_pair_fit", per_pair_fit},
                      {"cosine_to_reference", cosine}});
  }
  return {{"kind", "qtalign representations"},
          {"task", result.task},
          {"languages", result.languages},
          {"reference_language", result.reference_language},
          {"pairs", result.pairs},
          {"pair_correlation_measure", kJointFitMeasure},
          {"pair_correlation_per_pair_fit_measure", kPerPairFitMeasure},
          {"joint_fit_languages", result.joint_fit_languages},
          {"scatter_languages", result.scatter_languages},
          {"layer_states", kLayerStates},
          {"final_norm_layer", result.final_norm_layer},
          {"every_item", result.every_item},
          {"study_difference", study_difference_note(result)},
          {"pooling", pooling_name(result.pooling)},
          {"prompt", representation_prompt_name(result.prompt)},
          {"item_indices", result.item_indices},
          {"item_pick", result.item_pick},
          {"paired_items_warning", result.item_indices.size() < kMinimumPairedItems
                                       ? io::Json(too_few_items_note(result.item_indices.size()))
                                       : io::Json(nullptr)},
          {"bootstrap",
           {{"resamples", result.bootstrap.resamples},
            {"seed", result.bootstrap.seed},
            {"confidence", result.bootstrap.confidence}}},
          {"provenance", result.provenance},
          {"layers", layers}};
}

RepresentationResult representation_result_from_json(const io::Json& json, const std::filesystem::path& file) {
  RepresentationResult result;
  try {
    if (json.value("kind", "") != "qtalign representations") fail_at(file, "not a qtalign representations result");
    result.task = json.at("task").get<std::string>();
    result.languages = json.at("languages").get<std::vector<std::string>>();
    result.reference_language = json.at("reference_language").get<std::string>();
    result.pooling = parse_pooling(json.at("pooling").get<std::string>());
    result.prompt = parse_representation_prompt(json.at("prompt").get<std::string>());
    result.item_indices = json.at("item_indices").get<std::vector<size_t>>();
    result.item_pick = json.at("item_pick").get<std::string>();
    result.pairs = json.at("pairs").get<std::vector<LanguagePair>>();
    for (const LanguagePair& pair : result.pairs)
      for (const std::string& language : {pair.first, pair.second})
        if (std::find(result.languages.begin(), result.languages.end(), language) == result.languages.end())
          fail_at(file, fmt::format("pair {} names a language that was not analysed", pair_name(pair)));
    result.bootstrap.resamples = json.at("bootstrap").at("resamples").get<int64_t>();
    result.bootstrap.seed = json.at("bootstrap").at("seed").get<uint64_t>();
    result.bootstrap.confidence = json.at("bootstrap").at("confidence").get<double>();
    result.provenance = json.value("provenance", io::Json::object());
    result.joint_fit_languages = json.at("joint_fit_languages").get<std::vector<std::string>>();
    result.scatter_languages = json.at("scatter_languages").get<std::vector<std::string>>();
    result.final_norm_layer = json.at("final_norm_layer").get<int64_t>();
    result.every_item = json.at("every_item").get<bool>();
    const size_t languages = result.languages.size();
    for (const io::Json& entry : json.at("layers")) {
      LayerAnalysis layer;
      layer.layer = entry.at("layer").get<int64_t>();
      layer.pc1.assign(languages, {});
      layer.pc2.assign(languages, {});
      const io::Json& pca = entry.at("pca");
      layer.has_pca = !pca.is_null();
      if (layer.has_pca) {
        const auto ratios = pca.at("explained_variance_ratio").get<std::vector<double>>();
        if (ratios.size() != 2) fail_at(file, "explained_variance_ratio needs two values");
        layer.explained_variance_ratio[0] = ratios[0];
        layer.explained_variance_ratio[1] = ratios[1];
        for (size_t l = 0; l < languages; ++l) {
          if (!pca.at("coordinates").contains(result.languages[l])) continue;  // outside the scatter
          const io::Json& coordinates = pca.at("coordinates").at(result.languages[l]);
          layer.pc1[l] = coordinates.at("pc1").get<std::vector<double>>();
          layer.pc2[l] = coordinates.at("pc2").get<std::vector<double>>();
        }
      }
      const io::Json& correlation = entry.at("pair_correlation");
      const io::Json& per_pair_fit = entry.at("pair_correlation_per_pair_fit");
      for (const LanguagePair& pair : result.pairs) {
        layer.pair_correlation.push_back(optional_from_json(correlation.at(pair_name(pair))));
        layer.pair_correlation_per_pair_fit.push_back(optional_from_json(per_pair_fit.at(pair_name(pair))));
      }
      for (const std::string& language : result.languages) {
        const io::Json& cosine = entry.at("cosine_to_reference").at(language);
        layer.cosine_to_reference.push_back(
            {cosine.at("mean").get<double>(), cosine.at("lower").get<double>(), cosine.at("upper").get<double>()});
      }
      result.layers.push_back(std::move(layer));
    }
  } catch (const io::Json::exception& e) {
    fail_at(file, std::string("malformed representations result: ") + e.what());
  }
  if (result.layers.empty()) fail_at(file, "no layers");
  return result;
}

}  // namespace qtalign::analysis
