// What every model-loading command shares (src/cli/common.*), end to end: the cheap inputs (tokenizer,
// config.json, adapter_config.json) are read and checked before the weights, so a wrong path fails at
// once; --double-quant needs --quantize and is recorded in the provenance.
#include <gtest/gtest.h>

#include "eval/eval_test_support.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "model/config.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

using testing::shell_quote;

class CheapInputsFirst : public ::testing::Test {
 protected:
  // A checkpoint whose config.json is fine but whose weights cannot be read: any error that is not
  // about them was raised before the weights were touched.
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    std::filesystem::create_directories(broken_model());
    io::write_json_file(broken_model() / "config.json",
                        model::model_config_to_json(model::tiny_qwen2_config(151936)));
    io::write_file_atomically(broken_model() / "model.safetensors", "not a safetensors file");
    std::filesystem::copy_file(testing::qwen_tokenizer_file(), broken_model() / "tokenizer.json");
  }
  static void TearDownTestSuite() { delete temp_; }

  static std::filesystem::path file(const std::string& relative) { return *temp_ / relative; }
  static std::filesystem::path broken_model() { return file("broken"); }
  static std::string path(const std::string& relative) { return shell_quote(file(relative).string()); }

  // Runs `qtalign <command> --model <model> ... <arguments>` with the benchmark data.
  static testing::CommandResult qtalign(const std::string& command, const std::filesystem::path& model,
                                        const std::string& arguments) {
    return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " " + command + " --model " +
                                shell_quote(model.string()) + " --dtype fp32 --threads 2 --data-dir " +
                                shell_quote(testing::shared_data_dir().string()) + " " + arguments + " 2>&1");
  }

  static testing::CommandResult eval(const std::filesystem::path& model, const std::string& arguments) {
    return qtalign("eval", model,
                   "--task snli --langs en --limit 2 --out " + path("out/results.json") + " " + arguments);
  }

 private:
  static testing::TempDir* temp_;
};
testing::TempDir* CheapInputsFirst::temp_ = nullptr;

TEST_F(CheapInputsFirst, TheBrokenWeightsFailWhenEverythingElseIsRight) {
  const testing::CommandResult result = eval(broken_model(), "");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find((broken_model() / "model.safetensors").string()), std::string::npos) << result.output;
}

TEST_F(CheapInputsFirst, AMissingTokenizerFailsBeforeTheWeights) {
  const std::filesystem::path missing = broken_model() / "elsewhere/tokenizer.json";
  const testing::CommandResult result = eval(broken_model(), "--tokenizer " + shell_quote(missing.string()));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.output, "qtalign: error: " + missing.string() + ": no such file\n");
}

TEST_F(CheapInputsFirst, ATokenizerThatDoesNotFitFailsBeforeTheWeights) {
  // The Qwen tokenizer (151k ids) with a model of 1000.
  const std::filesystem::path small = file("small");
  std::filesystem::create_directories(small);
  io::write_json_file(small / "config.json", model::model_config_to_json(model::tiny_qwen2_config(1000)));
  io::write_file_atomically(small / "model.safetensors", "not a safetensors file");
  const testing::CommandResult result =
      eval(small, "--tokenizer " + shell_quote(testing::qwen_tokenizer_file().string()));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("do not belong together"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("model.safetensors"), std::string::npos) << result.output;
}

