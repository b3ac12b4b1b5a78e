#include "analysis/lens_outputs.h"

#include <fmt/format.h>

#include <cmath>
#include <tuple>

#include "analysis/lens_json.h"
#include "analysis/text_output.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/line_chart.h"

namespace qtalign::analysis {
namespace {

// The lens quantities in the order charts and tables show them, with their labels.
struct LensLine {
  const char* key;
  const char* name;  // "{}" stands for the test language
};
constexpr LensLine kLines[] = {
    {"correct_english", "correct answer, English (latent)"},
    {"correct_native", "correct answer, {}"},
    {"all_native", "all answers, {}"},
    {"all_english", "all answers, English"},
};

}  // namespace

std::string lens_csv(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer) {
  std::string csv = "layer,items";
  for (const LensQuantity& quantity : kLensQuantities)
    csv += fmt::format(",{0},{0}_lower,{0}_upper", quantity.key);
  csv += ",top_tokens\n";
  for (const LensLayerSummary& layer : result.layers) {
    csv += fmt::format("{},{}", layer.layer, result.readings.size());
    for (const LensQuantity& quantity : kLensQuantities) {
      const stats::Estimate& estimate = layer.*quantity.estimate;
      csv += fmt::format(",{:.9g},{:.9g},{:.9g}", estimate.value, estimate.lower, estimate.upper);
    }
    std::string top;
    for (const TokenProbability& token : layer.top_tokens)
      top += fmt::format("{}{}={:.6g}", top.empty() ? "" : " | ", token_text(tokenizer, token.id), token.probability);
    csv += "," + csv_field(top) + "\n";
  }
  return csv;
}

void write_lens_overview(const std::vector<std::string>& languages, const std::filesystem::path& directory,
                         const std::string& variant) {
  io::Json summary = io::Json::array();
  std::string markdown =
      "| language | items | dropped (overlap) | latent English answer: peak (layer) | correct answer in language, "
      "last layer | all answers in language, last layer | all English answers, last layer | entropy, last layer "
      "(bits) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
  std::string notes;  // why items were dropped, per language
  plot::LineChart latent_chart, native_chart;
  for (const std::string& language : languages) {
    const std::filesystem::path file = directory / (language + ".json");
    const LensFileSummary lens = read_lens_file(file);
    if (!lens.dropped_reason.empty()) notes += fmt::format("- {}: {}\n", language, lens.dropped_reason);
    if (lens.items == 0) {
      summary.push_back({{"language", language},
                         {"items", 0},
                         {"dropped_overlap", lens.dropped},
                         {"dropped_reason", lens.dropped_reason}});
      markdown += fmt::format("| {} | 0 | {} | no curve: every item dropped (below) |||||\n", language, lens.dropped);
      continue;
    }
    // The palette's first colours are its most distinct: a language's colour is its place in this chart.
    plot::Series latent{language, {}, {}, {}, {}, plot::palette_color(latent_chart.series.size())};
    plot::Series native = latent;
    for (const io::Json& layer : lens.layers) {
      const double x = static_cast<double>(io::required_field<int64_t>(layer, "layer", file, "layers"));
      latent.x.push_back(x);
      latent.y.push_back(lens_estimate_at(layer, "correct_english", file));
      native.x.push_back(x);
      native.y.push_back(lens_estimate_at(layer, "correct_native", file));
    }
    const io::Json& last = lens.layers.back();
    const auto [peak_layer, peak] = lens_peak_of(lens.layers, "correct_english", file);
    io::Json last_layer{{"layer", last.at("layer")}};
    for (const LensQuantity& quantity : kLensQuantities)
      last_layer[quantity.key] = lens_estimate_at(last, quantity.key, file);
    summary.push_back({{"language", language},
                       {"items", lens.items},
                       {"dropped_overlap", lens.dropped},
                       {"dropped_reason", lens.dropped_reason},
                       {"last_layer", last_layer},
                       {"peak_correct_english", {{"layer", peak_layer}, {"mean", peak}}}});
    markdown += fmt::format("| {} | {} | {} | {:.4g} ({}) | {:.4g} | {:.4g} | {:.4g} | {:.3f} |\n", language,
                            lens.items, lens.dropped, peak, peak_layer, lens_estimate_at(last, "correct_native", file),
                            lens_estimate_at(last, "all_native", file), lens_estimate_at(last, "all_english", file),
                            lens_estimate_at(last, "entropy_bits", file));
    latent_chart.series.push_back(std::move(latent));
    native_chart.series.push_back(std::move(native));
  }
  const std::string who = variant.empty() ? "" : variant + ": ";
  latent_chart.title = who + "latent answer (correct answer in English)";
  latent_chart.y_label = "probability of the correct English answer";
  native_chart.title = who + "correct answer in the test language";
  native_chart.y_label = "probability of the correct answer in the language";
  for (plot::LineChart* chart : {&latent_chart, &native_chart}) {
    chart->x_label = "layer (0 = embeddings)";
    chart->y_min = 0.0;
    // Shown two abreast in the report: a small canvas keeps the text readable there.
    chart->width = 640;
    chart->height = 480;
  }
  if (!latent_chart.series.empty()) {
    plot::write_line_chart(latent_chart, directory / "overview_latent");
    plot::write_line_chart(native_chart, directory / "overview_native");
  }
  if (!notes.empty()) markdown += "\nItems dropped because their two readings share tokens:\n\n" + notes;
  io::write_file_atomically(directory / "summary.md", markdown);
  io::write_json_file(directory / "summary.json", summary);
}

void write_lens_chart(const LensLanguageResult& result, int64_t vocab_size, const std::string& variant,
                      const std::filesystem::path& stem) {
  const LensLanguagePlan& plan = result.plan;
  // The study's Figure 1: the latent (English) answer, the answer in the language, and both answer sets.
  plot::Series correct_english{"correct answer, English (latent)", {}, {}, {}, {}, plot::palette_color(0)};
  plot::Series correct_native{"correct answer, " + plan.language, {}, {}, {}, {}, plot::palette_color(1)};
  plot::Series all_native{"all answers, " + plan.language, {}, {}, {}, {}, plot::palette_color(1),
                          plot::LineStyle::dashed};
  plot::Series all_english{"all answers, English", {}, {}, {}, {}, plot::palette_color(0), plot::LineStyle::dashed};
  plot::HeatStrip entropy{"entropy (bits)", {}, {}, 0.0, std::log2(static_cast<double>(vocab_size))};
  const std::pair<plot::Series*, stats::Estimate LensLayerSummary::*> lines[] = {
      {&correct_english, &LensLayerSummary::correct_english},
      {&correct_native, &LensLayerSummary::correct_native},
      {&all_native, &LensLayerSummary::all_native},
      {&all_english, &LensLayerSummary::all_english}};
  for (const LensLayerSummary& layer : result.layers) {
    const double x = static_cast<double>(layer.layer);
    for (const auto& [series, member] : lines) {
      const stats::Estimate& estimate = layer.*member;
      series->x.push_back(x);
      series->y.push_back(estimate.value);
      series->lower.push_back(estimate.lower);
      series->upper.push_back(estimate.upper);
    }
    entropy.x.push_back(x);
    entropy.values.push_back(layer.entropy.value);
  }
  plot::LineChart chart;
  chart.title = fmt::format("Logit lens{}: {} / {} ({} items, {:.0f}% CI)", variant.empty() ? "" : ", " + variant,
                            plan.task, plan.language, result.readings.size(), 100 * result.bootstrap.confidence);
  chart.x_label = "layer (0 = embeddings)";
  chart.y_label = "probability at the answer position";
  chart.series = {correct_english, correct_native, all_native, all_english};
  chart.heat_strip = entropy;
  chart.y_min = 0.0;
  // Drawn small so that, shown two abreast in the report, the text stays readable.
  chart.width = 720;
  chart.height = 520;
  plot::write_line_chart(chart, stem);
}

void write_lens_outputs(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                        int64_t vocab_size, const std::string& variant, const std::filesystem::path& directory,
                        const io::Json& provenance) {
  const std::filesystem::path stem = directory / result.plan.language;
  if (!result.layers.empty()) write_lens_chart(result, vocab_size, variant, stem);
  io::write_file_atomically(stem.string() + ".csv", lens_csv(result, tokenizer));
  io::write_json_file(stem.string() + ".json", lens_result_to_json(result, tokenizer, provenance));
}

void write_lens_comparison(const std::filesystem::path& base_directory, const std::filesystem::path& tuned_directory,
                           const std::vector<std::string>& languages, const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  std::string markdown =
      "| language | items | latent English answer, peak: base (layer) | tuned (layer) | correct answer in language, "
      "last layer: base | tuned | delta |\n|---|---:|---:|---:|---:|---:|---:|\n";
  io::Json comparison = io::Json::array();
  for (const std::string& language : languages) {
    const std::filesystem::path base_file = base_directory / (language + ".json");
    const std::filesystem::path tuned_file = tuned_directory / (language + ".json");
    const LensFileSummary base = read_lens_file(base_file);
    const LensFileSummary tuned = read_lens_file(tuned_file);
    if (base.items != tuned.items || base.layers.size() != tuned.layers.size())
      throw Error(fmt::format("lens comparison: {} and {} cover different items or layers", base_file.string(),
                              tuned_file.string()));
    if (base.items == 0) {
      markdown += fmt::format("| {} | 0 | no curve: {} |||||\n", language, base.dropped_reason);
      comparison.push_back({{"language", language},
                            {"items", 0},
                            {"dropped_overlap", base.dropped},
                            {"dropped_reason", base.dropped_reason}});
      continue;
    }
    plot::LineChart chart;
    chart.title = fmt::format("Logit lens, {}: base (dashed) vs tuned (solid), {} items", language, base.items);
    chart.x_label = "layer (0 = embeddings)";
    chart.y_label = "probability at the answer position";
    chart.y_min = 0.0;
    chart.width = 720;
    chart.height = 520;
    for (size_t q = 0; q < std::size(kLines); ++q) {
      const LensLine& quantity = kLines[q];
      const std::string name = fmt::format(fmt::runtime(quantity.name), language);
      for (const auto& [lens, file, tuned_variant] :
           {std::tuple{&base, &base_file, false}, std::tuple{&tuned, &tuned_file, true}}) {
        plot::Series series{name + (tuned_variant ? ", tuned" : ", base"), {}, {}, {}, {}, plot::palette_color(q),
                            tuned_variant ? plot::LineStyle::solid : plot::LineStyle::dashed};
        for (const io::Json& layer : lens->layers) {
          series.x.push_back(static_cast<double>(io::required_field<int64_t>(layer, "layer", *file, "layers")));
          series.y.push_back(lens_estimate_at(layer, quantity.key, *file));
        }
        chart.series.push_back(std::move(series));
      }
    }
    plot::write_line_chart(chart, directory / language);
    const auto [base_layer, base_peak] = lens_peak_of(base.layers, "correct_english", base_file);
    const auto [tuned_layer, tuned_peak] = lens_peak_of(tuned.layers, "correct_english", tuned_file);
    const double base_native = lens_estimate_at(base.layers.back(), "correct_native", base_file);
    const double tuned_native = lens_estimate_at(tuned.layers.back(), "correct_native", tuned_file);
    markdown += fmt::format("| {} | {} | {:.4g} ({}) | {:.4g} ({}) | {:.4g} | {:.4g} | {:+.4g} |\n", language,
                            base.items, base_peak, base_layer, tuned_peak, tuned_layer, base_native, tuned_native,
                            tuned_native - base_native);
    comparison.push_back({{"language", language},
                          {"items", base.items},
                          {"dropped_overlap", base.dropped},
                          {"peak_correct_english", {{"base", {{"layer", base_layer}, {"mean", base_peak}}},
                                                    {"tuned", {{"layer", tuned_layer}, {"mean", tuned_peak}}}}},
                          {"last_layer_correct_native", {{"base", base_native}, {"tuned", tuned_native}}}});
  }
  io::write_file_atomically(directory / "comparison.md", markdown);
  io::write_json_file(directory / "comparison.json", comparison);
}

}  // namespace qtalign::analysis
