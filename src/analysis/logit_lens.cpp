#include "analysis/logit_lens.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>

#include "analysis/shared_batches.h"
#include "distributed/tensor_message.h"
#include "io/error.h"
#include "model/finite.h"
#include "model/prompt_batches.h"
#include "model/transformer.h"

namespace qtalign::analysis {
namespace {

std::vector<int64_t> merged(const std::vector<std::vector<int64_t>>& sets) {
  std::set<int64_t> ids;
  for (const std::vector<int64_t>& set : sets) ids.insert(set.begin(), set.end());
  return {ids.begin(), ids.end()};
}

// The probability mass of `ids` in each row of [rows, vocab] probabilities.
at::Tensor masses_of(const at::Tensor& probabilities, const std::vector<int64_t>& ids) {
  if (ids.empty()) return at::zeros({probabilities.size(0)}, probabilities.options());
  const at::Tensor index = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(probabilities.device());
  return probabilities.index_select(1, index).sum(1);
}

void check_token_ids(const std::vector<std::vector<int64_t>>& sets, int64_t vocab, const std::string& which) {
  for (const std::vector<int64_t>& ids : sets)
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

// A batch's readings as the tensors a rank sends: the summed distributions, the quantities [rows,
// layers, quantity] and the top tokens' ids and probabilities [rows, layers, k].
distributed::TensorMessage lens_batch_message(const LensBatch& batch) {
  const int64_t rows = static_cast<int64_t>(batch.readings.size());
  const int64_t layers = rows > 0 ? static_cast<int64_t>(batch.readings[0].size()) : 0;
  const int64_t k = layers > 0 ? static_cast<int64_t>(batch.readings[0][0].top_tokens.size()) : 0;
  const auto doubles = at::TensorOptions().dtype(at::kDouble);
  at::Tensor quantities = at::empty({rows, layers, static_cast<int64_t>(std::size(kLensQuantities))}, doubles);
  at::Tensor top_ids = at::empty({rows, layers, k}, at::TensorOptions().dtype(at::kLong));
  at::Tensor top_probabilities = at::empty({rows, layers, k}, doubles);
  auto values = quantities.accessor<double, 3>();
  auto ids = top_ids.accessor<int64_t, 3>();
  auto probabilities = top_probabilities.accessor<double, 3>();
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t layer = 0; layer < layers; ++layer) {
      const LensLayerReading& reading = batch.readings[row][layer];
      for (size_t q = 0; q < std::size(kLensQuantities); ++q) values[row][layer][q] = reading.*kLensQuantities[q].reading;
      for (int64_t t = 0; t < k; ++t) {
        ids[row][layer][t] = reading.top_tokens[t].id;
        probabilities[row][layer][t] = reading.top_tokens[t].probability;
      }
    }
  return {io::Json::object(), {batch.probability_sums, quantities, top_ids, top_probabilities}};
}

// The batch lens_batch_message packed, checked to hold `rows` readings.
LensBatch lens_batch_from_message(const distributed::TensorMessage& message, size_t rows, const std::string& origin) {
  const bool shaped = message.tensors.size() == 4 && message.tensors[0].dim() == 2 && message.tensors[1].dim() == 3 &&
                      message.tensors[1].size(0) == static_cast<int64_t>(rows) &&
                      message.tensors[1].size(1) == message.tensors[0].size(0) &&
                      message.tensors[1].size(2) == static_cast<int64_t>(std::size(kLensQuantities)) &&
                      message.tensors[2].sizes() == message.tensors[3].sizes() && message.tensors[2].dim() == 3 &&
                      message.tensors[2].size(0) == static_cast<int64_t>(rows) &&
                      message.tensors[2].size(1) == message.tensors[0].size(0);
  if (!shaped) throw Error(fmt::format("{}: not the lens readings of {} prompts", origin, rows));
  LensBatch batch;
  batch.probability_sums = message.tensors[0];
  auto values = message.tensors[1].accessor<double, 3>();
  auto ids = message.tensors[2].accessor<int64_t, 3>();
  auto probabilities = message.tensors[3].accessor<double, 3>();
  batch.readings.assign(rows, std::vector<LensLayerReading>(static_cast<size_t>(message.tensors[0].size(0))));
  for (size_t row = 0; row < rows; ++row)
    for (size_t layer = 0; layer < batch.readings[row].size(); ++layer) {
      LensLayerReading& reading = batch.readings[row][layer];
      for (size_t q = 0; q < std::size(kLensQuantities); ++q) reading.*kLensQuantities[q].reading = values[row][layer][q];
      for (int64_t t = 0; t < ids.size(2); ++t)
        reading.top_tokens.push_back({ids[row][layer][t], probabilities[row][layer][t]});
    }
  return batch;
}

}  // namespace

std::vector<int64_t> LensTokenSets::all_english() const { return merged(english); }
std::vector<int64_t> LensTokenSets::all_native() const { return merged(native); }

bool LensTokenSets::overlaps(size_t label) const { return !shared(label).empty(); }

std::vector<int64_t> LensTokenSets::shared(size_t label) const {
  if (label >= english.size() || label >= native.size())
    throw Error(fmt::format("logit lens: label {} has no token sets", label));
  const std::set<int64_t> english_ids(english[label].begin(), english[label].end());
  const std::set<int64_t> native_ids(native[label].begin(), native[label].end());
  std::vector<int64_t> both;
  std::set_intersection(english_ids.begin(), english_ids.end(), native_ids.begin(), native_ids.end(),
                        std::back_inserter(both));
  return both;
}

at::Tensor lens_probabilities(const model::Model& model, const at::Tensor& residual) {
  return at::softmax(model::logits(model, model::final_norm(model, residual)), -1);
}

std::vector<LensLayerReading> read_distributions(const at::Tensor& probabilities, const LensTokenSets& token_sets,
                                                 const std::vector<size_t>& labels, int top_k) {
  if (probabilities.dim() != 2) throw Error("logit lens: expected [rows, vocab] probabilities");
  if (static_cast<int64_t>(labels.size()) != probabilities.size(0))
    throw Error(fmt::format("logit lens: {} rows but {} answer labels", probabilities.size(0), labels.size()));
  if (token_sets.english.size() != token_sets.native.size())
    throw Error("logit lens: the English and test-language token sets cover different numbers of labels");
  const at::Tensor p = probabilities.to(at::kCPU, at::kDouble);
  model::require_finite(p, "logit lens: the lens distribution");
  const int64_t vocab = p.size(1);
  check_token_ids(token_sets.english, vocab, "English");
  check_token_ids(token_sets.native, vocab, "test-language");
  std::vector<at::Tensor> english_per_label, native_per_label;
  for (size_t label = 0; label < token_sets.english.size(); ++label) {
    english_per_label.push_back(masses_of(p, token_sets.english[label]));
    native_per_label.push_back(masses_of(p, token_sets.native[label]));
  }
  const at::Tensor all_english = masses_of(p, token_sets.all_english());
  const at::Tensor all_native = masses_of(p, token_sets.all_native());
  const at::Tensor entropy = -at::xlogy(p, p).sum(1) / std::log(2.0);
  const int64_t k = std::min<int64_t>(std::max(top_k, 0), vocab);
  const auto [top_values, top_ids] = at::topk(p, k, 1);
  const auto top_value = top_values.accessor<double, 2>();
  const auto top_id = top_ids.accessor<int64_t, 2>();
  std::vector<LensLayerReading> readings(p.size(0));
  for (int64_t row = 0; row < p.size(0); ++row) {
    const size_t label = labels[row];
    if (label >= english_per_label.size())
      throw Error(fmt::format("logit lens: row {} has answer label {}, but there are {} labels", row, label,
                              english_per_label.size()));
    LensLayerReading& reading = readings[row];
    reading.correct_english = english_per_label[label][row].item<double>();
    reading.correct_native = native_per_label[label][row].item<double>();
    reading.all_native = all_native[row].item<double>();
    reading.all_english = all_english[row].item<double>();
    reading.entropy = entropy[row].item<double>();
    for (int64_t i = 0; i < k; ++i) reading.top_tokens.push_back({top_id[row][i], top_value[row][i]});
  }
  return readings;
}

LensBatch read_lens(const model::Model& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const LensTokenSets& token_sets, const std::vector<size_t>& labels, int top_k) {
  const int64_t vocab = model.vocab_size();
  check_token_ids(token_sets.english, vocab, "English");
  check_token_ids(token_sets.native, vocab, "test-language");
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
    std::vector<LensLayerReading> readings = read_distributions(probabilities, token_sets, labels, top_k);
    result.probability_sums[layer] = probabilities.sum(0);
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
  std::vector<LensLayerSummary> summary(layers);
  for (int64_t layer = 0; layer < layers; ++layer) summary[layer].layer = layer;
  for (const LensQuantity& quantity : kLensQuantities) {
    at::Tensor values = at::empty({items, layers}, at::TensorOptions().dtype(at::kDouble));
    auto accessor = values.accessor<double, 2>();
    for (int64_t item = 0; item < items; ++item) {
      if (static_cast<int64_t>(readings[item].size()) != layers)
        throw Error(
            fmt::format("logit lens: item {} has {} layers, item 0 has {}", item, readings[item].size(), layers));
      for (int64_t layer = 0; layer < layers; ++layer) accessor[item][layer] = readings[item][layer].*quantity.reading;
    }
    // One seed for every quantity: the same resampled items behind every band.
    const std::vector<stats::Estimate> estimates =
        stats::bootstrap_mean_intervals(values, bootstrap.resamples, bootstrap.seed, bootstrap.confidence);
    for (int64_t layer = 0; layer < layers; ++layer) summary[layer].*quantity.estimate = estimates[layer];
  }
  const at::Tensor mean_distributions = probability_sums.to(at::kDouble) / static_cast<double>(items);
  for (int64_t layer = 0; layer < layers; ++layer) summary[layer].top_tokens = top_of(mean_distributions[layer], top_k);
  return summary;
}

std::vector<size_t> items_without_overlap(const std::vector<size_t>& items, const std::vector<size_t>& labels,
                                          const LensTokenSets& token_sets, std::vector<size_t>& dropped) {
  if (items.size() != labels.size())
    throw Error(fmt::format("logit lens: {} items but {} answer labels", items.size(), labels.size()));
  std::vector<size_t> kept;
  dropped.clear();
  for (size_t i = 0; i < items.size(); ++i) (token_sets.overlaps(labels[i]) ? dropped : kept).push_back(items[i]);
  return kept;
}

void run_lens_shared(distributed::ProcessGroup& group, const model::Model& model,
                     const std::vector<LensLanguagePlan>& plans, const LensSpec& spec,
                     const std::function<void(LensLanguageResult)>& finished) {
  // A language's result on rank 0, filled as its batches arrive; distributions are summed in batch
  // order, as one process sums them, so a batch that arrives early waits.
  struct Gathering {
    LensLanguageResult result;
    at::Tensor probability_sums;
    size_t summed = 0;       // batches
    size_t summed_rows = 0;  // their prompts
    std::map<size_t, std::pair<at::Tensor, size_t>> early;  // batch -> distributions summed, prompts
  };
  std::vector<Gathering> gathering(plans.size());
  std::vector<std::vector<std::vector<int64_t>>> prompts;
  std::vector<std::string> languages;
  for (size_t p = 0; p < plans.size(); ++p) {
    prompts.push_back(plans[p].prompts);
    languages.push_back(plans[p].language);
    Gathering& language = gathering[p];
    language.result.plan = plans[p];
    language.result.bootstrap = spec.bootstrap;
    language.result.limit = spec.limit;
    language.result.readings.assign(plans[p].prompts.size(), {});
    if (plans[p].prompts.empty() && group.is_main()) finished(std::move(language.result));
  }
  const auto work = [&](size_t p, const model::PromptBatch& batch) {
    std::vector<size_t> labels;
    for (size_t index : batch.prompt_indices) labels.push_back(plans[p].item_labels[index]);
    const LensBatch read =
        read_lens(model, batch.input_ids, batch.attention_mask, plans[p].token_sets, labels, spec.top_k);
    return distributed::encode_tensor_message(lens_batch_message(read));
  };
  const auto on_result = [&](size_t p, size_t b, const model::PromptBatch& batch, const std::string& bytes) {
    const std::string origin =
        fmt::format("lens {}/{}, batch {} (sent by a rank)", plans[p].task, plans[p].language, b);
    LensBatch read = lens_batch_from_message(distributed::decode_tensor_message(bytes, origin),
                                             batch.prompt_indices.size(), origin);
    Gathering& language = gathering[p];
    for (size_t row = 0; row < batch.prompt_indices.size(); ++row)
      language.result.readings[batch.prompt_indices[row]] = std::move(read.readings[row]);
    language.early.emplace(b, std::make_pair(read.probability_sums, batch.prompt_indices.size()));
    for (auto next = language.early.find(language.summed); next != language.early.end();
         next = language.early.find(language.summed)) {
      const auto& [sums, rows] = next->second;
      language.probability_sums = language.probability_sums.defined() ? language.probability_sums + sums : sums;
      language.summed_rows += rows;
      ++language.summed;
      language.early.erase(next);
    }
    if (language.summed_rows < plans[p].prompts.size()) return;
    language.result.layers =
        summarize_lens(language.result.readings, language.probability_sums, spec.top_k, spec.bootstrap);
    language.probability_sums = at::Tensor();
    finished(std::move(language.result));
  };
  run_shared_batches(group, prompts, languages, spec.batch_size,
                     "lens " + (plans.empty() ? std::string() : plans.front().task), work, on_result);
}

LensLanguageResult run_lens(const model::Model& model, const LensLanguagePlan& plan, const LensSpec& spec) {
  distributed::ProcessGroup single;
  LensLanguageResult result;
  run_lens_shared(single, model, {plan}, spec, [&](LensLanguageResult finished) { result = std::move(finished); });
  return result;
}

}  // namespace qtalign::analysis
