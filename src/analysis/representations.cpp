#include "analysis/representations.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "analysis/pca.h"
#include "analysis/shared_batches.h"
#include "data/prompt_format.h"
#include "data/task_items.h"
#include "distributed/tensor_message.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "model/finite.h"
#include "model/prompt_batches.h"
#include "model/transformer.h"
#include "plot/bar_chart.h"
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
  switch (prompt) {
    case RepresentationPrompt::study: return data::evaluation_prompt(task, language, item, data::AnswerType::same_language);
    case RepresentationPrompt::question: return data::question_text(task, language, item);
    case RepresentationPrompt::few_shot: return data::evaluation_prompt(task, language, item);
  }
  throw Error("unknown representation prompt");
}

// Every language's prompts of the chosen items, token ids [language][item]; reads and checks every
// test set and prompt before the caller runs any forward pass.
std::vector<std::vector<std::vector<int64_t>>> tokenized_prompts(const tokenizer::Tokenizer& tokenizer,
                                                                 const data::Protocol& protocol,
                                                                 const RepresentationOptions& options,
                                                                 const RepresentationResult& result) {
  const data::TaskProtocol& task = protocol.task(options.task);
  std::vector<std::vector<std::vector<int64_t>>> prompts;
  for (const std::string& language : result.languages) {
    const std::vector<data::TaskItem> items = data::read_test_set(protocol, task.name, language);
    if (items.size() <= result.item_indices.back())
      throw Error(fmt::format("{}/{}: the test set has {} items, fewer than the other languages'", task.name,
                              language, items.size()));
    std::vector<std::vector<int64_t>> language_prompts;
    for (size_t index : result.item_indices)
      language_prompts.push_back(tokenizer.encode(prompt_for(task, language, items[index], options.prompt), true));
    prompts.push_back(std::move(language_prompts));
  }
  return prompts;
}

