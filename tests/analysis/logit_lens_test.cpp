#include "analysis/logit_lens.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "io/error.h"
#include "model/prompt_batches.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::analysis {
namespace {

constexpr int64_t kVocab = 97;

model::Model tiny_model() {
  return model::make_random_model(model::tiny_qwen2_config(kVocab), 7, at::kFloat, testing::test_device());
}

std::vector<std::vector<int64_t>> test_prompts() {
  std::mt19937_64 generator(3);
  std::vector<std::vector<int64_t>> prompts;
  for (size_t length : {5u, 11u, 3u, 8u, 11u}) {
    std::vector<int64_t> prompt;
    for (size_t i = 0; i < length; ++i) prompt.push_back(static_cast<int64_t>(generator() % kVocab));
    prompts.push_back(prompt);
  }
  return prompts;
}

// The lens distribution written out independently: RMSNorm by hand (in double), the product with
// the unembedding, a softmax.
std::vector<double> reference_lens(const model::Model& model, const at::Tensor& state) {
  const at::Tensor h = state.to(at::kDouble);
  const double mean_square = (h * h).mean().item<double>();
  const at::Tensor normed = h / std::sqrt(mean_square + model.config.rms_norm_eps) * model.norm.to(at::kDouble);
  const at::Tensor logits = at::matmul(model.lm_head.to(at::kDouble), normed);
  std::vector<double> values(logits.data_ptr<double>(), logits.data_ptr<double>() + logits.numel());
  const double largest = *std::max_element(values.begin(), values.end());
  double total = 0;
  for (double& v : values) total += (v = std::exp(v - largest));
  for (double& v : values) v /= total;
  return values;
}

double sum_over(const std::vector<double>& p, const std::vector<int64_t>& ids) {
  double total = 0;
  for (int64_t id : ids) total += p[id];
  return total;
}

// Two labels over a vocabulary of 8: English candidates {0, 1} and {2}, test-language ones {3} and {4, 5}.
LensTokenSets two_label_sets() { return {{{0, 1}, {2}}, {{3}, {4, 5}}}; }

double entropy_of(const std::vector<double>& p) {
  double total = 0;
  for (double value : p)
    if (value > 0) total -= value * std::log2(value);
  return total;
}

TEST(LogitLens, ReadsTheFourQuantitiesOfADistributionByHand) {
  const std::vector<double> first{0.30, 0.10, 0.20, 0.05, 0.05, 0.05, 0.15, 0.10};
  const std::vector<double> second{0.02, 0.03, 0.05, 0.50, 0.20, 0.10, 0.05, 0.05};
  std::vector<double> both = first;
  both.insert(both.end(), second.begin(), second.end());
  const at::Tensor p = at::tensor(both, at::kDouble).view({2, 8});
  const auto readings = read_distributions(p, two_label_sets(), {0, 1}, 3);
  ASSERT_EQ(readings.size(), 2u);
  // Row 0 answers label 0: English {0, 1}, its word in the language {3}.
  EXPECT_NEAR(readings[0].correct_english, 0.40, 1e-15);
  EXPECT_NEAR(readings[0].correct_native, 0.05, 1e-15);
  EXPECT_NEAR(readings[0].all_native, 0.15, 1e-15);
  EXPECT_NEAR(readings[0].all_english, 0.60, 1e-15);
  EXPECT_NEAR(readings[0].entropy, entropy_of(first), 1e-12);
  // Row 1 answers label 1: English {2}, in the language {4, 5}.
  EXPECT_NEAR(readings[1].correct_english, 0.05, 1e-15);
  EXPECT_NEAR(readings[1].correct_native, 0.30, 1e-15);
  EXPECT_NEAR(readings[1].all_native, 0.80, 1e-15);
  EXPECT_NEAR(readings[1].all_english, 0.10, 1e-15);
  ASSERT_EQ(readings[1].top_tokens.size(), 3u);
  EXPECT_EQ(readings[1].top_tokens[0].id, 3);
  EXPECT_EQ(readings[1].top_tokens[1].id, 4);
  EXPECT_DOUBLE_EQ(readings[1].top_tokens[2].probability, 0.10);
  EXPECT_THROW(read_distributions(p, two_label_sets(), {0, 2}, 3), Error);  // no label 2
  EXPECT_THROW(read_distributions(p, two_label_sets(), {0}, 3), Error);     // one label for two rows
  EXPECT_THROW(read_distributions(p * std::nan(""), two_label_sets(), {0, 1}, 3), Error);
}

// The distribution each layer of the constructed model reads out (see constructed_model).
const std::vector<std::vector<double>> kLayerDistributions = {
    {0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.35, 0.35},
    {0.30, 0.10, 0.20, 0.05, 0.05, 0.05, 0.15, 0.10},
    {0.02, 0.03, 0.05, 0.50, 0.20, 0.10, 0.05, 0.05},
};

// A two-layer model whose lens distribution at each layer, for the one-token prompt {0}, is
// kLayerDistributions[layer]. Token 0 embeds as 8 * e0; layer L adds 8 * (e(L+1) - eL) to the residual
// stream through its attention alone (v = its bias, which one position passes on unchanged; o_proj
// maps that bias onto the step), the MLPs add nothing; so the stream is 8 * eL after layer L. The
// final norm (weight 1/8, eps 0) turns 8 * eL into eL, and column L of the unembedding holds the log
// of the designed distribution.
model::Model constructed_model() {
  model::ModelConfig config = model::tiny_qwen2_config(8);
  config.rms_norm_eps = 0.0;
  config.tie_word_embeddings = false;
  model::Model model = model::make_random_model(config, 1);
  const int64_t hidden = config.hidden_size;
  const auto unit = [&](int64_t i) {
    at::Tensor e = at::zeros({hidden}, at::kFloat);
    e[i] = 1.0;
    return e;
  };
  model.embed_tokens = model.embed_tokens.clone();
  model.embed_tokens[0] = 8.0 * unit(0);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    model::DecoderLayer& layer = model.layers[l];
    layer.v_proj.weight = at::zeros_like(layer.v_proj.weight);
    layer.v_proj.bias = at::zeros_like(layer.v_proj.bias);
    layer.v_proj.bias[0] = 1.0;  // head 0 reads KV head 0 in any grouping
    layer.o_proj.weight = at::zeros_like(layer.o_proj.weight);
    layer.o_proj.weight.select(1, 0).copy_(8.0 * (unit(static_cast<int64_t>(l) + 1) - unit(static_cast<int64_t>(l))));
    layer.down_proj.weight = at::zeros_like(layer.down_proj.weight);
  }
  model.norm = at::full({hidden}, 0.125, at::kFloat);
  model.lm_head = at::zeros({8, hidden}, at::kFloat);
  for (size_t l = 0; l < kLayerDistributions.size(); ++l)
    for (int64_t token = 0; token < 8; ++token)
      model.lm_head[token][static_cast<int64_t>(l)] = std::log(kLayerDistributions[l][token]);
  return model;
}

