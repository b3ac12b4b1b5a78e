// Faults around `qtalign merge`: killed in the middle of writing the merged weights, a full disk, an
// unwritable destination. A merge never leaves a half-written file under a final name, and rerunning
// it after a kill gives the same bytes as a merge that was never interrupted.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "io/atomic_file.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/random_model.h"
#include "support/test_support.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;

// Every file of a directory (names starting with "." included) with its contents.
std::map<std::string, std::string> directory_contents(const fs::path& directory) {
  std::map<std::string, std::string> contents;
  if (!fs::exists(directory)) return contents;
  for (const auto& entry : fs::directory_iterator(directory))
    contents[entry.path().filename().string()] = io::read_file(entry.path());
  return contents;
}

std::vector<std::string> hidden_files(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& [name, contents] : directory_contents(directory))
    if (name.front() == '.') names.push_back(name);
  return names;
}

using testing::line_count;

class MergeCommand : public ::testing::Test {
 protected:
  // A tiny random checkpoint (fp32, with a tokenizer file to copy) and an adapter on every projection
  // with non-zero B; the uninterrupted merge of the two is in "plain".
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    model::Model model = model::make_random_model(model::tiny_qwen2_config(512), 11);
    model::save_model(model, *temp_ / "model", at::kFloat);
    io::write_file_atomically(*temp_ / "model/tokenizer_config.json", "{\"model_max_length\": 4096}\n");
    model::LoraConfig lora;
    lora.target_modules = model::parse_lora_targets("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
    model::attach_new_lora(model, lora, 4);
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
    for (const model::NamedLora& adapter : model::attached_lora(model)) adapter.weights->b.normal_(0.0, 0.1, generator);
    model::save_lora_adapter(model, lora, *temp_ / "adapter");
    plain_ = new testing::CommandResult(testing::run_command(merge_line("plain")));
  }
  static void TearDownTestSuite() {
    delete plain_;
    delete temp_;
  }

  static fs::path file(const std::string& relative) { return *temp_ / relative; }

  static std::vector<std::string> merge_arguments(const std::string& out) {
    return {testing::qtalign_binary().string(), "merge", "--model", file("model").string(), "--adapter",
            file("adapter").string(), "--out", file(out).string(), "--threads", "1"};
  }
  static std::string merge_line(const std::string& out) {
    std::string line;
    for (const std::string& argument : merge_arguments(out)) line += testing::shell_quote(argument) + " ";
    return line;
  }

  // Half the size of the merged weights: a write limit the merge reaches in the middle of them.
  static uint64_t half_the_weights() { return fs::file_size(file("plain/model.safetensors")) / 2; }

  static const testing::CommandResult& plain() { return *plain_; }

 private:
  static testing::TempDir* temp_;
  static testing::CommandResult* plain_;
};
testing::TempDir* MergeCommand::temp_ = nullptr;
testing::CommandResult* MergeCommand::plain_ = nullptr;

TEST_F(MergeCommand, KilledMidWriteLeavesNoPartialFileAndARerunGivesTheSameBytes) {
  ASSERT_EQ(plain().exit_code, 0) << plain().output;
  const auto expected = directory_contents(file("plain"));
  ASSERT_EQ(expected.size(), 3u);  // config.json, model.safetensors, tokenizer_config.json
  EXPECT_TRUE(hidden_files(file("plain")).empty());

  // Killed halfway through the weights (SIGXFSZ's default action ends the process on the spot, as
  // SIGKILL would: no handler, no destructor runs).
  const testing::CommandResult killed = testing::run_with_file_size_limit(merge_arguments("killed"), half_the_weights(), false);
  ASSERT_EQ(killed.exit_code, 128 + SIGXFSZ) << killed.output;
  EXPECT_FALSE(fs::exists(file("killed/model.safetensors")));
  EXPECT_FALSE(fs::exists(file("killed/config.json")));
  ASSERT_EQ(hidden_files(file("killed")).size(), 1u);  // the abandoned temporary, under another name
  EXPECT_EQ(hidden_files(file("killed")).front().rfind(".model.safetensors.tmp-", 0), 0u);

  const testing::CommandResult rerun = testing::run_command(merge_line("killed"));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_EQ(directory_contents(file("killed")), expected);  // the temporary is gone too

  // Killed while overwriting a finished merge: the finished files stay whole.
  const testing::CommandResult overwriting =
      testing::run_with_file_size_limit(merge_arguments("killed"), half_the_weights(), false);
  ASSERT_EQ(overwriting.exit_code, 128 + SIGXFSZ) << overwriting.output;
  auto after = directory_contents(file("killed"));
  for (const std::string& name : hidden_files(file("killed"))) after.erase(name);
  EXPECT_EQ(after, expected);
}

