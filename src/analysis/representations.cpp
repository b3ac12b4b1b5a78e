#include "analysis/representations.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "analysis/pca.h"
#include "analysis/shared_batches.h"
#include "data/prompt_format.h"
#include "data/task_items.h"
#include "distributed/tensor_message.h"
#include "io/error.h"
#include "model/finite.h"
#include "model/prompt_batches.h"
#include "model/transformer.h"

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
                                                                 const RepresentationSpec& spec,
                                                                 const RepresentationResult& result) {
  const data::TaskProtocol& task = protocol.task(spec.task);
  std::vector<std::vector<std::vector<int64_t>>> prompts;
  for (const std::string& language : result.languages) {
    const std::vector<data::TaskItem> items = data::read_test_set(protocol, task.name, language);
    if (items.size() <= result.item_indices.back())
      throw Error(fmt::format("{}/{}: the test set has {} items, fewer than the other languages'", task.name,
                              language, items.size()));
    std::vector<std::vector<int64_t>> language_prompts;
    for (size_t index : result.item_indices)
      language_prompts.push_back(tokenizer.encode(prompt_for(task, language, items[index], spec.prompt), true));
    prompts.push_back(std::move(language_prompts));
  }
  return prompts;
}

// [layer][language] vectors [items, hidden] of every language's prompts, on rank 0 (empty on the
// others): the batches are shared over `group`, and each batch's pooled states travel to rank 0 bit
// for bit.
std::vector<std::vector<at::Tensor>> collect_vectors(distributed::ProcessGroup& group, const model::Model& model,
                                                     const std::vector<std::vector<std::vector<int64_t>>>& all_prompts,
                                                     const RepresentationSpec& spec,
                                                     const RepresentationResult& result,
                                                     const std::vector<int64_t>& layers) {
  std::vector<std::vector<at::Tensor>> vectors(group.is_main() ? layers.size() : 0);  // filled as batches arrive
  for (std::vector<at::Tensor>& layer : vectors)
    for (const std::vector<std::vector<int64_t>>& prompts : all_prompts)
      layer.push_back(at::empty({static_cast<int64_t>(prompts.size()), model.config.hidden_size}, at::kFloat));
  const auto work = [&](size_t, const model::PromptBatch& batch) {
    distributed::TensorMessage message;
    message.tensors = pooled_hidden_states(model, batch.input_ids, batch.attention_mask, layers, spec.pooling);
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
  run_shared_batches(group, all_prompts, result.languages, spec.batch_size, "representations " + result.task, work,
                     on_result);
  return vectors;
}

// The result's languages, pairs and settings, and each language's role, decided from the spec before
// any forward pass: the reference first, the spec's languages (the scatters' unless the spec names
// others), the study's seven that the task has (its correlation measure is fitted to them together), then those of the
// scatter and of extra pairs.
RepresentationResult planned_result(const data::Protocol& protocol, const RepresentationSpec& spec,
                                    LayerRoles& roles) {
  RepresentationResult result;
  result.task = protocol.task(spec.task).name;
  result.reference_language = spec.reference_language;
  const auto index_of = [&](const std::string& language) {
    return static_cast<size_t>(std::find(result.languages.begin(), result.languages.end(), language) -
                               result.languages.begin());
  };
  const auto add_language = [&](const std::string& language) {
    protocol.require_language(language);
    if (index_of(language) == result.languages.size()) result.languages.push_back(language);
    return index_of(language);
  };
  roles.reference = add_language(spec.reference_language);
  for (const std::string& language : spec.languages) add_language(language);
  // The scatters show the languages asked for, not those the correlation adds.
  result.scatter_languages = spec.scatter_languages.empty() ? result.languages : spec.scatter_languages;
  // A task file's task may lack some of the study's languages: its measure uses those it has.
  const data::TaskProtocol& task = protocol.task(spec.task);
  const auto in_task = [&](const std::string& language) { return task.languages.count(language) > 0; };
  for (const std::string& language : study_correlation_languages())
    if (in_task(language)) result.joint_fit_languages.push_back(language);
  for (const std::string& language : result.joint_fit_languages) roles.joint_fit.push_back(add_language(language));
  for (const std::string& language : result.scatter_languages) roles.scatter.push_back(add_language(language));
  for (const LanguagePair& pair : study_language_pairs())
    if (in_task(pair.first) && in_task(pair.second)) result.pairs.push_back(pair);
  for (const LanguagePair& pair : spec.extra_pairs) {
    add_language(pair.first);
    add_language(pair.second);
    if (std::find(result.pairs.begin(), result.pairs.end(), pair) == result.pairs.end()) result.pairs.push_back(pair);
  }
  for (const LanguagePair& pair : result.pairs) roles.pairs.emplace_back(index_of(pair.first), index_of(pair.second));
  result.pooling = spec.pooling;
  result.prompt = spec.prompt;
  result.bootstrap = spec.bootstrap;
  result.item_pick = data::item_pick_description(spec.limit);
  result.every_item = spec.limit.count == 0 && spec.item_indices.empty();
  return result;
}

}  // namespace