TEST(LogitLens, ConstructedModelGivesTheHandComputedQuantitiesAtEveryLayer) {
  const model::Model model = constructed_model();
  // Two items with the same prompt, one per label.
  const model::PromptBatch batch = model::make_prompt_batches({{0}, {0}}, 2).front();
  const LensBatch read = read_lens(model, batch.input_ids, batch.attention_mask, two_label_sets(), {0, 1}, 2);
  ASSERT_EQ(read.readings.size(), 2u);
  ASSERT_EQ(read.readings[0].size(), 3u);
  // Hand sums per layer of kLayerDistributions: label 0 reads {0,1} / {3}; label 1 reads {2} / {4,5};
  // all English {0,1,2}, all in the language {3,4,5}.
  const double correct_english[3][2] = {{0.10, 0.05}, {0.40, 0.20}, {0.05, 0.05}};
  const double correct_native[3][2] = {{0.05, 0.10}, {0.05, 0.10}, {0.50, 0.30}};
  const double all_native[3] = {0.15, 0.15, 0.80};
  const double all_english[3] = {0.15, 0.60, 0.10};
  // In bits, as the study reports it.
  const double entropy[3] = {-(6 * 0.05 * std::log2(0.05) + 2 * 0.35 * std::log2(0.35)),
                             -(0.30 * std::log2(0.30) + 2 * 0.10 * std::log2(0.10) + 0.20 * std::log2(0.20) +
                               3 * 0.05 * std::log2(0.05) + 0.15 * std::log2(0.15)),
                             -(0.02 * std::log2(0.02) + 0.03 * std::log2(0.03) + 3 * 0.05 * std::log2(0.05) +
                               0.50 * std::log2(0.50) + 0.20 * std::log2(0.20) + 0.10 * std::log2(0.10))};
  for (int layer = 0; layer < 3; ++layer)
    for (int item = 0; item < 2; ++item) {
      const LensLayerReading& reading = read.readings[item][layer];
      EXPECT_NEAR(reading.correct_english, correct_english[layer][item], 1e-6) << layer << "/" << item;
      EXPECT_NEAR(reading.correct_native, correct_native[layer][item], 1e-6) << layer << "/" << item;
      EXPECT_NEAR(reading.all_native, all_native[layer], 1e-6) << layer;
      EXPECT_NEAR(reading.all_english, all_english[layer], 1e-6) << layer;
      EXPECT_NEAR(reading.entropy, entropy[layer], 1e-5) << layer;
    }

  // The same through a plan: the summary is the mean of the two items, with intervals around it.
  LensLanguagePlan plan;
  plan.task = "emotion";
  plan.language = "xx";
  plan.english_labels = {"positive", "negative"};
  plan.native_labels = {"p", "n"};
  plan.token_sets = two_label_sets();
  plan.item_indices = plan.sampled_indices = {4, 9};
  plan.item_labels = {0, 1};
  plan.prompts = {{0}, {0}};
  LensSpec spec;
  spec.bootstrap = {500, 3, 0.9};
  const LensLanguageResult result = run_lens(model, plan, spec);
  ASSERT_EQ(result.layers.size(), 3u);
  for (int layer = 0; layer < 3; ++layer) {
    const LensLayerSummary& summary = result.layers[layer];
    EXPECT_NEAR(summary.correct_english.value, (correct_english[layer][0] + correct_english[layer][1]) / 2, 1e-6);
    EXPECT_NEAR(summary.correct_native.value, (correct_native[layer][0] + correct_native[layer][1]) / 2, 1e-6);
    EXPECT_NEAR(summary.all_native.value, all_native[layer], 1e-6);
    EXPECT_NEAR(summary.all_english.value, all_english[layer], 1e-6);
    EXPECT_NEAR(summary.entropy.value, entropy[layer], 1e-5);
    // Two items: every resample is item 0 twice, item 1 twice or one of each.
    EXPECT_GE(summary.correct_english.lower, std::min(correct_english[layer][0], correct_english[layer][1]) - 1e-6);
    EXPECT_LE(summary.correct_english.upper, std::max(correct_english[layer][0], correct_english[layer][1]) + 1e-6);
  }
  EXPECT_EQ(result.layers[1].top_tokens[0].id, 0);  // 0.30 is the largest at layer 1
}

