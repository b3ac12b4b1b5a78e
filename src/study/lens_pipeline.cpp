#include "study/lens_pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "eval/label_tokens.h"
#include "eval/provenance.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "plot/line_chart.h"

namespace qtalign::study {
namespace {

std::vector<int64_t> candidates_of(const tokenizer::Tokenizer& tokenizer, const std::vector<std::string>& words) {
  std::set<int64_t> ids;
  for (const std::string& word : words)
    for (int64_t id : eval::prefix_sum_candidates(tokenizer, word)) ids.insert(id);
  return {ids.begin(), ids.end()};
}

double estimate_at(const io::Json& layer, const char* quantity, const std::filesystem::path& file) {
  return io::required_field<double>(io::required_field<io::Json>(layer, quantity, file, "layers"), "mean", file,
                                    std::string("layers.") + quantity);
}

// The overview of every language's lens file: a JSON summary, a Markdown table and two charts.
void write_lens_overview(const std::vector<std::string>& languages, const std::filesystem::path& directory) {
  io::Json summary = io::Json::array();
  std::string markdown =
      "| language | items | English-label mass, last layer | native-label mass, last layer | entropy, last layer "
      "(nats) | peak English-label mass (layer) | peak native-label mass (layer) |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n";
  plot::LineChart english_chart, native_chart;
  for (size_t l = 0; l < languages.size(); ++l) {
    const std::filesystem::path file = directory / (languages[l] + ".json");
    const io::Json result = io::read_json_file(file);
    const io::Json layers = io::required_field<io::Json>(result, "layers", file);
    if (!layers.is_array() || layers.empty()) fail_at(file, "no layers");
    plot::Series english{languages[l], {}, {}, {}, {}, plot::palette_color(l)};
    plot::Series native = english;
    int64_t peak_english_layer = 0, peak_native_layer = 0;
    double peak_english = -1, peak_native = -1;
    for (const io::Json& layer : layers) {
      const int64_t index = io::required_field<int64_t>(layer, "layer", file, "layers");
      const double english_mass = estimate_at(layer, "english_mass", file);
      const double native_mass = estimate_at(layer, "native_mass", file);
      english.x.push_back(static_cast<double>(index));
      english.y.push_back(english_mass);
      native.x.push_back(static_cast<double>(index));
      native.y.push_back(native_mass);
      if (english_mass > peak_english) std::tie(peak_english, peak_english_layer) = std::pair{english_mass, index};
      if (native_mass > peak_native) std::tie(peak_native, peak_native_layer) = std::pair{native_mass, index};
    }
    const io::Json& last = layers.back();
    const int64_t items = io::required_field<int64_t>(result, "items", file);
    summary.push_back({{"language", languages[l]},
                       {"items", items},
                       {"last_layer",
                        {{"layer", last.at("layer")},
                         {"english_mass", estimate_at(last, "english_mass", file)},
                         {"native_mass", estimate_at(last, "native_mass", file)},
                         {"entropy", estimate_at(last, "entropy", file)}}},
                       {"peak_english_mass", {{"layer", peak_english_layer}, {"mean", peak_english}}},
                       {"peak_native_mass", {{"layer", peak_native_layer}, {"mean", peak_native}}}});
    markdown += fmt::format("| {} | {} | {:.4g} | {:.4g} | {:.3f} | {:.4g} ({}) | {:.4g} ({}) |\n", languages[l], items,
                            estimate_at(last, "english_mass", file), estimate_at(last, "native_mass", file),
                            estimate_at(last, "entropy", file), peak_english, peak_english_layer, peak_native,
                            peak_native_layer);
    english_chart.series.push_back(std::move(english));
    native_chart.series.push_back(std::move(native));
  }
  for (auto [chart, which] : {std::pair{&english_chart, "English"}, std::pair{&native_chart, "native"}}) {
    chart->title = fmt::format("Logit lens: mean probability on the {} label tokens, every language", which);
    chart->x_label = "layer (0 = embeddings)";
    chart->y_label = fmt::format("mean {}-label probability mass", which);
    chart->y_min = 0.0;
    chart->height = 640;
  }
  plot::write_line_chart(english_chart, directory / "overview_english");
  plot::write_line_chart(native_chart, directory / "overview_native");
  io::write_file_atomically(directory / "summary.md", markdown);
  io::write_json_file(directory / "summary.json", summary);
}

}  // namespace

analysis::LensTokenSets lens_token_sets(const tokenizer::Tokenizer& tokenizer, const data::TaskProtocol& task,
                                        const std::string& language) {
  const data::LensProtocol& lens = task.lens_protocol();
  const auto native = lens.native_labels.find(language);
  if (native == lens.native_labels.end())
    throw Error(fmt::format("task {} has no native label words for '{}'", task.name, language));
  std::vector<std::string> native_words;
  for (const std::string& label : task.labels) {
    const auto word = native->second.find(label);
    if (word == native->second.end())
      throw Error(fmt::format("task {}: the lens has no '{}' word for the label '{}'", task.name, language, label));
    native_words.push_back(word->second);
  }
  return {candidates_of(tokenizer, task.labels), candidates_of(tokenizer, native_words)};
}

void run_lens_pipeline(const LoadedModel& loaded, const data::Protocol& protocol,
                       const std::vector<std::string>& languages, const analysis::LensOptions& options,
                       const std::filesystem::path& directory, bool skip_existing) {
  if (languages.empty()) throw Error("logit lens: no languages to analyse");
  const data::TaskProtocol& task = protocol.task(options.task);
  io::Json provenance = loaded.provenance;
  provenance["data"] = {{"dir", std::filesystem::absolute(protocol.data_dir).string()},
                        {"prompts_sha1", eval::file_sha1(protocol.source)}};
  provenance["lens"] = {{"limit", options.limit},
                        {"requested_items", options.item_indices.size()},
                        {"top_k", options.top_k},
                        {"prompt", "native-label demonstrations (prompts.json tasks." + task.name + ".lens)"},
                        {"token_sets", "prefix-sum candidates of the label words (prompts.json scoring)"}};
  for (const std::string& language : languages) {
    if (skip_existing && std::filesystem::exists(directory / (language + ".json"))) {
      std::fprintf(stderr, "lens %s/%s: already done (%s)\n", task.name.c_str(), language.c_str(),
                   (directory / (language + ".json")).c_str());
      continue;
    }
    const analysis::LensTokenSets sets = lens_token_sets(loaded.tokenizer, task, language);
    const analysis::LensLanguageResult result =
        analysis::run_lens(loaded.model, loaded.tokenizer, protocol, language, sets, options);
    analysis::write_lens_outputs(result, loaded.tokenizer, directory, provenance);
  }
  write_lens_overview(languages, directory);
}

}  // namespace qtalign::study
