#include "analysis/representations.h"

#include <gtest/gtest.h>

#include <cmath>

#include "io/error.h"
#include "model/prompt_batches.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::analysis {
namespace {

using Points = std::vector<std::pair<double, double>>;

at::Tensor matrix(const Points& points) {
  std::vector<double> values;
  for (auto [x, y] : points) {
    values.push_back(x);
    values.push_back(y);
  }
  return at::tensor(values, at::kDouble).view({static_cast<int64_t>(points.size()), 2}).to(at::kFloat);
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double mean_a = 0, mean_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    mean_a += a[i] / n;
    mean_b += b[i] / n;
  }
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - mean_a) * (b[i] - mean_b);
    aa += (a[i] - mean_a) * (a[i] - mean_a);
    bb += (b[i] - mean_b) * (b[i] - mean_b);
  }
  return ab / std::sqrt(aa * bb);
}

TEST(Representations, PcaCorrelationsAndCosinesMatchHandComputation) {
  const std::vector<Points> languages = {
      {{1, 2}, {3, 1}, {-2, 0}, {0, -1}},   // en (reference)
      {{2, 2}, {2, 0}, {-1, 1}, {-1, -2}},  // de
      {{0, 1}, {4, 2}, {-3, -1}, {1, 0}},   // zh
  };
  std::vector<at::Tensor> vectors;
  for (const Points& points : languages) vectors.push_back(matrix(points));
  const LayerAnalysis analysis = analyse_layer(4, vectors, 0, {2000, 1, 0.95});

  // The 2x2 covariance of all 12 points and its eigen-decomposition in closed form.
  double mean_x = 0, mean_y = 0;
  for (const Points& points : languages)
    for (auto [x, y] : points) {
      mean_x += x / 12;
      mean_y += y / 12;
    }
  double sxx = 0, sxy = 0, syy = 0;
  for (const Points& points : languages)
    for (auto [x, y] : points) {
      sxx += (x - mean_x) * (x - mean_x) / 11;
      sxy += (x - mean_x) * (y - mean_y) / 11;
      syy += (y - mean_y) * (y - mean_y) / 11;
    }
  const double half_gap = std::sqrt((sxx - syy) * (sxx - syy) / 4 + sxy * sxy);
  const double lambda1 = (sxx + syy) / 2 + half_gap;
  const double lambda2 = (sxx + syy) / 2 - half_gap;
  double ux = sxy, uy = lambda1 - sxx;  // eigenvector of lambda1
  const double norm = std::hypot(ux, uy);
  ux /= norm;
  uy /= norm;
  if ((std::abs(ux) >= std::abs(uy) ? ux : uy) < 0) {  // largest loading positive
    ux = -ux;
    uy = -uy;
  }
  ASSERT_TRUE(analysis.has_pca);
  EXPECT_NEAR(analysis.explained_variance_ratio[0], lambda1 / (lambda1 + lambda2), 1e-9);
  EXPECT_NEAR(analysis.explained_variance_ratio[1], lambda2 / (lambda1 + lambda2), 1e-9);

  std::vector<std::vector<double>> expected_pc1(3);
  for (size_t l = 0; l < 3; ++l)
    for (size_t i = 0; i < 4; ++i) {
      const auto [x, y] = languages[l][i];
      const double pc1 = (x - mean_x) * ux + (y - mean_y) * uy;
      expected_pc1[l].push_back(pc1);
      EXPECT_NEAR(analysis.pc1[l][i], pc1, 1e-6) << "language " << l << " item " << i;
      // PC2 is orthogonal to PC1; its sign is fixed by the same rule, so compare magnitudes.
      EXPECT_NEAR(std::abs(analysis.pc2[l][i]), std::abs(-(x - mean_x) * uy + (y - mean_y) * ux), 1e-6);
    }
  for (size_t a = 0; a < 3; ++a)
    for (size_t b = 0; b < 3; ++b) {
      ASSERT_TRUE(analysis.pc1_correlation[a][b].has_value());
      EXPECT_NEAR(*analysis.pc1_correlation[a][b], pearson(expected_pc1[a], expected_pc1[b]), 1e-6);
    }

  for (size_t l = 0; l < 3; ++l) {
    double mean_cosine = 0;
    for (size_t i = 0; i < 4; ++i) {
      const auto [x, y] = languages[l][i];
      const auto [ex, ey] = languages[0][i];
      mean_cosine += (x * ex + y * ey) / (std::hypot(x, y) * std::hypot(ex, ey)) / 4;
    }
    EXPECT_NEAR(analysis.cosine_to_reference[l].value, mean_cosine, 1e-6);
    EXPECT_LE(analysis.cosine_to_reference[l].lower, analysis.cosine_to_reference[l].value);
    EXPECT_GE(analysis.cosine_to_reference[l].upper, analysis.cosine_to_reference[l].value);
  }
  EXPECT_DOUBLE_EQ(analysis.cosine_to_reference[0].value, 1.0);
}