std::string pair_name(const LanguagePair& pair) { return pair.first + "-" + pair.second; }

std::string too_few_items_note(size_t items) {
  return fmt::format("only {} paired items (fewer than {}): the correlations are too noisy to mean anything", items,
                     kMinimumPairedItems);
}

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

const char* const kJointFitMeasure =
    "Pearson r of the items' coordinates on one 1-D PCA fitted to the study's seven languages (en, de, fr, hi, th, "
    "sw, ms) together, paired by item: the study's measure";
const char* const kPerPairFitMeasure =
    "Pearson r of the items' coordinates on a 1-D PCA fitted to the pair's two languages alone (per-pair fit, not "
    "the study's)";
const char* const kLayerStates =
    "layer 0: embeddings; layer i: the residual stream after layer i; the last layer after the final norm "
    "(transformers' hidden_states, as the study)";

std::string study_difference_note(const RepresentationResult& result) {
  std::vector<std::string> differences;
  if (result.scatter_languages != study_scatter_languages())
    differences.push_back(fmt::format("scatters fitted to {} (the study's: en, de, fr, hi)",
                                      fmt::join(result.scatter_languages, ", ")));
  if (!result.every_item)
    differences.push_back(fmt::format("{} items ({}) rather than every item in file order", result.item_indices.size(),
                                      result.item_pick));
  if (result.prompt != RepresentationPrompt::study)
    differences.push_back("the " + representation_prompt_name(result.prompt) + " prompt (the study's: study)");
  if (result.pooling != Pooling::mean) differences.push_back("last-token pooling (the study's: mean)");
  if (result.joint_fit_languages != study_correlation_languages())
    differences.push_back(fmt::format("the joint fit to the task's languages among the study's seven only ({})",
                                      fmt::join(result.joint_fit_languages, ", ")));
  if (differences.empty()) return "";
  return fmt::format("Not as the study's notebook: {}.", fmt::join(differences, "; "));
}

std::vector<std::string> study_correlation_languages() { return {"en", "de", "fr", "hi", "th", "sw", "ms"}; }

std::vector<std::string> study_scatter_languages() { return {"en", "de", "fr", "hi"}; }

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

std::vector<std::optional<double>> joint_pca_1d_correlations(const std::vector<at::Tensor>& vectors,
                                                             const std::vector<size_t>& fit,
                                                             const std::vector<std::pair<size_t, size_t>>& pairs) {
  std::vector<at::Tensor> fitted;
  for (size_t l : fit) {
    if (l >= vectors.size()) throw Error("pair correlation: a fitted language indexes no vectors");
    fitted.push_back(vectors[l].to(at::kDouble));
  }
  for (const auto& [a, b] : pairs)
    if (a >= vectors.size() || b >= vectors.size()) throw Error("pair correlation: a language pair indexes no language");
  std::vector<std::optional<double>> correlations(pairs.size());
  if (fitted.empty()) throw Error("pair correlation: no language to fit the PCA to");
  const at::Tensor all = at::cat(fitted, 0);
  if (all.size(0) < 2 * static_cast<int64_t>(fit.size()) || !varies(all)) return correlations;
  const Pca pca = fit_pca(all, 1);
  const double scale = pca.projections.abs().max().item<double>();
  const auto coordinates = [&](size_t l) { return project_onto(pca, vectors[l]).select(1, 0); };
  const auto constant = [&](const at::Tensor& values) {
    return (values - values.mean()).abs().max().item<double>() <= kRelativeNoise * scale;
  };
  for (size_t p = 0; p < pairs.size(); ++p) {
    const at::Tensor first = coordinates(pairs[p].first), second = coordinates(pairs[p].second);
    if (first.size(0) < 2 || first.sizes() != second.sizes())
      throw Error("pair correlation: both languages need at least two parallel items");
    if (!constant(first) && !constant(second)) correlations[p] = stats::pearson_correlation(first, second);
  }
  return correlations;
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
    // The study's last layer is transformers' hidden_states[L], which comes after the final norm.
    const bool last_layer = layer == model.config.num_hidden_layers;
    const at::Tensor states =
        (last_layer ? model::final_norm(model, output.hidden_states[layer]) : output.hidden_states[layer]).to(at::kFloat);
    const at::Tensor vectors = pooling == Pooling::mean
                                   ? (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, true)
                                   : states.index({rows, last});
    model::require_finite(vectors, fmt::format("representations: the layer {} hidden states", layer));
    pooled.push_back(vectors.to(at::kCPU));
  }
  return pooled;
}

