#include "analysis/representation_outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/representations_json.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/bar_chart.h"
#include "plot/line_chart.h"
#include "plot/scatter_chart.h"

namespace qtalign::analysis {
namespace {

std::string layer_stem(int64_t layer) { return fmt::format("layer_{:02d}", layer); }

std::string layer_axis(int64_t final_norm_layer) {
  return fmt::format("layer (0 = embeddings, {} = after the final norm)", final_norm_layer);
}

// What a figure's title says when it is not drawn as the study's: which of its choices differ.
std::string title_caveat(const RepresentationResult& result) {
  std::vector<std::string> differences;
  if (result.scatter_languages != study_scatter_languages()) differences.push_back("other languages");
  if (!result.every_item) differences.push_back("an item sample");
  return differences.empty() ? "" : fmt::format(" [not the study's: {}]", fmt::join(differences, ", "));
}

void write_scatter(const RepresentationResult& result, const LayerAnalysis& layer, const std::filesystem::path& stem) {
  plot::ScatterChart chart;
  chart.title = fmt::format("PCA of {}-pooled hidden states, layer {}, fitted to {} ({} items each){}",
                            pooling_name(result.pooling), layer.layer, fmt::join(result.scatter_languages, ", "),
                            result.item_indices.size(), title_caveat(result));
  chart.x_label = fmt::format("PC1 ({:.1f}% of variance)", 100 * layer.explained_variance_ratio[0]);
  chart.y_label = fmt::format("PC2 ({:.1f}% of variance)", 100 * layer.explained_variance_ratio[1]);
  for (size_t l = 0; l < result.languages.size(); ++l)
    if (!layer.pc1[l].empty())
      chart.groups.push_back({result.languages[l], layer.pc1[l], layer.pc2[l], plot::palette_color(l)});
  plot::write_scatter_chart(chart, stem);
}

void write_cosine_chart(const RepresentationResult& result, const std::filesystem::path& stem) {
  plot::LineChart chart;
  chart.title = fmt::format("Cosine similarity to {} of the same item ({}-pooled, {} items)",
                            result.reference_language, pooling_name(result.pooling), result.item_indices.size());
  chart.x_label = layer_axis(result.final_norm_layer);
  chart.y_label = fmt::format("mean cosine similarity to {}", result.reference_language);
  for (size_t l = 0; l < result.languages.size(); ++l) {
    if (result.languages[l] == result.reference_language) continue;
    plot::Series series{result.languages[l], {}, {}, {}, {}, plot::palette_color(l)};
    series.markers = result.layers.size() <= 12;
    for (const LayerAnalysis& layer : result.layers) {
      series.x.push_back(static_cast<double>(layer.layer));
      series.y.push_back(layer.cosine_to_reference[l].value);
    }
    chart.series.push_back(std::move(series));
  }
  if (chart.series.empty()) throw Error("cosine chart: no language besides the reference");
  chart.height = 640;
  plot::write_line_chart(chart, stem);
}

std::string cosine_csv(const RepresentationResult& result) {
  std::string csv = "layer,language,cosine_mean,cosine_lower,cosine_upper\n";
  for (const LayerAnalysis& layer : result.layers)
    for (size_t l = 0; l < result.languages.size(); ++l) {
      const stats::Estimate& cosine = layer.cosine_to_reference[l];
      csv += fmt::format("{},{},{:.9g},{:.9g},{:.9g}\n", layer.layer, result.languages[l], cosine.value, cosine.lower,
                         cosine.upper);
    }
  return csv;
}

std::string optional_text(const std::optional<double>& value, const char* format = "{:.3f}") {
  return value ? fmt::format(fmt::runtime(format), *value) : std::string("n/a");
}

std::string correlation_csv(const RepresentationResult& result) {
  std::string csv = "layer,language_a,language_b,pearson_r_joint_fit_study,pearson_r_per_pair_fit,paired_items\n";
  const auto cell = [](const std::optional<double>& r) { return r ? fmt::format("{:.9g}", *r) : std::string(); };
  for (const LayerAnalysis& layer : result.layers)
    for (size_t p = 0; p < result.pairs.size(); ++p)
      csv += fmt::format("{},{},{},{},{},{}\n", layer.layer, result.pairs[p].first, result.pairs[p].second,
                         cell(layer.pair_correlation[p]), cell(layer.pair_correlation_per_pair_fit[p]),
                         result.item_indices.size());
  return csv;
}

std::string markdown_row(const std::vector<std::string>& cells) { return "| " + fmt::format("{}", fmt::join(cells, " | ")) + " |\n"; }

std::string representation_markdown(const RepresentationResult& result) {
  std::string md = fmt::format(
      "# Representations: {} ({} items per language, {} pooling over the {} prompt)\n\nLayers: {}. Scatters "
      "fitted to {}.\n\n",
      result.task, result.item_indices.size(), pooling_name(result.pooling), representation_prompt_name(result.prompt),
      kLayerStates, fmt::join(result.scatter_languages, ", "));
  const std::string difference = study_difference_note(result);
  if (!difference.empty()) md += "**" + difference + "**\n\n";
  std::vector<std::string> header{"layer"};
  std::vector<std::string> rule{"---:"};
  for (const std::string& language : result.languages) {
    header.push_back(language);
    rule.push_back("---:");
  }
  md += fmt::format("## Mean cosine similarity to {} (same item)\n\n", result.reference_language);
  md += markdown_row(header) + markdown_row(rule);
  for (const LayerAnalysis& layer : result.layers) {
    std::vector<std::string> cells{std::to_string(layer.layer)};
    for (const stats::Estimate& cosine : layer.cosine_to_reference) cells.push_back(fmt::format("{:.3f}", cosine.value));
    md += markdown_row(cells);
  }
  if (result.item_indices.size() < kMinimumPairedItems)
    md += "\n**Warning: " + too_few_items_note(result.item_indices.size()) + ".**\n";
  const struct {
    const char* title;
    const char* measure;
    std::vector<std::optional<double>> LayerAnalysis::*values;
  } tables[] = {{"Pearson r, the study's measure", kJointFitMeasure, &LayerAnalysis::pair_correlation},
                {"Pearson r, per-pair fit", kPerPairFitMeasure, &LayerAnalysis::pair_correlation_per_pair_fit}};
  std::vector<std::string> pair_header{"layer"};
  std::vector<std::string> pair_rule{"---:"};
  for (const LanguagePair& pair : result.pairs) {
    pair_header.push_back(pair_name(pair));
    pair_rule.push_back("---:");
  }
  for (const auto& table : tables) {
    md += fmt::format("\n## {} ({} items)\n\n{}.\n\n", table.title, result.item_indices.size(), table.measure);
    md += markdown_row(pair_header) + markdown_row(pair_rule);
    for (const LayerAnalysis& layer : result.layers) {
      std::vector<std::string> cells{std::to_string(layer.layer)};
      for (const std::optional<double>& r : layer.*table.values) cells.push_back(optional_text(r));
      md += markdown_row(cells);
    }
  }
  return md;
}

// The pair correlations of base and tuned: one table (Markdown, CSV, JSON) and one bar chart per layer.
void write_correlation_comparison(const RepresentationResult& base, const RepresentationResult& tuned,
                                  const std::filesystem::path& directory) {
  std::string csv = "layer,pair,base,tuned,delta,paired_items\n";
  io::Json json = io::Json::array();
  std::string md = fmt::format(
      "# Pearson r between languages, base vs tuned ({} paired items)\n\n{}.\n\n"
      "Each cell: base -> tuned (delta). Tuning that aligns a language with another raises r.\n\n",
      base.item_indices.size(), kJointFitMeasure);
  if (base.item_indices.size() < kMinimumPairedItems) md += "**Warning: " + too_few_items_note(base.item_indices.size()) + ".**\n\n";
  std::vector<std::string> header{"layer"}, rule{"---:"};
  for (const LanguagePair& pair : base.pairs) {
    header.push_back(pair_name(pair));
    rule.push_back("---:");
  }
  md += markdown_row(header) + markdown_row(rule);
  for (size_t i = 0; i < base.layers.size(); ++i) {
    const int64_t layer = base.layers[i].layer;
    std::vector<std::string> cells{std::to_string(layer)};
    plot::BarChart chart;
    chart.title = fmt::format("Layer {}: Pearson r of PC1 coordinates (one fit to the study's 7 languages), {} items",
                              layer, base.item_indices.size());
    chart.x_label = "language pair";
    chart.y_label = "Pearson r";
    chart.y_min = -1.0;
    chart.y_max = 1.0;
    chart.value_labels = true;
    chart.width = 800;
    chart.height = 480;
    plot::BarGroup base_bars{"base", {}, {}, {}, plot::palette_color(7)};
    plot::BarGroup tuned_bars{"tuned", {}, {}, {}, plot::palette_color(0)};
    for (size_t p = 0; p < base.pairs.size(); ++p) {
      const std::optional<double>& before = base.layers[i].pair_correlation[p];
      const std::optional<double>& after = tuned.layers[i].pair_correlation[p];
      const std::optional<double> delta = before && after ? std::optional<double>(*after - *before) : std::nullopt;
      cells.push_back(fmt::format("{} -> {} ({})", optional_text(before), optional_text(after),
                                  optional_text(delta, "{:+.3f}")));
      csv += fmt::format("{},{},{},{},{},{}\n", layer, pair_name(base.pairs[p]), optional_text(before, "{:.9g}"),
                         optional_text(after, "{:.9g}"), optional_text(delta, "{:.9g}"), base.item_indices.size());
      json.push_back({{"layer", layer},
                      {"pair", pair_name(base.pairs[p])},
                      {"base", optional_json(before)},
                      {"tuned", optional_json(after)},
                      {"delta", optional_json(delta)}});
      // A pair without a value in either model (constant coordinates) has no bar rather than a made-up one.
      if (!delta) continue;
      chart.categories.push_back(pair_name(base.pairs[p]));
      base_bars.values.push_back(*before);
      tuned_bars.values.push_back(*after);
    }
    md += markdown_row(cells);
    if (chart.categories.empty()) continue;
    chart.groups = {base_bars, tuned_bars};
    plot::write_bar_chart(chart, directory / fmt::format("pair_correlation_{}", layer_stem(layer)));
  }
  io::write_file_atomically(directory / "pair_correlation_comparison.md", md);
  io::write_file_atomically(directory / "pair_correlation_comparison.csv", csv);
  io::write_json_file(directory / "pair_correlation_comparison.json",
                      {{"measure", kJointFitMeasure},
                       {"paired_items", base.item_indices.size()},
                       {"item_indices", base.item_indices},
                       {"paired_items_warning", base.item_indices.size() < kMinimumPairedItems
                                                    ? io::Json(too_few_items_note(base.item_indices.size()))
                                                    : io::Json(nullptr)},
                       {"rows", json}});
}

}  // namespace

void write_representation_outputs(const RepresentationResult& result, const std::filesystem::path& directory) {
  for (const LayerAnalysis& layer : result.layers)
    if (layer.has_pca) write_scatter(result, layer, directory / layer_stem(layer.layer));
  if (result.languages.size() > 1) write_cosine_chart(result, directory / "cosine");
  io::write_file_atomically(directory / "cosine.csv", cosine_csv(result));
  io::write_file_atomically(directory / "pair_correlation.csv", correlation_csv(result));
  io::write_file_atomically(directory / "representations.md", representation_markdown(result));
  io::write_json_file(directory / "representations.json", representation_result_to_json(result));
}

void write_base_tuned_comparison(const RepresentationResult& base, const RepresentationResult& tuned,
                                 const std::filesystem::path& directory) {
  if (base.languages != tuned.languages || base.item_indices != tuned.item_indices || base.pairs != tuned.pairs ||
      base.layers.size() != tuned.layers.size() || base.reference_language != tuned.reference_language)
    throw Error("representation comparison: the base and tuned results cover different languages, pairs, items or "
                "layers");
  for (size_t i = 0; i < base.layers.size(); ++i)
    if (base.layers[i].layer != tuned.layers[i].layer)
      throw Error("representation comparison: the base and tuned results cover different layers");
  std::filesystem::create_directories(directory);
  write_correlation_comparison(base, tuned, directory);
  const std::filesystem::path stem = directory / "cosine_comparison";

  plot::LineChart chart;
  chart.title = fmt::format("Cosine similarity to {}: base (dashed) vs tuned (solid)", base.reference_language);
  chart.x_label = layer_axis(base.final_norm_layer);
  chart.y_label = fmt::format("mean cosine similarity to {}", base.reference_language);
  chart.height = 720;
  std::string csv = "layer,language,base,tuned,delta\n";
  for (size_t l = 0; l < base.languages.size(); ++l) {
    if (base.languages[l] == base.reference_language) continue;
    // One legend entry per language (its colour); the style key says which line is which model.
    plot::Series base_series{"", {}, {}, {}, {}, plot::palette_color(l), plot::LineStyle::dashed};
    plot::Series tuned_series{base.languages[l], {}, {}, {}, {}, plot::palette_color(l)};
    for (size_t i = 0; i < base.layers.size(); ++i) {
      const double x = static_cast<double>(base.layers[i].layer);
      const double before = base.layers[i].cosine_to_reference[l].value;
      const double after = tuned.layers[i].cosine_to_reference[l].value;
      base_series.x.push_back(x);
      base_series.y.push_back(before);
      tuned_series.x.push_back(x);
      tuned_series.y.push_back(after);
      csv += fmt::format("{},{},{:.9g},{:.9g},{:.9g}\n", base.layers[i].layer, base.languages[l], before, after,
                         after - before);
    }
    chart.series.push_back(std::move(base_series));
    chart.series.push_back(std::move(tuned_series));
  }
  if (chart.series.empty()) throw Error("cosine comparison: no language besides the reference");
  chart.style_key = {{"tuned", plot::LineStyle::solid}, {"base", plot::LineStyle::dashed}};
  plot::write_line_chart(chart, stem);
  io::write_file_atomically(stem.string() + ".csv", csv);
}

}  // namespace qtalign::analysis