// [layer][language] vectors [items, hidden] of every language's prompts, on rank 0 (empty on the
// others): the batches are shared over `group`, and each batch's pooled states travel to rank 0 bit
// for bit.
std::vector<std::vector<at::Tensor>> collect_vectors(distributed::ProcessGroup& group, const model::Model& model,
                                                     const std::vector<std::vector<std::vector<int64_t>>>& all_prompts,
                                                     const RepresentationOptions& options,
                                                     const RepresentationResult& result,
                                                     const std::vector<int64_t>& layers) {
  std::vector<std::vector<at::Tensor>> vectors(group.is_main() ? layers.size() : 0);  // filled as batches arrive
  for (std::vector<at::Tensor>& layer : vectors)
    for (const std::vector<std::vector<int64_t>>& prompts : all_prompts)
      layer.push_back(at::empty({static_cast<int64_t>(prompts.size()), model.config.hidden_size}, at::kFloat));
  const auto work = [&](size_t, const model::PromptBatch& batch) {
    distributed::TensorMessage message;
    message.tensors = pooled_hidden_states(model, batch.input_ids, batch.attention_mask, layers, options.pooling);
    return distributed::encode_tensor_message(message);
  };
  const auto on_result = [&](size_t l, size_t b, const model::PromptBatch& batch, const std::string& bytes) {
    const std::string origin =
        fmt::format("representations {}/{}, batch {} (sent by a rank)", result.task, result.languages[l], b);
    const distributed::TensorMessage message = distributed::decode_tensor_message(bytes, origin);
    if (message.tensors.size() != layers.size())
      throw Error(fmt::format("{}: {} layers of states, not {}", origin, message.tensors.size(), layers.size()));
    const at::Tensor rows = at::tensor(std::vector<int64_t>(batch.prompt_indices.begin(), batch.prompt_indices.end()),
                                       at::TensorOptions().dtype(at::kLong));
    for (size_t layer = 0; layer < layers.size(); ++layer)
      vectors[layer][l].index_copy_(0, rows, message.tensors[layer]);
  };
  run_shared_batches(group, all_prompts, result.languages, options.batch_size, "representations " + result.task, work,
                     on_result);
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

std::string pair_name(const LanguagePair& pair) { return pair.first + "-" + pair.second; }

std::string optional_text(const std::optional<double>& value, const char* format = "{:.3f}") {
  return value ? fmt::format(fmt::runtime(format), *value) : std::string("n/a");
}

std::string correlation_csv(const RepresentationResult& result) {
  std::string csv = "layer,language_a,language_b,pearson_r_1d_pca,paired_items\n";
  for (const LayerAnalysis& layer : result.layers)
    for (size_t p = 0; p < result.pairs.size(); ++p) {
      const std::optional<double>& r = layer.pair_correlation[p];
      csv += fmt::format("{},{},{},{},{}\n", layer.layer, result.pairs[p].first, result.pairs[p].second,
                         r ? fmt::format("{:.9g}", *r) : "", result.item_indices.size());
    }
  return csv;
}

std::string too_few_items_note(size_t items) {
  return fmt::format("only {} paired items (fewer than {}): the correlations are too noisy to mean anything", items,
                     kMinimumPairedItems);
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
  md += fmt::format("\n## Pearson r of the 1-D PCA coordinates, paired by item ({} items)\n\n",
                    result.item_indices.size());
  if (result.item_indices.size() < kMinimumPairedItems) md += "**Warning: " + too_few_items_note(result.item_indices.size()) + ".**\n\n";
  if (result.pairs.empty()) return md + "(no language pair among the analysed languages)\n";
  std::vector<std::string> pair_header{"layer"};
  std::vector<std::string> pair_rule{"---:"};
  for (const LanguagePair& pair : result.pairs) {
    pair_header.push_back(pair_name(pair));
    pair_rule.push_back("---:");
  }
  md += markdown_row(pair_header) + markdown_row(pair_rule);
  for (const LayerAnalysis& layer : result.layers) {
    std::vector<std::string> cells{std::to_string(layer.layer)};
    for (const std::optional<double>& r : layer.pair_correlation) cells.push_back(optional_text(r));
    md += markdown_row(cells);
  }
  return md;
}

// The pair correlations of base and tuned: one table (Markdown, CSV, JSON) and one bar chart per layer.
void write_correlation_comparison(const RepresentationResult& base, const RepresentationResult& tuned,
                                  const std::filesystem::path& directory) {
  std::string csv = "layer,pair,base,tuned,delta,paired_items\n";
  io::Json json = io::Json::array();
  std::string md = fmt::format(
      "# Pearson r of the items' 1-D PCA coordinates between languages, base vs tuned ({} paired items)\n\n"
      "Each cell: base -> tuned (delta). Tuning that aligns a language with another raises r.\n\n",
      base.item_indices.size());
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
    chart.title = fmt::format("Layer {}: Pearson r of 1-D PCA coordinates, paired by item ({} items)", layer,
                              base.item_indices.size());
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
                      {{"measure", "Pearson r of the items' coordinates on a 1-D PCA fitted to both languages"},
                       {"paired_items", base.item_indices.size()},
                       {"item_indices", base.item_indices},
                       {"paired_items_warning", base.item_indices.size() < kMinimumPairedItems
                                                    ? io::Json(too_few_items_note(base.item_indices.size()))
                                                    : io::Json(nullptr)},
                       {"rows", json}});
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
  if (name == "study") return RepresentationPrompt::study;
  throw Error("prompt kind '" + name + "' is not one of: study, question, few-shot");
}

std::string representation_prompt_name(RepresentationPrompt prompt) {
  switch (prompt) {
    case RepresentationPrompt::study: return "study";
    case RepresentationPrompt::question: return "question";
    case RepresentationPrompt::few_shot: return "few-shot";
  }
  throw Error("unknown representation prompt");
}

RepresentationPrompt default_representation_prompt(const data::TaskProtocol& task) {
  return task.lens ? RepresentationPrompt::study : RepresentationPrompt::question;
}

std::vector<LanguagePair> study_language_pairs() {
  return {{"en", "de"}, {"en", "fr"}, {"en", "hi"}, {"de", "fr"}, {"de", "hi"},
          {"fr", "hi"}, {"en", "th"}, {"en", "sw"}, {"en", "ms"}};
}