TEST(Representations, IdenticalVectorsGiveNoPcaButStillACosine) {
  const at::Tensor same = matrix({{1, 2}, {1, 2}, {1, 2}});
  const LayerAnalysis analysis = analyse_layer(0, {same, same}, 0, {100, 0, 0.95});
  EXPECT_FALSE(analysis.has_pca);
  EXPECT_FALSE(analysis.pc1_correlation[0][1].has_value());
  EXPECT_NEAR(analysis.cosine_to_reference[1].value, 1.0, 1e-12);
}

TEST(Representations, RejectsMismatchedShapes) {
  EXPECT_THROW(analyse_layer(0, {matrix({{1, 2}, {3, 4}}), matrix({{1, 2}})}, 0, {}), Error);
  EXPECT_THROW(analyse_layer(0, {matrix({{1, 2}})}, 0, {}), Error);
}

TEST(Representations, PoolingOverAPaddedBatchMatchesEachPromptAlone) {
  const model::Model model = model::make_random_model(model::tiny_qwen2_config(61), 5);
  const std::vector<std::vector<int64_t>> prompts = {{4, 8, 15, 16, 23, 42}, {7, 1}, {9, 9, 9, 2}};
  const std::vector<int64_t> layers = {0, 2};
  for (Pooling pooling : {Pooling::mean, Pooling::last_token}) {
    for (const model::PromptBatch& batch : model::make_prompt_batches(prompts, 3)) {
      const auto pooled = pooled_hidden_states(model, batch.input_ids, batch.attention_mask, layers, pooling);
      ASSERT_EQ(pooled.size(), 2u);
      for (size_t row = 0; row < batch.prompt_indices.size(); ++row) {
        const auto& prompt = prompts[batch.prompt_indices[row]];
        const model::ForwardOutput alone =
            model::forward(model, {at::tensor(prompt, at::kLong).unsqueeze(0)}, {.capture_hidden_states = true});
        for (size_t l = 0; l < layers.size(); ++l) {
          const at::Tensor states = alone.hidden_states[layers[l]][0];
          const at::Tensor expected = pooling == Pooling::mean ? states.mean(0) : states[states.size(0) - 1];
          EXPECT_LE((pooled[l][row] - expected).abs().max().item<double>(), 1e-5);
        }
      }
    }
  }
}

TEST(Representations, ParsesLayerLists) {
  EXPECT_EQ(parse_layer_list("all", 3), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(parse_layer_list("3,0,3", 3), (std::vector<int64_t>{0, 3}));
  EXPECT_THROW(parse_layer_list("4", 3), Error);
  EXPECT_THROW(parse_layer_list("1,x", 3), Error);
  EXPECT_THROW(parse_layer_list("", 3), Error);
  EXPECT_EQ(parse_pooling("last"), Pooling::last_token);
  EXPECT_THROW(parse_pooling("max"), Error);
}

TEST(Representations, ResultRoundTripsThroughJsonAndComparisonChecksCoverage) {
  RepresentationResult result;
  result.task = "emotion";
  result.languages = {"en", "de"};
  result.reference_language = "en";
  result.item_indices = {0, 1, 2};
  result.layers.push_back(analyse_layer(1, {matrix({{1, 2}, {3, 1}, {0, 1}}), matrix({{2, 2}, {2, 0}, {1, 1}})}, 0,
                                        {200, 0, 0.9}));
  const RepresentationResult back = representation_result_from_json(representation_result_to_json(result), "r.json");
  EXPECT_EQ(back.languages, result.languages);
  ASSERT_EQ(back.layers.size(), 1u);
  EXPECT_EQ(back.layers[0].pc1, result.layers[0].pc1);
  EXPECT_EQ(back.layers[0].pc1_correlation, result.layers[0].pc1_correlation);
  EXPECT_DOUBLE_EQ(back.layers[0].cosine_to_reference[1].value, result.layers[0].cosine_to_reference[1].value);

  testing::TempDir dir;
  write_representation_outputs(result, dir.path());
  for (const char* name : {"layer_01.png", "layer_01.svg", "cosine.png", "cosine.svg", "cosine.csv",
                           "pc1_correlation.csv", "representations.md", "representations.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / name)) << name;
  RepresentationResult other = result;
  other.item_indices = {0, 1, 5};
  EXPECT_THROW(write_cosine_comparison(result, other, dir / "compare"), Error);
  write_cosine_comparison(result, back, dir / "compare");
  EXPECT_TRUE(std::filesystem::exists(dir / "compare.png"));
  EXPECT_THROW(representation_result_from_json(io::Json{{"kind", "other"}}, "x.json"), Error);
}

}  // namespace
}  // namespace qtalign::analysis
