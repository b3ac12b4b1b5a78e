#include "model/generate.h"

#include <gtest/gtest.h>

#include <limits>

#include "io/error.h"
#include "io/json_file.h"
#include "io/utf8.h"
#include "model/checkpoint.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

// Greedy decoding with the KV cache must pick what the reference picks when it recomputes the
// whole sequence at every step (tests/reference/hf_reference.py generate).
class GreedyGeneration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new testing::TempDir();
    io::write_json_file(*directory_ / "jobs.json",
                        io::Json::array({
                            {"make-checkpoint", "--out", (*directory_ / "model").string(), "--model-type", "qwen2",
                             "--vocab-size", "67", "--heads", "4", "--kv-heads", "2", "--layers", "3", "--seed", "5"},
                            {"generate", "--model", (*directory_ / "model").string(), "--prompt-ids", "3,14,15,9,26",
                             "--max-new-tokens", "12", "--output", (*directory_ / "generated.json").string()},
                            // Mistral with a window of 4: the cache keeps every key, the mask slides.
                            {"make-checkpoint", "--out", (*directory_ / "windowed").string(), "--model-type",
                             "mistral", "--vocab-size", "67", "--heads", "4", "--kv-heads", "2", "--layers", "3",
                             "--sliding-window", "4", "--seed", "6"},
                            {"generate", "--model", (*directory_ / "windowed").string(), "--prompt-ids",
                             "3,14,15,9,26", "--max-new-tokens", "12", "--output",
                             (*directory_ / "windowed.json").string()},
                        }));
    reference_run_ = new testing::CommandResult(testing::run_command(
        testing::python() + " " +
        testing::shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) + " jobs " +
        testing::shell_quote((*directory_ / "jobs.json").string())));
  }
  static void TearDownTestSuite() {
    delete reference_run_;
    delete directory_;
  }

  void SetUp() override {
    ASSERT_EQ(reference_run_->exit_code, 0) << reference_run_->output;
    model_ = load_model(*directory_ / "model");
    expected_ = io::read_json_file(*directory_ / "generated.json").get<std::vector<int64_t>>();
    ASSERT_EQ(expected_.size(), 12u);
  }

  static testing::TempDir* directory_;
  static testing::CommandResult* reference_run_;
  const std::vector<int64_t> prompt_ = {3, 14, 15, 9, 26};
  Model model_;
  std::vector<int64_t> expected_;
};

testing::TempDir* GreedyGeneration::directory_ = nullptr;
testing::CommandResult* GreedyGeneration::reference_run_ = nullptr;

TEST_F(GreedyGeneration, MatchesTheUncachedReferenceTokenByToken) {
  std::vector<int64_t> streamed;
  const auto generated = generate_greedy(model_, prompt_, {12, {}}, [&](int64_t id) { streamed.push_back(id); });
  EXPECT_EQ(generated, expected_);
  EXPECT_EQ(streamed, expected_);
}

TEST_F(GreedyGeneration, SlidesTheWindowPastItsLengthAsTheReferenceDoes) {
  const Model windowed = load_model(*directory_ / "windowed");
  ASSERT_EQ(windowed.config.sliding_window, 4);
  const auto expected = io::read_json_file(*directory_ / "windowed.json").get<std::vector<int64_t>>();
  StopReason stop;
  EXPECT_EQ(generate_greedy(windowed, prompt_, {12, {}}, {}, &stop), expected);
  EXPECT_EQ(stop, StopReason::max_new_tokens);
  // Control: the same weights without the window choose differently, so the window is what matched.
  Model unwindowed = windowed;
  unwindowed.config.sliding_window.reset();
  EXPECT_NE(generate_greedy(unwindowed, prompt_, {12, {}}), expected);
}

TEST_F(GreedyGeneration, StopsAtAStopTokenAtMaxNewTokensAndAtTheContextLength) {
  // The first generated token that did not occur before it: stopping there leaves the ids before it.
  size_t stop_at = 1;
  while (stop_at < expected_.size() &&
         std::find(expected_.begin(), expected_.begin() + stop_at, expected_[stop_at]) != expected_.begin() + stop_at)
    ++stop_at;
  ASSERT_LT(stop_at, expected_.size());
  EXPECT_EQ(generate_greedy(model_, prompt_, {12, {999, expected_[stop_at]}}),
            std::vector<int64_t>(expected_.begin(), expected_.begin() + stop_at));

  StopReason stop;
  EXPECT_EQ(generate_greedy(model_, prompt_, {4, {}}, {}, &stop),
            std::vector<int64_t>(expected_.begin(), expected_.begin() + 4));
  EXPECT_EQ(stop, StopReason::max_new_tokens);
  model_.config.max_position_embeddings = 8;  // room for 3 new tokens after the 5-token prompt
  EXPECT_EQ(generate_greedy(model_, prompt_, {12, {}}, {}, &stop),
            std::vector<int64_t>(expected_.begin(), expected_.begin() + 3));
  EXPECT_EQ(stop, StopReason::context_full);
  EXPECT_THROW(generate_greedy(model_, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {2, {}}), Error);
  EXPECT_THROW(generate_greedy(model_, {}, {2, {}}), Error);
}

TEST_F(GreedyGeneration, StopsOnNonFiniteLogits) {
  model_.norm = model_.norm.clone();
  model_.norm[0] = std::numeric_limits<float>::quiet_NaN();
  std::vector<int64_t> streamed;
  const std::string message =
      testing::error_of([&] { generate_greedy(model_, prompt_, {12, {}}, [&](int64_t id) { streamed.push_back(id); }); });
  EXPECT_EQ(message.rfind("generate: the logits of new token 1: ", 0), 0u) << message;
  EXPECT_TRUE(streamed.empty());
}

// A byte-level decode as tokenizers do it: each id is one byte; invalid or incomplete UTF-8 from the
// first bad byte on becomes U+FFFD.
std::string decode_bytes(const std::vector<int64_t>& ids) {
  std::string text;
  for (int64_t id : ids) text += static_cast<char>(id);
  const auto invalid = io::find_invalid_utf8(text);
  return invalid ? text.substr(0, *invalid) + "\xEF\xBF\xBD" : text;
}

std::vector<int64_t> bytes_of(const std::string& text) {
  std::vector<int64_t> ids;
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

TEST(TextStream, ShowsCharactersSplitAcrossTokensWhole) {
  TextStream stream(decode_bytes);
  std::vector<std::string> shown;
  for (int64_t id : bytes_of("a\xC3\xA9\xE4\xB8\xAD!")) shown.push_back(stream.add(id));  // a é 中 !
  EXPECT_EQ(shown, (std::vector<std::string>{"a", "", "\xC3\xA9", "", "", "\xE4\xB8\xAD", "!"}));
  EXPECT_EQ(stream.finish(), "");
}

TEST(TextStream, ShowsAnIncompleteCharacterOnlyAtTheEnd) {
  TextStream stream(decode_bytes);
  EXPECT_EQ(stream.add('x'), "x");
  EXPECT_EQ(stream.add(0xE4), "");
  EXPECT_EQ(stream.add(0xB8), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace qtalign::model