TEST_F(CheapInputsFirst, AnAdapterWithoutItsConfigFailsBeforeTheWeights) {
  const testing::CommandResult result = eval(broken_model(), "--adapter " + path("no-adapter"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("no-adapter/adapter_config.json: no such file"), std::string::npos) << result.output;
}

TEST_F(CheapInputsFirst, TheLensChecksItsTokenizerBeforeTheWeightsToo) {
  // lens (like pca, eval, generate and study) loads through model::load_model_with_tokenizer.
  const std::filesystem::path no_tokenizer = file("no-tokenizer");
  std::filesystem::create_directories(no_tokenizer);
  std::filesystem::copy_file(broken_model() / "config.json", no_tokenizer / "config.json");
  std::filesystem::copy_file(broken_model() / "model.safetensors", no_tokenizer / "model.safetensors");
  const testing::CommandResult result =
      qtalign("lens", no_tokenizer, "--task emotion --langs en --limit 2 --out " + path("lens"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.output, "qtalign: error: " + (no_tokenizer / "tokenizer.json").string() + ": no such file\n");
}

// A path that is a symbolic link loop cannot be looked at: every command names it and the problem in
// one line (exit 1), as it does a missing file, instead of an internal filesystem error (exit 2).
// Model, adapter, tokenizer and data, for eval, generate, train and the study runner.
TEST_F(CheapInputsFirst, ASymlinkLoopAsAnyInputIsNamed) {
  const std::filesystem::path loop = file("loop");
  std::filesystem::create_symlink(loop.filename(), loop);  // loop -> loop
  const std::string quoted = shell_quote(loop.string());
  const std::string looped = "qtalign: error: " + loop.string() + ": cannot be read: Too many levels of symbolic links";
  const std::string model = shell_quote(broken_model().string());
  const std::string data = shell_quote(testing::shared_data_dir().string());
  const std::string eval = "eval --data-dir " + data + " --model ";
  const struct {
    std::string command;
    std::string message;
  } cases[] = {
      {eval + quoted + " --task snli --langs en --out " + path("out/r.json"),
       looped + " (reading " + (loop / "config.json").string() + ")\n"},
      {"generate --model " + quoted + " --prompt hi",
       looped + " (reading " + (loop / "tokenizer.json").string() + ")\n"},
      {"train --model " + quoted + " --data " + path("data.jsonl") + " --out " + path("adapter"),
       looped + " (reading " + (loop / "config.json").string() + ")\n"},
      {eval + model + " --adapter " + quoted + " --task snli --langs en --out " + path("out/r.json"),
       looped + " (reading " + (loop / "adapter_config.json").string() + ")\n"},
      {eval + model + " --tokenizer " + quoted + " --task snli --langs en --out " + path("out/r.json"),
       looped + "\n"},
      {"generate --model " + model + " --adapter " + quoted + " --prompt hi",
       looped + " (reading " + (loop / "adapter_config.json").string() + ")\n"},
      {"train --model " + model + " --data " + quoted + " --out " + path("adapter"), looped + "\n"},
      {"run --data-dir " + data + " --model " + quoted + " --out " + path("study"),
       looped + " (reading " + (loop / "config.json").string() + ")\n"},
      {"study --data-dir " + data + " --models " + quoted + " --out " + path("study"),
       looped + " (reading " + (loop / "config.json").string() + ")\n"},
  };
  for (const auto& [command, message] : cases) {
    const testing::CommandResult result =
        testing::run_command(shell_quote(testing::qtalign_binary().string()) + " " + command + " --threads 1 2>&1");
    EXPECT_EQ(result.exit_code, 1) << command << "\n" << result.output;
    EXPECT_EQ(result.output, message) << command;
  }
}

TEST_F(CheapInputsFirst, DoubleQuantNeedsQuantize) {
  const testing::CommandResult result = eval(broken_model(), "--double-quant");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.output,
            "qtalign: error: --double-quant needs --quantize nf4 or fp4 (it quantizes their absmax values)\n");
}

TEST_F(CheapInputsFirst, DoubleQuantIsRecordedInTheProvenance) {
  const std::filesystem::path model = file("tiny");
  testing::write_tiny_checkpoint(testing::tiny_qwen_model(), model);
  const testing::CommandResult result = qtalign(
      "eval", model, "--task snli --langs en --limit 2 --quantize nf4 --double-quant --out " + path("dq/results.json"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const io::Json results = io::read_json_file(file("dq/results.json"));
  EXPECT_EQ(results["provenance"]["runtime"]["quantization"], "nf4 (blocksize 64, double quant)");
}

}  // namespace
}  // namespace qtalign