LayerAnalysis analyse_layer(int64_t layer, const std::vector<at::Tensor>& vectors, const LayerRoles& roles,
                            const BootstrapSettings& bootstrap) {
  if (vectors.empty() || roles.reference >= vectors.size())
    throw Error("representations: no reference language vectors");
  const int64_t items = vectors.front().size(0);
  for (const at::Tensor& language_vectors : vectors)
    if (language_vectors.dim() != 2 || language_vectors.sizes() != vectors.front().sizes())
      throw Error("representations: every language needs an [items, hidden] matrix of one shape");
  if (items < 2) throw Error("representations: at least two items are needed");
  const size_t languages = vectors.size();

  LayerAnalysis analysis;
  analysis.layer = layer;
  analysis.pc1.assign(languages, {});
  analysis.pc2.assign(languages, {});
  std::vector<at::Tensor> shown;
  for (size_t l : roles.scatter) {
    if (l >= languages) throw Error("representations: a scatter language indexes no vectors");
    shown.push_back(vectors[l]);
  }
  const at::Tensor all = shown.empty() ? at::Tensor() : at::cat(shown, 0).to(at::kDouble);
  if (all.defined() && varies(all)) {
    const Pca pca = fit_pca(all, std::min<int64_t>(2, std::min(all.size(0), all.size(1))));
    analysis.has_pca = true;
    for (int64_t k = 0; k < pca.explained_variance_ratio.size(0); ++k)
      analysis.explained_variance_ratio[k] = pca.explained_variance_ratio[k].item<double>();
    const at::Tensor pc1 = pca.projections.select(1, 0);
    const at::Tensor pc2 = pca.projections.size(1) > 1 ? pca.projections.select(1, 1) : at::zeros_like(pc1);
    for (size_t s = 0; s < roles.scatter.size(); ++s) {
      analysis.pc1[roles.scatter[s]] = to_vector(pc1.narrow(0, static_cast<int64_t>(s) * items, items));
      analysis.pc2[roles.scatter[s]] = to_vector(pc2.narrow(0, static_cast<int64_t>(s) * items, items));
    }
  }
  // A task with none of the study's seven has no joint fit, and then no study pair to correlate.
  if (!roles.joint_fit.empty() || !roles.pairs.empty())
    analysis.pair_correlation = joint_pca_1d_correlations(vectors, roles.joint_fit, roles.pairs);
  for (const auto& [a, b] : roles.pairs)
    analysis.pair_correlation_per_pair_fit.push_back(pca_1d_correlation(vectors[a], vectors[b]));
  for (size_t l = 0; l < languages; ++l) {
    const at::Tensor cosines = stats::row_cosine_similarities(vectors[l], vectors[roles.reference]);
    analysis.cosine_to_reference.push_back(
        stats::bootstrap_mean_intervals(cosines, bootstrap.resamples, bootstrap.seed, bootstrap.confidence).front());
  }
  return analysis;
}

std::optional<RepresentationResult> run_representations(distributed::ProcessGroup& group, const model::Model& model,
                                                        const tokenizer::Tokenizer& tokenizer,
                                                        const data::Protocol& protocol,
                                                        const RepresentationSpec& spec) {
  LayerRoles roles;
  RepresentationResult result = planned_result(protocol, spec, roles);
  result.final_norm_layer = model.config.num_hidden_layers;
  result.item_indices = data::pick_test_items(data::read_test_set(protocol, result.task, spec.reference_language),
                                              spec.item_indices, spec.limit, result.task);
  if (result.item_indices.size() < 2)
    throw Error(fmt::format("representations: {} item(s) picked; at least two are needed", result.item_indices.size()));
  if (result.item_indices.size() < kMinimumPairedItems && group.is_main())
    std::fprintf(stderr, "warning: representations: %s\n", too_few_items_note(result.item_indices.size()).c_str());

  const std::vector<int64_t> layers =
      spec.layers.empty() ? parse_layer_list("all", model.config.num_hidden_layers) : spec.layers;
  for (int64_t layer : layers)
    if (layer < 0 || layer > model.config.num_hidden_layers)
      throw Error(fmt::format("layer {} is outside 0..{}", layer, model.config.num_hidden_layers));
  const auto prompts = tokenized_prompts(tokenizer, protocol, spec, result);
  const auto vectors = collect_vectors(group, model, prompts, spec, result, layers);
  if (!group.is_main()) return std::nullopt;
  for (size_t l = 0; l < layers.size(); ++l)
    result.layers.push_back(analyse_layer(layers[l], vectors[l], roles, spec.bootstrap));
  return result;
}

}  // namespace qtalign::analysis