std::vector<LanguagePair> parse_language_pairs(const data::Protocol& protocol, const std::string& text) {
  std::vector<LanguagePair> pairs;
  std::stringstream stream(text);
  std::string entry;
  while (std::getline(stream, entry, ',')) {
    const size_t dash = entry.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == entry.size() || entry.find('-', dash + 1) != std::string::npos)
      throw Error(fmt::format("--pairs: '{}' is not a language pair such as en-de", entry));
    LanguagePair pair{entry.substr(0, dash), entry.substr(dash + 1)};
    protocol.require_language(pair.first);
    protocol.require_language(pair.second);
    if (pair.first == pair.second) throw Error(fmt::format("--pairs: '{}' pairs a language with itself", entry));
    if (std::find(pairs.begin(), pairs.end(), pair) == pairs.end()) pairs.push_back(pair);
  }
  if (pairs.empty()) throw Error("--pairs: no pairs given");
  return pairs;
}

std::optional<double> pca_1d_correlation(const at::Tensor& a, const at::Tensor& b) {
  if (a.dim() != 2 || a.sizes() != b.sizes())
    throw Error("pair correlation: both languages need an [items, hidden] matrix of one shape");
  const int64_t items = a.size(0);
  if (items < 2) throw Error("pair correlation: at least two items are needed");
  const at::Tensor both = at::cat({a, b}, 0).to(at::kDouble);
  if (!varies(both)) return std::nullopt;
  const at::Tensor coordinates = fit_pca(both, 1).projections.select(1, 0);
  const at::Tensor first = coordinates.narrow(0, 0, items), second = coordinates.narrow(0, items, items);
  const double scale = coordinates.abs().max().item<double>();
  for (const at::Tensor& values : {first, second})
    if ((values - values.mean()).abs().max().item<double>() <= kRelativeNoise * scale) return std::nullopt;
  return stats::pearson_correlation(first, second);
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
    model::require_finite(vectors, fmt::format("representations: the layer {} hidden states", layer));
    pooled.push_back(vectors.to(at::kCPU));
  }
  return pooled;
}

LayerAnalysis analyse_layer(int64_t layer, const std::vector<at::Tensor>& vectors, size_t reference,
                            const std::vector<std::pair<size_t, size_t>>& pairs, const BootstrapSettings& bootstrap) {
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
  analysis.pc1.assign(languages, {});
  analysis.pc2.assign(languages, {});
  if (varies(all)) {
    const Pca pca = fit_pca(all, std::min<int64_t>(2, std::min(all.size(0), all.size(1))));
    analysis.has_pca = true;
    for (int64_t k = 0; k < pca.explained_variance_ratio.size(0); ++k)
      analysis.explained_variance_ratio[k] = pca.explained_variance_ratio[k].item<double>();
    const at::Tensor pc1 = pca.projections.select(1, 0);
    const at::Tensor pc2 = pca.projections.size(1) > 1 ? pca.projections.select(1, 1) : at::zeros_like(pc1);
    for (size_t l = 0; l < languages; ++l) {
      analysis.pc1[l] = to_vector(pc1.narrow(0, static_cast<int64_t>(l) * items, items));
      analysis.pc2[l] = to_vector(pc2.narrow(0, static_cast<int64_t>(l) * items, items));
    }
  }
  for (const auto& [a, b] : pairs) {
    if (a >= languages || b >= languages) throw Error("representations: a language pair indexes no language");
    analysis.pair_correlation.push_back(pca_1d_correlation(vectors[a], vectors[b]));
  }
  for (size_t l = 0; l < languages; ++l) {
    const at::Tensor cosines = stats::row_cosine_similarities(vectors[l], vectors[reference]);
    analysis.cosine_to_reference.push_back(
        stats::bootstrap_mean_intervals(cosines, bootstrap.resamples, bootstrap.seed, bootstrap.confidence).front());
  }
  return analysis;
}

