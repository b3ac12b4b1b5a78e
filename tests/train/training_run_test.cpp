// A training run as a library call: its command line, and settings refused before any input is read.
#include "train/training_run.h"

#include <gtest/gtest.h>

#include <cmath>

#include "distributed/process_group.h"
#include "support/test_support.h"

namespace qtalign::train {
namespace {

TEST(TrainingRun, CommandLineNamesThePathsTheChangedSettingsTheFlagsAndTheCompute) {
  TrainingSpec spec;
  spec.model_dir = "models/base";
  spec.data_file = "data/train.jsonl";
  spec.out_dir = "out/adapter";
  EXPECT_EQ(command_line(spec),
            (std::vector<std::string>{"train", "--model", "models/base", "--data", "data/train.jsonl", "--out",
                                      "out/adapter", "--threads", "0", "--device", "cpu", "--dtype", "fp32"}));
  spec.settings.epochs = 1;
  spec.settings.weight_decay = 0.01;
  spec.resume = true;
  spec.hash_weights = true;
  spec.compute.dtype = at::kBFloat16;
  spec.compute.threads = 2;
  spec.compute.quantization.type = model::QuantType::nf4;
  EXPECT_EQ(command_line(spec),
            (std::vector<std::string>{"train", "--model", "models/base", "--data", "data/train.jsonl", "--out",
                                      "out/adapter", "--epochs", "1", "--weight-decay", "0.01", "--resume",
                                      "--hash-weights", "--threads", "2", "--device", "cpu", "--dtype", "bf16",
                                      "--quantize", "nf4", "--quant-blocksize", "64"}));
}

// Issue 24: a NaN weight decay ended in "training loss became -nan" after training started.
TEST(TrainingRun, RefusesBadSettingsBeforeReadingAnyInput) {
  testing::TempDir dir;
  TrainingSpec spec;
  spec.model_dir = dir / "no-model";
  spec.data_file = dir / "no-data.jsonl";
  spec.out_dir = dir / "out";
  spec.settings.weight_decay = std::nan("");
  distributed::ProcessGroup single;
  EXPECT_EQ(testing::error_of([&] { run(spec, single); }), "--weight-decay must be finite and not negative, got nan");
  spec.settings.weight_decay = 0.0;
  spec.settings.lr = -1e-4;
  EXPECT_EQ(testing::error_of([&] { run(spec, single); }), "--lr must be positive and finite, got -0.0001");
  EXPECT_FALSE(std::filesystem::exists(spec.out_dir));
  // Valid settings get as far as the missing model.
  spec.settings.lr = 1e-4;
  EXPECT_NE(testing::error_of([&] { run(spec, single); }).find("no-model"), std::string::npos);
}

}  // namespace
}  // namespace qtalign::train
