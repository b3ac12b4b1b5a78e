#include "analysis/representations.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "analysis/item_selection.h"
#include "analysis/pca.h"
#include "data/prompt_format.h"
#include "data/task_items.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/progress.h"
#include "model/prompt_batches.h"
#include "model/transformer.h"
#include "plot/line_chart.h"
#include "plot/scatter_chart.h"

namespace qtalign::analysis {
namespace {

// Differences below this share of the values' magnitude are floating-point noise, not variation.
constexpr double kRelativeNoise = 1e-9;

bool varies(const at::Tensor& values) {
  const double scale = values.abs().max().item<double>();
  const double spread = (values - values.mean(0)).abs().max().item<double>();
  return spread > kRelativeNoise * scale;
}

std::vector<double> to_vector(const at::Tensor& values) {
  const at::Tensor contiguous = values.to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(contiguous.data_ptr<double>(), contiguous.data_ptr<double>() + contiguous.numel());
}

std::string layer_stem(int64_t layer) { return fmt::format("layer_{:02d}", layer); }

io::Json optional_json(const std::optional<double>& value) { return value ? io::Json(*value) : io::Json(nullptr); }

std::optional<double> optional_from_json(const io::Json& value) {
  return value.is_null() ? std::nullopt : std::optional<double>(value.get<double>());
}

std::string prompt_for(const data::TaskProtocol& task, const std::string& language, const data::TaskItem& item,
                       RepresentationPrompt prompt) {
  return prompt == RepresentationPrompt::question ? data::question_text(task, language, item)
                                                  : data::evaluation_prompt(task, language, item);
}

// [layer][language] vectors [items, hidden] of every language's prompts.
std::vector<std::vector<at::Tensor>> collect_vectors(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                                     const data::Protocol& protocol, const RepresentationOptions& options,
                                                     const RepresentationResult& result,
                                                     const std::vector<int64_t>& layers) {
  const data::TaskProtocol& task = protocol.task(options.task);
  std::vector<std::vector<at::Tensor>> vectors(layers.size());
  io::Progress progress(fmt::format("representations {}", task.name),
                        static_cast<int64_t>(result.languages.size() * result.item_indices.size()), "prompts");
  for (const std::string& language : result.languages) {
    const std::vector<data::TaskItem> items = data::read_test_set(protocol, task.name, language);
    if (items.size() <= result.item_indices.back())
      throw Error(fmt::format("{}/{}: the test set has {} items, fewer than the other languages'", task.name,
                              language, items.size()));
    std::vector<std::vector<int64_t>> prompts;
    for (size_t index : result.item_indices)
      prompts.push_back(tokenizer.encode(prompt_for(task, language, items[index], options.prompt), true));
    std::vector<at::Tensor> pooled(layers.size());
    for (size_t l = 0; l < layers.size(); ++l)
      pooled[l] = at::empty({static_cast<int64_t>(prompts.size()), model.config.hidden_size}, at::kFloat);
    for (const model::PromptBatch& batch : model::make_prompt_batches(prompts, options.batch_size)) {
      const std::vector<at::Tensor> states =
          pooled_hidden_states(model, batch.input_ids, batch.attention_mask, layers, options.pooling);
      const at::Tensor rows = at::tensor(std::vector<int64_t>(batch.prompt_indices.begin(), batch.prompt_indices.end()),
                                         at::TensorOptions().dtype(at::kLong));
      for (size_t l = 0; l < layers.size(); ++l) pooled[l].index_copy_(0, rows, states[l]);
      progress.advance(static_cast<int64_t>(batch.prompt_indices.size()), language);
    }
    for (size_t l = 0; l < layers.size(); ++l) vectors[l].push_back(pooled[l]);
  }
  progress.finish();
  return vectors;
}

void write_scatter(const RepresentationResult& result, const LayerAnalysis& layer, const std::filesystem::path& stem) {
  plot::ScatterChart chart;
  chart.title = fmt::format("PCA of {}-pooled hidden states, layer {} ({} items per language)",
                            pooling_name(result.pooling), layer.layer, result.item_indices.size());
  chart.x_label = fmt::format("PC1 ({:.1f}% of variance)", 100 * layer.explained_variance_ratio[0]);
  chart.y_label = fmt::format("PC2 ({:.1f}% of variance)", 100 * layer.explained_variance_ratio[1]);
  for (size_t l = 0; l < result.languages.size(); ++l)
    chart.groups.push_back({result.languages[l], layer.pc1[l], layer.pc2[l], plot::palette_color(l)});
  plot::write_scatter_chart(chart, stem);
}

void write_cosine_chart(const RepresentationResult& result, const std::filesystem::path& stem) {
  plot::LineChart chart;
  chart.title = fmt::format("Cosine similarity to {} of the same item ({}-pooled, {} items)",
                            result.reference_language, pooling_name(result.pooling), result.item_indices.size());
  chart.x_label = "layer (0 = embeddings)";
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

std::string correlation_csv(const RepresentationResult& result) {
  std::string csv = "layer,language_a,language_b,pc1_pearson_r\n";
  for (const LayerAnalysis& layer : result.layers)
    for (size_t a = 0; a < result.languages.size(); ++a)
      for (size_t b = 0; b < result.languages.size(); ++b) {
        const std::optional<double>& r = layer.pc1_correlation[a][b];
        csv += fmt::format("{},{},{},{}\n", layer.layer, result.languages[a], result.languages[b],
                           r ? fmt::format("{:.9g}", *r) : "");
      }
  return csv;
}

std::string markdown_row(const std::vector<std::string>& cells) { return "| " + fmt::format("{}", fmt::join(cells, " | ")) + " |\n"; }

std::string representation_markdown(const RepresentationResult& result) {
  std::string md = fmt::format(
      "# Representations: {} ({} items per language, {} pooling over the {} prompt)\n\n", result.task,
      result.item_indices.size(), pooling_name(result.pooling), representation_prompt_name(result.prompt));
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
  const auto reference = std::find(result.languages.begin(), result.languages.end(), result.reference_language) -
                         result.languages.begin();
  md += fmt::format("\n## Pearson r of PC1 with {} (same items; every pair in pc1_correlation.csv)\n\n",
                    result.reference_language);
  md += markdown_row(header) + markdown_row(rule);
  for (const LayerAnalysis& layer : result.layers) {
    std::vector<std::string> cells{std::to_string(layer.layer)};
    for (size_t l = 0; l < result.languages.size(); ++l) {
      const std::optional<double>& r = layer.pc1_correlation[l][reference];
      cells.push_back(r ? fmt::format("{:.3f}", *r) : "n/a");
    }
    md += markdown_row(cells);
  }
  return md;
}

}  // namespace

Pooling parse_pooling(const std::string& name) {
  if (name == "mean") return Pooling::mean;
  if (name == "last") return Pooling::last_token;
  throw Error("pooling '" + name + "' is not one of: mean, last");
}

std::string pooling_name(Pooling pooling) { return pooling == Pooling::mean ? "mean" : "last"; }

RepresentationPrompt parse_representation_prompt(const std::string& name) {
  if (name == "question") return RepresentationPrompt::question;
  if (name == "few-shot") return RepresentationPrompt::few_shot;
  throw Error("prompt kind '" + name + "' is not one of: question, few-shot");
}

std::string representation_prompt_name(RepresentationPrompt prompt) {
  return prompt == RepresentationPrompt::question ? "question" : "few-shot";
}

std::vector<int64_t> parse_layer_list(const std::string& text, int64_t num_hidden_layers) {
  std::set<int64_t> layers;
  if (text == "all") {
    for (int64_t layer = 0; layer <= num_hidden_layers; ++layer) layers.insert(layer);
    return {layers.begin(), layers.end()};
  }
  std::stringstream stream(text);
  std::string entry;
  while (std::getline(stream, entry, ',')) {
    size_t used = 0;
    int64_t layer = -1;
    try {
      layer = std::stoll(entry, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (entry.empty() || used != entry.size() || layer < 0 || layer > num_hidden_layers)
      throw Error(fmt::format("--layers: '{}' is not a layer index from 0 (embeddings) to {} (or 'all')", entry,
                              num_hidden_layers));
    layers.insert(layer);
  }
  if (layers.empty()) throw Error("--layers: no layers given");
  return {layers.begin(), layers.end()};
}

std::vector<at::Tensor> pooled_hidden_states(const model::Model& model, const at::Tensor& input_ids,
                                             const at::Tensor& attention_mask, const std::vector<int64_t>& layers,
                                             Pooling pooling) {
  model::ForwardInput input{input_ids, attention_mask};
  const model::ForwardOutput output = model::forward(model, input, {.capture_hidden_states = true});
  const at::Tensor mask = attention_mask.to(model.device(), at::kFloat);
  const at::Tensor last = model::last_real_positions(attention_mask).to(model.device());
  const at::Tensor rows = at::arange(input_ids.size(0), last.options());
  std::vector<at::Tensor> pooled;
  for (int64_t layer : layers) {
    if (layer < 0 || layer >= static_cast<int64_t>(output.hidden_states.size()))
      throw Error(fmt::format("layer {} does not exist (the model has {} residual-stream states)", layer,
                              output.hidden_states.size()));
    const at::Tensor states = output.hidden_states[layer].to(at::kFloat);
    const at::Tensor vectors = pooling == Pooling::mean
                                   ? (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, true)
                                   : states.index({rows, last});
    pooled.push_back(vectors.to(at::kCPU));
  }
  return pooled;
}

LayerAnalysis analyse_layer(int64_t layer, const std::vector<at::Tensor>& vectors, size_t reference,
                            const BootstrapSettings& bootstrap) {
  if (vectors.empty() || reference >= vectors.size()) throw Error("representations: no reference language vectors");
  const int64_t items = vectors.front().size(0);
  for (const at::Tensor& language_vectors : vectors)
    if (language_vectors.dim() != 2 || language_vectors.sizes() != vectors.front().sizes())
      throw Error("representations: every language needs an [items, hidden] matrix of one shape");
  if (items < 2) throw Error("representations: at least two items are needed");
  const size_t languages = vectors.size();

  LayerAnalysis analysis;
  analysis.layer = layer;
  const at::Tensor all = at::cat(vectors, 0).to(at::kDouble);
  analysis.pc1_correlation.assign(languages, std::vector<std::optional<double>>(languages));
  analysis.pc1.assign(languages, {});
  analysis.pc2.assign(languages, {});
  if (varies(all)) {
    const Pca pca = fit_pca(all, std::min<int64_t>(2, std::min(all.size(0), all.size(1))));
    analysis.has_pca = true;
    for (int64_t k = 0; k < pca.explained_variance_ratio.size(0); ++k)
      analysis.explained_variance_ratio[k] = pca.explained_variance_ratio[k].item<double>();
    const at::Tensor pc1 = pca.projections.select(1, 0);
    const at::Tensor pc2 = pca.projections.size(1) > 1 ? pca.projections.select(1, 1) : at::zeros_like(pc1);
    std::vector<at::Tensor> language_pc1;
    for (size_t l = 0; l < languages; ++l) {
      language_pc1.push_back(pc1.narrow(0, static_cast<int64_t>(l) * items, items));
      analysis.pc1[l] = to_vector(language_pc1.back());
      analysis.pc2[l] = to_vector(pc2.narrow(0, static_cast<int64_t>(l) * items, items));
    }
    const double scale = pc1.abs().max().item<double>();
    for (size_t a = 0; a < languages; ++a)
      for (size_t b = 0; b < languages; ++b) {
        const bool both_vary = (language_pc1[a] - language_pc1[a].mean()).abs().max().item<double>() > kRelativeNoise * scale &&
                               (language_pc1[b] - language_pc1[b].mean()).abs().max().item<double>() > kRelativeNoise * scale;
        if (both_vary) analysis.pc1_correlation[a][b] = stats::pearson_correlation(language_pc1[a], language_pc1[b]);
      }
  }
  for (size_t l = 0; l < languages; ++l) {
    const at::Tensor cosines = stats::row_cosine_similarities(vectors[l], vectors[reference]);
    analysis.cosine_to_reference.push_back(
        stats::bootstrap_mean_intervals(cosines, bootstrap.resamples, bootstrap.seed, bootstrap.confidence).front());
  }
  return analysis;
}

RepresentationResult run_representations(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                         const data::Protocol& protocol, const RepresentationOptions& options) {
  const data::TaskProtocol& task = protocol.task(options.task);
  protocol.require_language(options.reference_language);
  RepresentationResult result;
  result.task = task.name;
  result.reference_language = options.reference_language;
  result.languages.push_back(options.reference_language);
  for (const std::string& language : options.languages) {
    protocol.require_language(language);
    if (std::find(result.languages.begin(), result.languages.end(), language) == result.languages.end())
      result.languages.push_back(language);
  }
  result.pooling = options.pooling;
  result.prompt = options.prompt;
  result.bootstrap = options.bootstrap;
  const size_t count = static_cast<size_t>(task.language(options.reference_language).count);
  result.item_indices = select_items(count, options.item_indices, options.limit, task.name);

  const std::vector<int64_t> layers =
      options.layers.empty() ? parse_layer_list("all", model.config.num_hidden_layers) : options.layers;
  for (int64_t layer : layers)
    if (layer < 0 || layer > model.config.num_hidden_layers)
      throw Error(fmt::format("layer {} is outside 0..{}", layer, model.config.num_hidden_layers));
  const auto vectors = collect_vectors(model, tokenizer, protocol, options, result, layers);
  for (size_t l = 0; l < layers.size(); ++l) result.layers.push_back(analyse_layer(layers[l], vectors[l], 0, options.bootstrap));
  return result;
}

io::Json representation_result_to_json(const RepresentationResult& result) {
  io::Json layers = io::Json::array();
  for (const LayerAnalysis& layer : result.layers) {
    io::Json cosine = io::Json::object();
    io::Json correlation = io::Json::array();
    io::Json coordinates = io::Json::object();
    for (size_t a = 0; a < result.languages.size(); ++a) {
      const stats::Estimate& estimate = layer.cosine_to_reference[a];
      cosine[result.languages[a]] = {{"mean", estimate.value}, {"lower", estimate.lower}, {"upper", estimate.upper}};
      io::Json row = io::Json::array();
      for (const std::optional<double>& r : layer.pc1_correlation[a]) row.push_back(optional_json(r));
      correlation.push_back(row);
      if (layer.has_pca) coordinates[result.languages[a]] = {{"pc1", layer.pc1[a]}, {"pc2", layer.pc2[a]}};
    }
    layers.push_back({{"layer", layer.layer},
                      {"pca", layer.has_pca ? io::Json{{"explained_variance_ratio",
                                                        {layer.explained_variance_ratio[0],
                                                         layer.explained_variance_ratio[1]}},
                                                       {"coordinates", coordinates}}
                                            : io::Json(nullptr)},
                      {"pc1_correlation", correlation},
                      {"cosine_to_reference", cosine}});
  }
  return {{"kind", "qtalign representations"},
          {"task", result.task},
          {"languages", result.languages},
          {"reference_language", result.reference_language},
          {"pooling", pooling_name(result.pooling)},
          {"prompt", representation_prompt_name(result.prompt)},
          {"item_indices", result.item_indices},
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
    result.bootstrap.resamples = json.at("bootstrap").at("resamples").get<int64_t>();
    result.bootstrap.seed = json.at("bootstrap").at("seed").get<uint64_t>();
    result.bootstrap.confidence = json.at("bootstrap").at("confidence").get<double>();
    result.provenance = json.value("provenance", io::Json::object());
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
          const io::Json& coordinates = pca.at("coordinates").at(result.languages[l]);
          layer.pc1[l] = coordinates.at("pc1").get<std::vector<double>>();
          layer.pc2[l] = coordinates.at("pc2").get<std::vector<double>>();
        }
      }
      const io::Json& correlation = entry.at("pc1_correlation");
      if (correlation.size() != languages) fail_at(file, fmt::format("layer {}: pc1_correlation is not {}x{}", layer.layer, languages, languages));
      for (const io::Json& row : correlation) {
        if (row.size() != languages) fail_at(file, fmt::format("layer {}: pc1_correlation is not {}x{}", layer.layer, languages, languages));
        std::vector<std::optional<double>> values;
        for (const io::Json& value : row) values.push_back(optional_from_json(value));
        layer.pc1_correlation.push_back(std::move(values));
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

void write_representation_outputs(const RepresentationResult& result, const std::filesystem::path& directory) {
  for (const LayerAnalysis& layer : result.layers)
    if (layer.has_pca) write_scatter(result, layer, directory / layer_stem(layer.layer));
  if (result.languages.size() > 1) write_cosine_chart(result, directory / "cosine");
  io::write_file_atomically(directory / "cosine.csv", cosine_csv(result));
  io::write_file_atomically(directory / "pc1_correlation.csv", correlation_csv(result));
  io::write_file_atomically(directory / "representations.md", representation_markdown(result));
  io::write_json_file(directory / "representations.json", representation_result_to_json(result));
}

void write_cosine_comparison(const RepresentationResult& base, const RepresentationResult& tuned,
                             const std::filesystem::path& stem) {
  if (base.languages != tuned.languages || base.item_indices != tuned.item_indices ||
      base.layers.size() != tuned.layers.size() || base.reference_language != tuned.reference_language)
    throw Error("cosine comparison: the base and tuned results cover different languages, items or layers");
  for (size_t i = 0; i < base.layers.size(); ++i)
    if (base.layers[i].layer != tuned.layers[i].layer)
      throw Error("cosine comparison: the base and tuned results cover different layers");

  plot::LineChart chart;
  chart.title = fmt::format("Cosine similarity to {}: base (dashed) vs tuned (solid)", base.reference_language);
  chart.x_label = "layer (0 = embeddings)";
  chart.y_label = fmt::format("mean cosine similarity to {}", base.reference_language);
  chart.height = 720;
  std::string csv = "layer,language,base,tuned,delta\n";
  for (size_t l = 0; l < base.languages.size(); ++l) {
    if (base.languages[l] == base.reference_language) continue;
    plot::Series base_series{base.languages[l] + " base", {}, {}, {}, {}, plot::palette_color(l), plot::LineStyle::dashed};
    plot::Series tuned_series{base.languages[l] + " tuned", {}, {}, {}, {}, plot::palette_color(l)};
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
  plot::write_line_chart(chart, stem);
  io::write_file_atomically(stem.string() + ".csv", csv);
}

}  // namespace qtalign::analysis