TEST(LogitLens, OverlapFilterDropsExactlyTheItemsWhoseAnswersShareTokens) {
  // Label 0's English and test-language candidates share token 1; label 1's do not.
  const LensTokenSets sets{{{0, 1}, {2}}, {{1, 3}, {4, 5}}};
  EXPECT_TRUE(sets.overlaps(0));
  EXPECT_FALSE(sets.overlaps(1));
  std::vector<size_t> dropped;
  const std::vector<size_t> kept = items_without_overlap({10, 11, 12, 13, 20}, {0, 1, 0, 1, 1}, sets, dropped);
  EXPECT_EQ(kept, (std::vector<size_t>{11, 13, 20}));
  EXPECT_EQ(dropped, (std::vector<size_t>{10, 12}));
  EXPECT_EQ(sets.all_english(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(sets.all_native(), (std::vector<int64_t>{1, 3, 4, 5}));
  EXPECT_THROW(items_without_overlap({1, 2}, {0}, sets, dropped), Error);
  EXPECT_THROW(sets.overlaps(2), Error);
}

TEST(LogitLens, LastLayerIsTheModelsOwnOutputAndEveryLayerMatchesAHandWrittenLens) {
  const model::Model model = tiny_model();
  const auto prompts = test_prompts();
  const LensTokenSets sets{{{3, 17}, {40}}, {{17}, {90, 5}}};
  const std::vector<size_t> labels{0, 1, 1, 0, 1};
  std::vector<std::vector<LensLayerReading>> readings(prompts.size());
  at::Tensor sums;
  for (const model::PromptBatch& batch : model::make_prompt_batches(prompts, 3)) {
    std::vector<size_t> batch_labels;
    for (size_t index : batch.prompt_indices) batch_labels.push_back(labels[index]);
    LensBatch read = read_lens(model, batch.input_ids, batch.attention_mask, sets, batch_labels, 5);
    sums = sums.defined() ? sums + read.probability_sums : read.probability_sums;
    for (size_t row = 0; row < batch.prompt_indices.size(); ++row)
      readings[batch.prompt_indices[row]] = read.readings[row];
  }
  const int64_t layers = model.config.num_hidden_layers + 1;
  at::Tensor expected_sums = at::zeros({layers, kVocab}, at::kDouble);
  for (size_t i = 0; i < prompts.size(); ++i) {
    // Each prompt alone, unpadded: the model's own next-token distribution and its hidden states.
    const at::Tensor ids = at::tensor(prompts[i], at::kLong).unsqueeze(0);
    const model::ForwardOutput output = model::forward(model, {ids}, {.capture_hidden_states = true});
    const int64_t last = static_cast<int64_t>(prompts[i].size()) - 1;
    const at::Tensor own = at::softmax(model::logits(model, output.final_hidden[0][last]), -1).to(at::kDouble);
    std::vector<double> own_p(own.data_ptr<double>(), own.data_ptr<double>() + kVocab);
    ASSERT_EQ(readings[i].size(), static_cast<size_t>(layers));

    const LensLayerReading& top_layer = readings[i].back();
    EXPECT_NEAR(top_layer.correct_english, sum_over(own_p, sets.english[labels[i]]), 1e-5);
    EXPECT_NEAR(top_layer.correct_native, sum_over(own_p, sets.native[labels[i]]), 1e-5);
    EXPECT_NEAR(top_layer.all_english, sum_over(own_p, {3, 17, 40}), 1e-5);
    EXPECT_NEAR(top_layer.all_native, sum_over(own_p, {5, 17, 90}), 1e-5);
    double own_entropy = 0;
    for (double p : own_p) own_entropy -= p * std::log2(p);
    EXPECT_NEAR(top_layer.entropy, own_entropy, 1e-5);
    std::vector<int64_t> order(kVocab);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return own_p[a] > own_p[b]; });
    ASSERT_EQ(top_layer.top_tokens.size(), 5u);
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(top_layer.top_tokens[k].id, order[k]) << "prompt " << i << " rank " << k;
      EXPECT_NEAR(top_layer.top_tokens[k].probability, own_p[order[k]], 1e-5);
    }

    for (int64_t layer = 0; layer < layers; ++layer) {
      const std::vector<double> p = reference_lens(model, output.hidden_states[layer][0][last]);
      EXPECT_NEAR(readings[i][layer].correct_english, sum_over(p, sets.english[labels[i]]), 1e-5) << "layer " << layer;
      EXPECT_NEAR(readings[i][layer].correct_native, sum_over(p, sets.native[labels[i]]), 1e-5) << "layer " << layer;
      EXPECT_NEAR(readings[i][layer].all_native, sum_over(p, {5, 17, 90}), 1e-5) << "layer " << layer;
      expected_sums[layer] += at::tensor(p, at::kDouble);
    }
  }
  EXPECT_LE((sums - expected_sums).abs().max().item<double>(), 1e-5);
}