TEST_F(MergeCommand, FullDiskIsAOneLineErrorAndLeavesNothingBehind) {
  ASSERT_EQ(plain().exit_code, 0) << plain().output;
  const testing::CommandResult full = testing::run_with_file_size_limit(merge_arguments("full"), half_the_weights(), true);
  EXPECT_EQ(full.exit_code, 1) << full.output;
  EXPECT_EQ(line_count(full.output), 1u) << full.output;
  EXPECT_NE(full.output.find("qtalign: error: " + file("full/model.safetensors").string() + ": write failed: File too large"),
            std::string::npos)
      << full.output;
  EXPECT_TRUE(directory_contents(file("full")).empty());
}

TEST_F(MergeCommand, UnwritableDestinationIsAOneLineErrorNamingIt) {
  ASSERT_EQ(plain().exit_code, 0) << plain().output;
  // A path through a regular file cannot become a directory (permissions would not stop root).
  const testing::CommandResult result = testing::run_command(merge_line("plain/config.json/merged"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(line_count(result.output), 1u) << result.output;
  EXPECT_NE(result.output.find("qtalign: error: " + file("plain/config.json/merged").string()), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("Not a directory"), std::string::npos) << result.output;
}

TEST_F(MergeCommand, RefusesNonFiniteWeightsNamingTheTensor) {
  ASSERT_EQ(plain().exit_code, 0) << plain().output;
  // An adapter whose B matrix on layer 1's v_proj holds a NaN.
  model::Model model = model::load_model(file("model"));
  model::LoraConfig lora;
  lora.target_modules = model::parse_lora_targets("q_proj,v_proj");
  model::attach_new_lora(model, lora, 4);
  for (const model::NamedLora& adapter : model::attached_lora(model))
    if (adapter.module == "model.layers.1.self_attn.v_proj") adapter.weights->b[0][0] = std::nan("");
  model::save_lora_adapter(model, lora, file("nan-adapter"));
  testing::CommandResult result = testing::run_command(
      testing::shell_quote(testing::qtalign_binary().string()) + " merge --model " +
      testing::shell_quote(file("model").string()) + " --adapter " + testing::shell_quote(file("nan-adapter").string()) +
      " --out " + testing::shell_quote(file("nan-merged").string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output, "qtalign: error: " + file("nan-adapter/adapter_model.safetensors").string() +
                               ": tensor 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight': 1 of " +
                               std::to_string(8 * 32) + " values are NaN or infinite (the weights hold them, or the "
                               "computation overflowed)\n");
  EXPECT_FALSE(fs::exists(file("nan-merged/model.safetensors")));

  // A base model with an infinite norm weight.
  model::Model base = model::make_random_model(model::tiny_qwen2_config(512), 11);
  base.norm[5] = std::numeric_limits<float>::infinity();
  model::save_model(base, file("inf-model"), at::kFloat);
  result = testing::run_command(testing::shell_quote(testing::qtalign_binary().string()) + " merge --model " +
                                testing::shell_quote(file("inf-model").string()) + " --adapter " +
                                testing::shell_quote(file("adapter").string()) + " --out " +
                                testing::shell_quote(file("inf-merged").string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output, "qtalign: error: " + file("inf-model/model.safetensors").string() +
                               ": tensor 'model.norm.weight' contains NaN or infinite values\n");
  EXPECT_FALSE(fs::exists(file("inf-merged/model.safetensors")));
}

}  // namespace
}  // namespace qtalign
