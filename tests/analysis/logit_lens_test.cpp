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

namespace qtalign::analysis {
namespace {

constexpr int64_t kVocab = 97;

model::Model tiny_model() { return model::make_random_model(model::tiny_qwen2_config(kVocab), 7); }

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

TEST(LogitLens, ReadsADistributionByHand) {
  const at::Tensor p = at::tensor(std::vector<double>{0.5, 0.25, 0.125, 0.125, 0.25, 0.25, 0.25, 0.25}, at::kDouble);
  const auto readings = read_distributions(p.view({2, 4}), {{0}, {1, 3}}, 3);
  ASSERT_EQ(readings.size(), 2u);
  EXPECT_DOUBLE_EQ(readings[1].english_mass, 0.25);
  EXPECT_DOUBLE_EQ(readings[1].native_mass, 0.5);
  EXPECT_NEAR(readings[1].entropy, std::log(4.0), 1e-12);
  const LensLayerReading& reading = readings[0];
  EXPECT_DOUBLE_EQ(reading.english_mass, 0.5);
  EXPECT_DOUBLE_EQ(reading.native_mass, 0.375);
  // -(0.5 ln 0.5 + 0.25 ln 0.25 + 2 * 0.125 ln 0.125) = 1.75 ln 2
  EXPECT_NEAR(reading.entropy, 1.75 * std::log(2.0), 1e-12);
  ASSERT_EQ(reading.top_tokens.size(), 3u);
  EXPECT_EQ(reading.top_tokens[0].id, 0);
  EXPECT_EQ(reading.top_tokens[1].id, 1);
  EXPECT_DOUBLE_EQ(reading.top_tokens[2].probability, 0.125);
}

TEST(LogitLens, LastLayerIsTheModelsOwnOutputAndEveryLayerMatchesAHandWrittenLens) {
  const model::Model model = tiny_model();
  const auto prompts = test_prompts();
  const LensTokenSets sets{{3, 17, 40}, {17, 90}};
  std::vector<std::vector<LensLayerReading>> readings(prompts.size());
  at::Tensor sums;
  for (const model::PromptBatch& batch : model::make_prompt_batches(prompts, 3)) {
    LensBatch read = read_lens(model, batch.input_ids, batch.attention_mask, sets, 5);
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
    EXPECT_NEAR(top_layer.english_mass, sum_over(own_p, sets.english), 1e-5);
    EXPECT_NEAR(top_layer.native_mass, sum_over(own_p, sets.native), 1e-5);
    double own_entropy = 0;
    for (double p : own_p) own_entropy -= p * std::log(p);
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
      EXPECT_NEAR(readings[i][layer].english_mass, sum_over(p, sets.english), 1e-5) << "layer " << layer;
      EXPECT_NEAR(readings[i][layer].native_mass, sum_over(p, sets.native), 1e-5) << "layer " << layer;
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
    readings[i][0] = {i % 2 == 0 ? 1.0 : 0.0, 0.25, 3.0, {}};   // half the items: p = 0.5
    readings[i][1] = {i % 5 == 0 ? 1.0 : 0.0, 0.25, 3.0, {}};   // a fifth: p = 0.2
  }
  at::Tensor sums = at::zeros({2, 4}, at::kDouble);
  sums[0] = at::tensor(std::vector<double>{0.1, 0.6, 0.2, 0.1}, at::kDouble) * n;
  sums[1] = at::tensor(std::vector<double>{0.4, 0.1, 0.2, 0.3}, at::kDouble) * n;
  const auto summary = summarize_lens(readings, sums, 2, {20000, 11, 0.95});
  ASSERT_EQ(summary.size(), 2u);
  for (auto [layer, p] : {std::pair{0, 0.5}, std::pair{1, 0.2}}) {
    EXPECT_DOUBLE_EQ(summary[layer].english_mass.value, p);
    EXPECT_NEAR(summary[layer].english_mass.lower, binomial_quantile(n, p, 0.025), 1.0 / n + 1e-12);
    EXPECT_NEAR(summary[layer].english_mass.upper, binomial_quantile(n, p, 0.975), 1.0 / n + 1e-12);
    // A constant sample's interval is the constant itself.
    EXPECT_DOUBLE_EQ(summary[layer].native_mass.lower, 0.25);
    EXPECT_DOUBLE_EQ(summary[layer].native_mass.upper, 0.25);
    EXPECT_DOUBLE_EQ(summary[layer].entropy.value, 3.0);
  }
  // About 1.96 * sqrt(0.25 / 400) = 0.049 either side of 0.5.
  EXPECT_NEAR(summary[0].english_mass.upper - summary[0].english_mass.lower, 2 * 0.049, 0.006);
  EXPECT_EQ(summary[0].top_tokens[0].id, 1);
  EXPECT_NEAR(summary[0].top_tokens[0].probability, 0.6, 1e-12);
  EXPECT_EQ(summary[1].top_tokens[0].id, 0);
  EXPECT_EQ(summary[1].top_tokens[1].id, 3);
}

TEST(LogitLens, RejectsTokenIdsOutsideTheVocabulary) {
  const model::Model model = tiny_model();
  const model::PromptBatch batch = model::make_prompt_batches({{1, 2, 3}}, 1).front();
  EXPECT_THROW(read_lens(model, batch.input_ids, batch.attention_mask, {{kVocab}, {}}, 5), Error);
  EXPECT_THROW(summarize_lens({}, at::zeros({1, 4}, at::kDouble), 2, {}), Error);
}

}  // namespace
}  // namespace qtalign::analysis
