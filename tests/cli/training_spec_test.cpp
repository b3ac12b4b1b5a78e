// `qtalign train`'s arguments and the typed run they ask for: a spec's command line, read back by the
// command's own options, is the same spec; the shared training options under the names `run` and
// `study` give them; an invalid number is refused before anything is read.
#include <gtest/gtest.h>

#include <cmath>

#include "cli/commands.h"
#include "cli/common.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;

void expect_same_spec(const train::TrainingSpec& got, const train::TrainingSpec& want) {
  EXPECT_EQ(got.model_dir, want.model_dir);
  EXPECT_EQ(got.data_file, want.data_file);
  EXPECT_EQ(got.out_dir, want.out_dir);
  const train::TrainingSettings& a = got.settings;
  const train::TrainingSettings& b = want.settings;
  EXPECT_EQ(a.lora_r, b.lora_r);
  EXPECT_EQ(a.lora_alpha, b.lora_alpha);
  EXPECT_EQ(a.lora_dropout, b.lora_dropout);
  EXPECT_EQ(a.lora_targets, b.lora_targets);
  EXPECT_EQ(a.lr, b.lr);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.micro_batch, b.micro_batch);
  EXPECT_EQ(a.grad_accum, b.grad_accum);
  EXPECT_EQ(a.pass_positions, b.pass_positions);
  EXPECT_EQ(a.warmup_ratio, b.warmup_ratio);
  EXPECT_EQ(a.weight_decay, b.weight_decay);
  EXPECT_EQ(a.max_grad_norm, b.max_grad_norm);
  EXPECT_EQ(a.cutoff, b.cutoff);
  EXPECT_EQ(a.val_ratio, b.val_ratio);
  EXPECT_EQ(a.eval_every, b.eval_every);
  EXPECT_EQ(a.save_every, b.save_every);
  EXPECT_EQ(a.prompt_template, b.prompt_template);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(got.resume, want.resume);
  EXPECT_EQ(got.hash_weights, want.hash_weights);
  EXPECT_EQ(got.compute.device, want.compute.device);
  EXPECT_EQ(got.compute.dtype, want.compute.dtype);
  EXPECT_EQ(got.compute.quantization.type, want.compute.quantization.type);
  EXPECT_EQ(got.compute.quantization.blocksize, want.compute.quantization.blocksize);
  EXPECT_EQ(got.compute.quantization.double_quant, want.compute.quantization.double_quant);
  EXPECT_EQ(got.compute.threads, want.compute.threads);
}

// A spec with every field away from its default.
train::TrainingSpec unusual_spec() {
  train::TrainingSpec spec;
  spec.model_dir = "models/qwen 0.5b";
  spec.data_file = "data/train.jsonl";
  spec.out_dir = "runs/adapter";
  train::TrainingSettings& s = spec.settings;
  s.lora_r = 16;
  s.lora_alpha = 32.5;
  s.lora_dropout = 0.05;
  s.lora_targets = {"k_proj", "o_proj", "gate_proj"};
  s.lr = 2.5e-4;
  s.epochs = 2;
  s.micro_batch = 3;
  s.grad_accum = 5;
  s.pass_positions = 0;
  s.warmup_ratio = 0.03;
  s.weight_decay = 0.01;
  s.max_grad_norm = 0.3;
  s.cutoff = 512;
  s.val_ratio = 0.1;
  s.eval_every = 7;
  s.save_every = 9;
  s.prompt_template = train::PromptTemplate::chatml;
  s.seed = 12345678901234ULL;
  spec.resume = true;
  spec.hash_weights = true;
  spec.compute.dtype = at::kBFloat16;
  spec.compute.quantization.type = model::QuantType::nf4;
  spec.compute.quantization.blocksize = 128;
  spec.compute.quantization.double_quant = true;
  spec.compute.threads = 3;
  return spec;
}

TEST(TrainingSpec, ItsCommandLineReadsBackAsTheSameSpec) {
  const train::TrainingSpec unusual = unusual_spec();
  expect_same_spec(cli::parse_train_arguments(train::command_line(unusual)), unusual);
  train::TrainingSpec plain;
  plain.model_dir = "m";
  plain.data_file = "d.json";
  plain.out_dir = "o";
  expect_same_spec(cli::parse_train_arguments(train::command_line(plain)), plain);
  // Floats that have no short decimal form read back exactly too.
  plain.settings.lr = 1.0 / 3.0;
  plain.settings.warmup_ratio = std::nextafter(0.1, 1.0);
  expect_same_spec(cli::parse_train_arguments(train::command_line(plain)), plain);
}

