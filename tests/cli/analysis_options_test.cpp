// What `lens` and `pca` share (src/cli/analysis_options.*), end to end: an output directory that
// cannot be written fails before the model loads (here, a model whose weights cannot be read: an
// error about them would mean the check came too late), and --top-k is capped at the vocabulary.
#include <gtest/gtest.h>

#include "eval/eval_test_support.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "model/config.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

using testing::shell_quote;

class AnalysisCommands : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    std::filesystem::create_directories(file("broken"));
    io::write_json_file(file("broken") / "config.json", model::model_config_to_json(model::tiny_qwen2_config(151936)));
    io::write_file_atomically(file("broken") / "model.safetensors", "not a safetensors file");
    std::filesystem::copy_file(testing::qwen_tokenizer_file(), file("broken") / "tokenizer.json");
    io::write_file_atomically(file("a-file"), "in the way of an output directory");
  }
  static void TearDownTestSuite() { delete temp_; }

  static std::filesystem::path file(const std::string& relative) { return *temp_ / relative; }

  static testing::CommandResult qtalign(const std::string& command, const std::filesystem::path& model,
                                        const std::string& arguments) {
    return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " " + command + " --model " +
                                shell_quote(model.string()) + " --dtype fp32 --threads 2 --data-dir " +
                                shell_quote(testing::shared_data_dir().string()) + " " + arguments + " 2>&1");
  }

  static testing::TempDir* temp_;
};

testing::TempDir* AnalysisCommands::temp_ = nullptr;

TEST_F(AnalysisCommands, AnUnwritableOutputFailsBeforeTheModelLoads) {
  const std::filesystem::path out = file("a-file") / "lens";
  for (const char* command : {"lens", "pca"}) {
    const testing::CommandResult result =
        qtalign(command, file("broken"), "--limit 2 --out " + shell_quote(out.string()));
    EXPECT_EQ(result.exit_code, 1) << command;
    EXPECT_EQ(result.output, "qtalign: error: " + out.string() + ": " + file("a-file").string() +
                                 " is not a directory\n")
        << command;
  }
}

TEST_F(AnalysisCommands, TopKIsCappedAtTheVocabulary) {
  const std::filesystem::path model_dir = file("tiny");
  testing::write_tiny_checkpoint(testing::tiny_qwen_model(), model_dir);
  const testing::CommandResult result = qtalign(
      "lens", model_dir,
      "--langs zh --first 1 --resamples 10 --top-k 1000000000 --out " + shell_quote(file("lens").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("--top-k 1000000000 capped at the vocabulary's 151936 tokens"), std::string::npos)
      << result.output;
  const io::Json lens = io::read_json_file(file("lens") / "zh.json");
  EXPECT_EQ(lens.at("provenance").at("lens").at("top_k"), 151936);
  EXPECT_EQ(lens.at("layers").at(0).at("top_tokens").size(), 151936u);
}

}  // namespace
}  // namespace qtalign
