// TrainingSettings: SPEC §5's defaults, the JSON form (every field, errors naming the file and the
// key), the range checks that refuse a bad value before anything runs, and the command-line options.
#include "train/training_settings.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::train {
namespace {

// A value other than its default in every field.
TrainingSettings unusual_settings() {
  TrainingSettings settings;
  settings.lora_r = 16;
  settings.lora_alpha = 32.5;
  settings.lora_dropout = 0.05;
  settings.lora_targets = {"k_proj", "o_proj", "gate_proj"};
  settings.lr = 2.5e-4;
  settings.epochs = 2;
  settings.micro_batch = 3;
  settings.grad_accum = 5;
  settings.pass_positions = 4096;
  settings.warmup_ratio = 0.03;
  settings.weight_decay = 0.01;
  settings.max_grad_norm = 0.3;
  settings.cutoff = 512;
  settings.val_ratio = 0.1;
  settings.eval_every = 7;
  settings.save_every = 9;
  settings.prompt_template = PromptTemplate::chatml;
  settings.seed = 12345678901234ULL;
  return settings;
}

// unusual_settings() in JSON, written out by hand.
io::Json unusual_json() {
  return {{"lora_r", 16},         {"lora_alpha", 32.5},  {"lora_dropout", 0.05},
          {"lora_targets", {"k_proj", "o_proj", "gate_proj"}},
          {"lr", 2.5e-4},         {"epochs", 2},         {"micro_batch", 3},
          {"grad_accum", 5},      {"pass_positions", 4096}, {"warmup_ratio", 0.03},
          {"weight_decay", 0.01}, {"max_grad_norm", 0.3},   {"cutoff", 512},
          {"val_ratio", 0.1},     {"eval_every", 7},     {"save_every", 9},
          {"prompt_template", "chatml"}, {"seed", 12345678901234ULL}};
}

TEST(TrainingSettings, DefaultsAreTheSpecs) {
  const TrainingSettings settings;
  EXPECT_EQ(settings.lora_r, 8);
  EXPECT_EQ(settings.lora_alpha, 16.0);
  EXPECT_EQ(settings.lora_dropout, 0.1);
  EXPECT_EQ(settings.lora_targets, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(settings.lr, 5e-5);
  EXPECT_EQ(settings.epochs, 3);
  EXPECT_EQ(settings.micro_batch, 4);
  EXPECT_EQ(settings.grad_accum, 4);
  EXPECT_EQ(settings.pass_positions, -1);
  EXPECT_EQ(settings.warmup_ratio, 0.1);
  EXPECT_EQ(settings.weight_decay, 0.0);
  EXPECT_EQ(settings.max_grad_norm, 1.0);
  EXPECT_EQ(settings.cutoff, 2048);
  EXPECT_EQ(settings.val_ratio, 0.05);
  EXPECT_EQ(settings.eval_every, 50);
  EXPECT_EQ(settings.save_every, 100);
  EXPECT_EQ(settings.prompt_template, PromptTemplate::plain);
  EXPECT_EQ(settings.seed, 0u);
  EXPECT_NO_THROW(validate(settings));
  EXPECT_NO_THROW(validate(unusual_settings()));
}

TEST(TrainingSettings, JsonHoldsEveryFieldByName) {
  EXPECT_EQ(to_json(unusual_settings()), unusual_json());
  const TrainingSettings read = training_settings_from_json(unusual_json(), "settings.json", TrainingSettings{});
  EXPECT_EQ(to_json(read), unusual_json());
  // Keys not given keep the defaults passed in.
  TrainingSettings defaults;
  defaults.epochs = 1;
  const TrainingSettings partial =
      training_settings_from_json({{"lr", 1e-3}, {"lora_targets", {"down_proj"}}}, "settings.json", defaults);
  EXPECT_EQ(partial.lr, 1e-3);
  EXPECT_EQ(partial.lora_targets, (std::vector<std::string>{"down_proj"}));
  EXPECT_EQ(partial.epochs, 1);
  EXPECT_EQ(partial.cutoff, 2048);
}

TEST(TrainingSettings, JsonErrorsNameTheFileAndTheKey) {
  const auto error = [](const io::Json& json) {
    return testing::error_of([&] { training_settings_from_json(json, "plan.json", TrainingSettings{}); });
  };
  EXPECT_EQ(error({{"learning_rate", 1e-3}}).rfind("plan.json: unknown training setting 'learning_rate' (known: lora_r,", 0),
            0u);
  EXPECT_EQ(error({{"epochs", 1.5}}), "plan.json: training setting 'epochs' must be an integer, got 1.5");
  EXPECT_EQ(error({{"lr", "fast"}}), "plan.json: training setting 'lr' must be a number, got \"fast\"");
  EXPECT_EQ(error({{"seed", -1}}), "plan.json: training setting 'seed' must be a non-negative integer, got -1");
  EXPECT_EQ(error({{"lora_targets", "q_proj"}}),
            "plan.json: training setting 'lora_targets' must be an array of module names, got \"q_proj\"");
  EXPECT_EQ(error({{"prompt_template", "alpaca"}}),
            "plan.json: training setting 'prompt_template': unknown prompt template 'alpaca' (valid: plain, chatml)");
  EXPECT_EQ(error(io::Json::array()), "plan.json: training settings must be a JSON object, got []");
}

TEST(TrainingSettings, RefusesEveryOutOfRangeValueNamingTheOption) {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const auto error = [](auto change) {
    TrainingSettings settings;
    change(settings);
    return testing::error_of([&] { validate(settings); });
  };
  EXPECT_EQ(error([&](TrainingSettings& s) { s.weight_decay = nan; }),
            "--weight-decay must be finite and not negative, got nan");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.weight_decay = -0.1; }),
            "--weight-decay must be finite and not negative, got -0.1");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lr = 0; }), "--lr must be positive and finite, got 0");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lr = inf; }), "--lr must be positive and finite, got inf");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lora_dropout = 1; }), "--lora-dropout must be in [0, 1), got 1");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lora_dropout = nan; }), "--lora-dropout must be in [0, 1), got nan");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lora_alpha = -inf; }), "--lora-alpha must be a finite number, got -inf");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.warmup_ratio = 1.5; }), "--warmup-ratio must be in [0, 1], got 1.5");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.max_grad_norm = nan; }),
            "--max-grad-norm must be finite and not negative (0 = no clipping), got nan");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.val_ratio = 1; }), "--val-ratio must be in [0, 1), got 1");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lora_r = 0; }), "--lora-r must be positive, got 0");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.epochs = 0; }), "--epochs must be positive, got 0");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.micro_batch = -1; }), "--batch must be positive, got -1");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.grad_accum = 0; }), "--grad-accum must be positive, got 0");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.pass_positions = -2; }),
            "--pass-positions must be 0 or more, or -1 (scaled to the model), got -2");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.cutoff = 1; }), "--cutoff must be at least 2, got 1");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.eval_every = -1; }), "--eval-every must be 0 or more, got -1");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.save_every = -5; }), "--save-every must be 0 or more, got -5");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lora_targets = {"q_proj", "qkv"}; }).rfind(
                "unknown LoRA target module 'qkv'", 0),
            0u);
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lora_targets = {"q_proj", "q_proj"}; }),
            "--targets must be a list of distinct module names, got q_proj,q_proj");
  EXPECT_EQ(error([&](TrainingSettings& s) { s.lora_targets = {}; }).rfind("no LoRA target modules given", 0), 0u);
}

TEST(TrainingSettings, ArgumentsNameOnlyWhatDiffersFromTheDefaults) {
  EXPECT_TRUE(setting_arguments(TrainingSettings{}).empty());
  TrainingSettings settings;
  settings.lora_targets = {"q_proj", "k_proj"};
  settings.lr = 1e-3;
  settings.prompt_template = PromptTemplate::chatml;
  settings.seed = 7;
  EXPECT_EQ(setting_arguments(settings), (std::vector<std::string>{"--targets", "q_proj,k_proj", "--lr", "0.001",
                                                                    "--template", "chatml", "--seed", "7"}));
}

TEST(TrainingSettings, LoraConfigCarriesTheAdapterSettings) {
  const model::LoraConfig lora = lora_config(unusual_settings(), "models/base");
  EXPECT_EQ(lora.r, 16);
  EXPECT_EQ(lora.alpha, 32.5);
  EXPECT_EQ(lora.dropout, 0.05);
  EXPECT_EQ(lora.target_modules, (std::vector<std::string>{"k_proj", "o_proj", "gate_proj"}));
  EXPECT_EQ(lora.base_model_name_or_path, "models/base");
  EXPECT_TRUE(lora.target_regex.empty());
}

}  // namespace
}  // namespace qtalign::train