TEST(TrainingSpec, TheTrainOptionsKeepTheirNames) {
  const train::TrainingSpec spec = cli::parse_train_arguments(
      {"train", "--model", "m", "--data", "d.jsonl", "--out", "o", "--lora-r", "4", "--lora-alpha", "8",
       "--lora-dropout", "0", "--targets", "q_proj,down_proj", "--lr", "1e-3", "--epochs", "5", "--batch", "2",
       "--grad-accum", "3", "--pass-positions", "512", "--warmup-ratio", "0.2", "--weight-decay", "0.1",
       "--max-grad-norm", "0", "--cutoff", "80", "--val-ratio", "0.25", "--eval-every", "3", "--save-every", "2",
       "--template", "chatml", "--seed", "9", "--dtype", "fp32", "--quantize", "fp4"});
  const train::TrainingSettings& s = spec.settings;
  EXPECT_EQ(s.lora_r, 4);
  EXPECT_EQ(s.lora_alpha, 8.0);
  EXPECT_EQ(s.lora_dropout, 0.0);
  EXPECT_EQ(s.lora_targets, (std::vector<std::string>{"q_proj", "down_proj"}));
  EXPECT_EQ(s.lr, 1e-3);
  EXPECT_EQ(s.epochs, 5);
  EXPECT_EQ(s.micro_batch, 2);
  EXPECT_EQ(s.grad_accum, 3);
  EXPECT_EQ(s.pass_positions, 512);
  EXPECT_EQ(s.warmup_ratio, 0.2);
  EXPECT_EQ(s.weight_decay, 0.1);
  EXPECT_EQ(s.max_grad_norm, 0.0);
  EXPECT_EQ(s.cutoff, 80);
  EXPECT_EQ(s.val_ratio, 0.25);
  EXPECT_EQ(s.eval_every, 3);
  EXPECT_EQ(s.save_every, 2);
  EXPECT_EQ(s.prompt_template, train::PromptTemplate::chatml);
  EXPECT_EQ(s.seed, 9u);
  EXPECT_FALSE(spec.resume);
  EXPECT_EQ(spec.compute.dtype, at::kFloat);
  EXPECT_EQ(spec.compute.quantization.type, model::QuantType::fp4);
  EXPECT_EQ(testing::error_of([] {
              cli::parse_train_arguments({"train", "--model", "m", "--data", "d", "--out", "o", "--targets", "qkv"});
            }).rfind("unknown LoRA target module 'qkv'", 0),
            0u);
  EXPECT_NE(testing::error_of([] { cli::parse_train_arguments({"train", "--model", "m"}); }).find("--data"),
            std::string::npos);
}

// `run` and `study` have their own --seed and --targets (the translation targets).
TEST(TrainingSpec, TheStudyCommandsNameTheModulesLoraTargetsAndKeepTheirSeed) {
  train::TrainingSettings settings;
  CLI::App app{"study"};
  uint64_t study_seed = 0;
  std::string translation_targets;
  app.add_option("--seed", study_seed);
  app.add_option("--targets", translation_targets);
  cli::add_option_list(&app, [&](auto&& visit) {
    train::for_each_setting_option(settings, train::SettingOptionNames::study, visit);
  });
  std::vector<std::string> arguments = {"--seed", "5", "--targets", "en", "--lora-targets", "o_proj", "--lr", "0.01"};
  std::reverse(arguments.begin(), arguments.end());
  app.parse(arguments);
  EXPECT_EQ(study_seed, 5u);
  EXPECT_EQ(translation_targets, "en");
  EXPECT_EQ(settings.lora_targets, (std::vector<std::string>{"o_proj"}));
  EXPECT_EQ(settings.lr, 0.01);
  EXPECT_EQ(settings.seed, 0u);
}

TEST(TrainingSpec, AnInvalidNumberIsRefusedBeforeAnythingIsRead) {
  testing::TempDir dir;
  for (const auto& [option, value, message] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--weight-decay", "nan", "--weight-decay must be finite and not negative, got nan"},
           {"--max-grad-norm", "-1", "--max-grad-norm must be finite and not negative (0 = no clipping), got -1"},
           {"--lr", "inf", "--lr must be positive and finite, got inf"},
           {"--lora-dropout", "1", "--lora-dropout must be in [0, 1), got 1"}}) {
    const std::string command = testing::shell_quote(testing::qtalign_binary().string()) + " train --model " +
                                testing::shell_quote((dir / "no-model").string()) + " --data " +
                                testing::shell_quote((dir / "no-data.jsonl").string()) + " --out " +
                                testing::shell_quote((dir / "out").string()) + " " + option + " " + value;
    const testing::CommandResult result = testing::run_command(command);
    EXPECT_EQ(result.exit_code, 1) << option;
    EXPECT_EQ(result.output, "qtalign: error: " + message + "\n");
    EXPECT_FALSE(fs::exists(dir / "out")) << option;
  }
}

}  // namespace
}  // namespace qtalign