// The exact bootstrap distribution of the mean of a 0/1 sample with k ones out of n is Binomial(n, k/n) / n,
// so a percentile interval must sit at its quantiles (within one step 1/n).
double binomial_quantile(int n, double p, double q) {
  double cumulative = 0;
  for (int k = 0; k <= n; ++k) {
    cumulative += std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) + k * std::log(p) +
                           (n - k) * std::log(1 - p));
    if (cumulative >= q) return static_cast<double>(k) / n;
  }
  return 1.0;
}

TEST(LogitLens, SummaryGivesTheKnownBootstrapIntervalPerLayer) {
  const int n = 400;
  std::vector<std::vector<LensLayerReading>> readings(n, std::vector<LensLayerReading>(2));
  for (int i = 0; i < n; ++i) {
    readings[i][0] = {i % 2 == 0 ? 1.0 : 0.0, 0.25, 0.5, 0.75, 3.0, {}};  // half the items: p = 0.5
    readings[i][1] = {i % 5 == 0 ? 1.0 : 0.0, 0.25, 0.5, 0.75, 3.0, {}};  // a fifth: p = 0.2
  }
  at::Tensor sums = at::zeros({2, 4}, at::kDouble);
  sums[0] = at::tensor(std::vector<double>{0.1, 0.6, 0.2, 0.1}, at::kDouble) * n;
  sums[1] = at::tensor(std::vector<double>{0.4, 0.1, 0.2, 0.3}, at::kDouble) * n;
  const auto summary = summarize_lens(readings, sums, 2, {20000, 11, 0.95});
  ASSERT_EQ(summary.size(), 2u);
  for (auto [layer, p] : {std::pair{0, 0.5}, std::pair{1, 0.2}}) {
    EXPECT_DOUBLE_EQ(summary[layer].correct_english.value, p);
    EXPECT_NEAR(summary[layer].correct_english.lower, binomial_quantile(n, p, 0.025), 1.0 / n + 1e-12);
    EXPECT_NEAR(summary[layer].correct_english.upper, binomial_quantile(n, p, 0.975), 1.0 / n + 1e-12);
    // A constant sample's interval is the constant itself.
    EXPECT_DOUBLE_EQ(summary[layer].correct_native.lower, 0.25);
    EXPECT_DOUBLE_EQ(summary[layer].correct_native.upper, 0.25);
    EXPECT_DOUBLE_EQ(summary[layer].all_native.value, 0.5);
    EXPECT_DOUBLE_EQ(summary[layer].all_english.upper, 0.75);
    EXPECT_DOUBLE_EQ(summary[layer].entropy.value, 3.0);
  }
  // About 1.96 * sqrt(0.25 / 400) = 0.049 either side of 0.5.
  EXPECT_NEAR(summary[0].correct_english.upper - summary[0].correct_english.lower, 2 * 0.049, 0.006);
  EXPECT_EQ(summary[0].top_tokens[0].id, 1);
  EXPECT_NEAR(summary[0].top_tokens[0].probability, 0.6, 1e-12);
  EXPECT_EQ(summary[1].top_tokens[0].id, 0);
  EXPECT_EQ(summary[1].top_tokens[1].id, 3);
}

TEST(LogitLens, RejectsTokenIdsOutsideTheVocabulary) {
  const model::Model model = tiny_model();
  const model::PromptBatch batch = model::make_prompt_batches({{1, 2, 3}}, 1).front();
  EXPECT_THROW(read_lens(model, batch.input_ids, batch.attention_mask, {{{kVocab}}, {{1}}}, {0}, 5), Error);
  EXPECT_THROW(summarize_lens({}, at::zeros({1, 4}, at::kDouble), 2, {}), Error);
}

}  // namespace
}  // namespace qtalign::analysis
