#include "analysis/logit_lens.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "analysis/item_selection.h"
#include "analysis/text_output.h"
#include "data/prompt_format.h"
#include "data/task_items.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/progress.h"
#include "model/prompt_batches.h"
#include "model/transformer.h"
#include "plot/line_chart.h"

namespace qtalign::analysis {
namespace {

// The probability mass of `ids` in each row of [rows, vocab] probabilities.
at::Tensor masses_of(const at::Tensor& probabilities, const std::vector<int64_t>& ids) {
  if (ids.empty()) return at::zeros({probabilities.size(0)}, probabilities.options());
  const at::Tensor index = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(probabilities.device());
  return probabilities.index_select(1, index).sum(1);
}

void check_token_ids(const std::vector<int64_t>& ids, int64_t vocab, const std::string& which) {
  for (int64_t id : ids)
    if (id < 0 || id >= vocab)
      throw Error(fmt::format("logit lens: {} label token id {} is outside the model's vocabulary of {}", which,
                              id, vocab));
}

std::vector<TokenProbability> top_of(const at::Tensor& probabilities, int top_k) {
  const int64_t k = std::min<int64_t>(top_k, probabilities.size(0));
  std::vector<TokenProbability> top;
  if (k <= 0) return top;
  const auto [values, indices] = at::topk(probabilities, k);
  for (int64_t i = 0; i < k; ++i) top.push_back({indices[i].item<int64_t>(), values[i].item<double>()});
  return top;
}

io::Json estimate_json(const stats::Estimate& estimate) {
  return {{"mean", estimate.value}, {"lower", estimate.lower}, {"upper", estimate.upper}};
}

io::Json top_tokens_json(const std::vector<TokenProbability>& top, const tokenizer::Tokenizer& tokenizer) {
  io::Json tokens = io::Json::array();
  for (const TokenProbability& token : top)
    tokens.push_back({{"id", token.id}, {"text", token_text(tokenizer, token.id)}, {"probability", token.probability}});
  return tokens;
}

std::string lens_csv(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer) {
  std::string csv =
      "layer,items,english_mass,english_lower,english_upper,native_mass,native_lower,native_upper,"
      "entropy,entropy_lower,entropy_upper,top_tokens\n";
  for (const LensLayerSummary& layer : result.layers) {
    std::string top;
    for (const TokenProbability& token : layer.top_tokens)
      top += fmt::format("{}{}={:.6g}", top.empty() ? "" : " | ", token_text(tokenizer, token.id), token.probability);
    csv += fmt::format("{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{}\n", layer.layer,
                       result.readings.size(), layer.english_mass.value, layer.english_mass.lower,
                       layer.english_mass.upper, layer.native_mass.value, layer.native_mass.lower,
                       layer.native_mass.upper, layer.entropy.value, layer.entropy.lower, layer.entropy.upper,
                       csv_field(top));
  }
  return csv;
}

void write_lens_chart(const LensLanguageResult& result, const std::filesystem::path& stem) {
  plot::Series english{"English labels", {}, {}, {}, {}, plot::palette_color(0)};
  plot::Series native{result.language + " labels", {}, {}, {}, {}, plot::palette_color(2), plot::LineStyle::dashed};
  plot::HeatStrip entropy{"entropy (nats)", {}, {}};
  for (const LensLayerSummary& layer : result.layers) {
    const double x = static_cast<double>(layer.layer);
    for (auto [series, estimate] : {std::pair{&english, &layer.english_mass}, std::pair{&native, &layer.native_mass}}) {
      series->x.push_back(x);
      series->y.push_back(estimate->value);
      series->lower.push_back(estimate->lower);
      series->upper.push_back(estimate->upper);
    }
    entropy.x.push_back(x);
    entropy.values.push_back(layer.entropy.value);
  }
  plot::LineChart chart;
  chart.title = fmt::format("Logit lens: {} / {} ({} items, {:.0f}% bootstrap CI)", result.task, result.language,
                            result.readings.size(), 100 * result.bootstrap.confidence);
  chart.x_label = "layer (0 = embeddings)";
  chart.y_label = "probability mass at the answer position";
  chart.series = {english, native};
  chart.heat_strip = entropy;
  chart.y_min = 0.0;
  plot::write_line_chart(chart, stem);
}

}  // namespace

at::Tensor lens_probabilities(const model::Model& model, const at::Tensor& residual) {
  return at::softmax(model::logits(model, model::final_norm(model, residual)), -1);
}

std::vector<LensLayerReading> read_distributions(const at::Tensor& probabilities, const LensTokenSets& token_sets,
                                                 int top_k) {
  if (probabilities.dim() != 2) throw Error("logit lens: expected [rows, vocab] probabilities");
  const at::Tensor p = probabilities.to(at::kCPU, at::kDouble);
  const at::Tensor english = masses_of(p, token_sets.english);
  const at::Tensor native = masses_of(p, token_sets.native);
  const at::Tensor entropy = -at::xlogy(p, p).sum(1);
  const int64_t k = std::min<int64_t>(std::max(top_k, 0), p.size(1));
  const auto [top_values, top_ids] = at::topk(p, k, 1);
  const auto english_values = english.accessor<double, 1>();
  const auto native_values = native.accessor<double, 1>();
  const auto entropy_values = entropy.accessor<double, 1>();
  const auto top_value = top_values.accessor<double, 2>();
  const auto top_id = top_ids.accessor<int64_t, 2>();
  std::vector<LensLayerReading> readings(p.size(0));
  for (int64_t row = 0; row < p.size(0); ++row) {
    readings[row] = {english_values[row], native_values[row], entropy_values[row], {}};
    for (int64_t i = 0; i < k; ++i) readings[row].top_tokens.push_back({top_id[row][i], top_value[row][i]});
  }
  return readings;
}

LensBatch read_lens(const model::Model& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const LensTokenSets& token_sets, int top_k) {
  const int64_t vocab = model.lm_head.size(0);
  check_token_ids(token_sets.english, vocab, "English");
  check_token_ids(token_sets.native, vocab, "native");
  model::ForwardInput input{input_ids, attention_mask};
  const model::ForwardOutput output = model::forward(model, input, {.capture_hidden_states = true});
  const at::Tensor last = model::last_real_positions(attention_mask).to(model.device());
  const int64_t batch = input_ids.size(0);
  const int64_t layers = static_cast<int64_t>(output.hidden_states.size());

  LensBatch result;
  result.readings.assign(batch, {});
  result.probability_sums = at::zeros({layers, vocab}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor rows = at::arange(batch, last.options());
  for (int64_t layer = 0; layer < layers; ++layer) {
    const at::Tensor states = output.hidden_states[layer].index({rows, last});  // [batch, hidden]
    const at::Tensor probabilities = lens_probabilities(model, states).to(at::kCPU, at::kDouble);
    result.probability_sums[layer] = probabilities.sum(0);
    std::vector<LensLayerReading> readings = read_distributions(probabilities, token_sets, top_k);
    for (int64_t row = 0; row < batch; ++row) result.readings[row].push_back(std::move(readings[row]));
  }
  return result;
}

std::vector<LensLayerSummary> summarize_lens(const std::vector<std::vector<LensLayerReading>>& readings,
                                             const at::Tensor& probability_sums, int top_k,
                                             const BootstrapSettings& bootstrap) {
  if (readings.empty()) throw Error("logit lens: no items to summarize");
  const int64_t items = static_cast<int64_t>(readings.size());
  const int64_t layers = static_cast<int64_t>(readings.front().size());
  if (layers == 0 || probability_sums.dim() != 2 || probability_sums.size(0) != layers)
    throw Error("logit lens: the readings and the summed distributions disagree on the number of layers");
  at::Tensor english = at::empty({items, layers}, at::TensorOptions().dtype(at::kDouble));
  at::Tensor native = at::empty_like(english);
  at::Tensor entropy = at::empty_like(english);
  auto english_values = english.accessor<double, 2>();
  auto native_values = native.accessor<double, 2>();
  auto entropy_values = entropy.accessor<double, 2>();
  for (int64_t item = 0; item < items; ++item) {
    if (static_cast<int64_t>(readings[item].size()) != layers)
      throw Error(fmt::format("logit lens: item {} has {} layers, item 0 has {}", item, readings[item].size(), layers));
    for (int64_t layer = 0; layer < layers; ++layer) {
      english_values[item][layer] = readings[item][layer].english_mass;
      native_values[item][layer] = readings[item][layer].native_mass;
      entropy_values[item][layer] = readings[item][layer].entropy;
    }
  }
  const auto english_estimates =
      stats::bootstrap_mean_intervals(english, bootstrap.resamples, bootstrap.seed, bootstrap.confidence);
  const auto native_estimates = stats::bootstrap_mean_intervals(native, bootstrap.resamples, bootstrap.seed, bootstrap.confidence);
  const auto entropy_estimates =
      stats::bootstrap_mean_intervals(entropy, bootstrap.resamples, bootstrap.seed, bootstrap.confidence);
  const at::Tensor mean_distributions = probability_sums.to(at::kDouble) / static_cast<double>(items);
  std::vector<LensLayerSummary> summary;
  for (int64_t layer = 0; layer < layers; ++layer)
    summary.push_back({layer, english_estimates[layer], native_estimates[layer], entropy_estimates[layer],
                       top_of(mean_distributions[layer], top_k)});
  return summary;
}

std::vector<std::string> lens_languages(const data::Protocol& protocol, const std::string& task) {
  const data::LensProtocol& lens = protocol.task(task).lens_protocol();
  std::vector<std::string> languages;
  for (const std::string& language : protocol.languages)
    if (lens.demonstrations.count(language) && lens.native_labels.count(language)) languages.push_back(language);
  return languages;
}

LensLanguageResult run_lens(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                            const data::Protocol& protocol, const std::string& language,
                            const LensTokenSets& token_sets, const LensOptions& options) {
  const data::TaskProtocol& task = protocol.task(options.task);
  const data::LensProtocol& lens = task.lens_protocol();
  const auto native = lens.native_labels.find(language);
  if (native == lens.native_labels.end() || !lens.demonstrations.count(language)) {
    std::string available;
    for (const std::string& code : lens_languages(protocol, options.task))
      available += (available.empty() ? "" : ", ") + code;
    throw Error(fmt::format("logit lens: task {} has no native-label prompts for '{}' (available: {})", task.name,
                            language, available));
  }

  LensLanguageResult result;
  result.task = task.name;
  result.language = language;
  result.english_labels = task.labels;
  for (const std::string& label : task.labels) {
    const auto word = native->second.find(label);
    if (word == native->second.end())
      throw Error(fmt::format("{}: tasks.{}.lens.native_labels.{} has no word for the label '{}'",
                              protocol.source.string(), task.name, language, label));
    result.native_labels.push_back(word->second);
  }
  result.token_sets = token_sets;
  result.bootstrap = options.bootstrap;

  const std::vector<data::TaskItem> items = data::read_test_set(protocol, task.name, language);
  result.item_indices = select_items(items.size(), options.item_indices, options.limit,
                                     fmt::format("{}/{}", task.name, language));
  std::vector<std::vector<int64_t>> prompts;
  for (size_t index : result.item_indices)
    prompts.push_back(tokenizer.encode(
        data::evaluation_prompt(task, language, items[index], data::Demonstrations::native_labels), true));

  result.readings.assign(prompts.size(), {});
  at::Tensor probability_sums;
  io::Progress progress(fmt::format("lens {}/{}", task.name, language), static_cast<int64_t>(prompts.size()));
  for (const model::PromptBatch& batch : model::make_prompt_batches(prompts, options.batch_size)) {
    LensBatch read = read_lens(model, batch.input_ids, batch.attention_mask, token_sets, options.top_k);
    probability_sums = probability_sums.defined() ? probability_sums + read.probability_sums : read.probability_sums;
    for (size_t row = 0; row < batch.prompt_indices.size(); ++row)
      result.readings[batch.prompt_indices[row]] = std::move(read.readings[row]);
    progress.advance(static_cast<int64_t>(batch.prompt_indices.size()));
  }
  progress.finish();
  result.layers = summarize_lens(result.readings, probability_sums, options.top_k, options.bootstrap);
  return result;
}

io::Json lens_result_to_json(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                             const io::Json& provenance) {
  io::Json layers = io::Json::array();
  for (const LensLayerSummary& layer : result.layers)
    layers.push_back({{"layer", layer.layer},
                      {"english_mass", estimate_json(layer.english_mass)},
                      {"native_mass", estimate_json(layer.native_mass)},
                      {"entropy", estimate_json(layer.entropy)},
                      {"top_tokens", top_tokens_json(layer.top_tokens, tokenizer)}});
  io::Json per_item = io::Json::array();
  for (size_t item = 0; item < result.readings.size(); ++item) {
    io::Json item_layers = io::Json::array();
    for (const LensLayerReading& reading : result.readings[item]) {
      io::Json top = io::Json::array();
      for (const TokenProbability& token : reading.top_tokens) top.push_back({token.id, token.probability});
      item_layers.push_back({{"english_mass", reading.english_mass},
                             {"native_mass", reading.native_mass},
                             {"entropy", reading.entropy},
                             {"top_tokens", top}});
    }
    per_item.push_back({{"index", result.item_indices[item]}, {"layers", item_layers}});
  }
  return {{"kind", "qtalign logit lens"},
          {"task", result.task},
          {"language", result.language},
          {"provenance", provenance},
          {"labels", {{"english", result.english_labels}, {"native", result.native_labels}}},
          {"token_sets", {{"english", result.token_sets.english}, {"native", result.token_sets.native}}},
          {"bootstrap",
           {{"resamples", result.bootstrap.resamples},
            {"seed", result.bootstrap.seed},
            {"confidence", result.bootstrap.confidence}}},
          {"items", result.readings.size()},
          {"item_indices", result.item_indices},
          {"entropy_unit", "nats"},
          {"layers", layers},
          {"per_item", per_item}};
}

void write_lens_outputs(const LensLanguageResult& result, const tokenizer::Tokenizer& tokenizer,
                        const std::filesystem::path& directory, const io::Json& provenance) {
  const std::filesystem::path stem = directory / result.language;
  write_lens_chart(result, stem);
  io::write_file_atomically(stem.string() + ".csv", lens_csv(result, tokenizer));
  io::write_json_file(stem.string() + ".json", lens_result_to_json(result, tokenizer, provenance));
}

}  // namespace qtalign::analysis