std::optional<RepresentationResult> run_representations(distributed::ProcessGroup& group, const model::Model& model,
                                                        const tokenizer::Tokenizer& tokenizer,
                                                        const data::Protocol& protocol,
                                                        const RepresentationOptions& options) {
  const data::TaskProtocol& task = protocol.task(options.task);
  protocol.require_language(options.reference_language);
  RepresentationResult result;
  result.task = task.name;
  result.reference_language = options.reference_language;
  result.languages.push_back(options.reference_language);
  const auto add_language = [&](const std::string& language) {
    protocol.require_language(language);
    if (std::find(result.languages.begin(), result.languages.end(), language) == result.languages.end())
      result.languages.push_back(language);
  };
  for (const std::string& language : options.languages) add_language(language);
  const auto analysed = [&](const std::string& language) {
    return std::find(result.languages.begin(), result.languages.end(), language) != result.languages.end();
  };
  for (const LanguagePair& pair : study_language_pairs())
    if (analysed(pair.first) && analysed(pair.second)) result.pairs.push_back(pair);
  for (const LanguagePair& pair : options.extra_pairs) {
    add_language(pair.first);
    add_language(pair.second);
    if (std::find(result.pairs.begin(), result.pairs.end(), pair) == result.pairs.end()) result.pairs.push_back(pair);
  }
  std::vector<std::pair<size_t, size_t>> pair_indices;
  const auto index_of = [&](const std::string& language) {
    return static_cast<size_t>(std::find(result.languages.begin(), result.languages.end(), language) -
                               result.languages.begin());
  };
  for (const LanguagePair& pair : result.pairs) pair_indices.emplace_back(index_of(pair.first), index_of(pair.second));
  result.pooling = options.pooling;
  result.prompt = options.prompt;
  result.bootstrap = options.bootstrap;
  result.item_pick = data::item_pick_description(options.limit);
  result.item_indices = data::pick_test_items(data::read_test_set(protocol, task.name, options.reference_language),
                                              options.item_indices, options.limit, task.name);
  if (result.item_indices.size() < 2)
    throw Error(fmt::format("representations: {} item(s) picked; at least two are needed", result.item_indices.size()));
  if (result.item_indices.size() < kMinimumPairedItems && group.is_main())
    std::fprintf(stderr, "warning: representations: %s\n", too_few_items_note(result.item_indices.size()).c_str());

  const std::vector<int64_t> layers =
      options.layers.empty() ? parse_layer_list("all", model.config.num_hidden_layers) : options.layers;
  for (int64_t layer : layers)
    if (layer < 0 || layer > model.config.num_hidden_layers)
      throw Error(fmt::format("layer {} is outside 0..{}", layer, model.config.num_hidden_layers));
  const auto prompts = tokenized_prompts(tokenizer, protocol, options, result);
  const auto vectors = collect_vectors(group, model, prompts, options, result, layers);
  if (!group.is_main()) return std::nullopt;
  for (size_t l = 0; l < layers.size(); ++l)
    result.layers.push_back(analyse_layer(layers[l], vectors[l], 0, pair_indices, options.bootstrap));
  return result;
}

io::Json representation_result_to_json(const RepresentationResult& result) {
  io::Json layers = io::Json::array();
  for (const LayerAnalysis& layer : result.layers) {
    io::Json cosine = io::Json::object();
    io::Json correlation = io::Json::object();
    for (size_t p = 0; p < result.pairs.size(); ++p)
      correlation[pair_name(result.pairs[p])] = optional_json(layer.pair_correlation[p]);
    io::Json coordinates = io::Json::object();
    for (size_t a = 0; a < result.languages.size(); ++a) {
      const stats::Estimate& estimate = layer.cosine_to_reference[a];
      cosine[result.languages[a]] = {{"mean", estimate.value}, {"lower", estimate.lower}, {"upper", estimate.upper}};
      if (layer.has_pca) coordinates[result.languages[a]] = {{"pc1", layer.pc1[a]}, {"pc2", layer.pc2[a]}};
    }
    layers.push_back({{"layer", layer.layer},
                      {"pca", layer.has_pca ? io::Json{{"explained_variance_ratio",
                                                        {layer.explained_variance_ratio[0],
                                                         layer.explained_variance_ratio[1]}},
                                                       {"coordinates", coordinates}}
                                            : io::Json(nullptr)},
                      {"pair_correlation", correlation},
                      {"cosine_to_reference", cosine}});
  }
  return {{"kind", "qtalign representations"},
          {"task", result.task},
          {"languages", result.languages},
          {"reference_language", result.reference_language},
          {"pairs", result.pairs},
          {"pair_correlation_measure", "Pearson r of the items' coordinates on a 1-D PCA fitted to both languages"},
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
      const io::Json& correlation = entry.at("pair_correlation");
      for (const LanguagePair& pair : result.pairs)
        layer.pair_correlation.push_back(optional_from_json(correlation.at(pair_name(pair))));
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
