#include "tokenizer/decoder.h"

#include <cctype>
#include <variant>

#include "io/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/code_points.h"
#include "tokenizer/config_fields.h"
#include "tokenizer/text_pattern.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;
using Tokens = std::vector<std::string>;

struct ByteLevelDecodeStep {
  ByteLevelAlphabet alphabet;
};
struct MetaspaceDecodeStep {
  char32_t replacement;
  bool prepended;  // prepend_scheme is not "never"
};
struct ReplaceStep {
  TextPattern pattern;
  std::string content;
};
struct ByteFallbackStep {};
struct FuseStep {};
struct StripStep {
  char32_t content;
  size_t start;
  size_t stop;
};

// All tokens become one text: each token's characters are mapped back to bytes; a token with a
// character outside the alphabet contributes its own UTF-8 bytes. Invalid UTF-8 becomes U+FFFD.
Tokens apply_step(const ByteLevelDecodeStep& step, Tokens tokens) {
  std::string bytes;
  for (const std::string& token : tokens) {
    std::string token_bytes;
    bool in_alphabet = true;
    size_t length = 0;
    for (size_t i = 0; i < token.size() && in_alphabet; i += length) {
      const auto byte = step.alphabet.byte_of(code_point_at(token, i, length));
      if (byte) token_bytes += static_cast<char>(*byte);
      else in_alphabet = false;
    }
    bytes += in_alphabet ? token_bytes : token;
  }
  return {decode_utf8_lossy(bytes)};
}

// The replacement character becomes a space; in the first token it is dropped instead when a
// prefix was prepended while encoding.
Tokens apply_step(const MetaspaceDecodeStep& step, Tokens tokens) {
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::string out;
    size_t length = 0;
    for (size_t i = 0; i < tokens[t].size(); i += length) {
      const char32_t code_point = code_point_at(tokens[t], i, length);
      if (code_point != step.replacement) out.append(tokens[t], i, length);
      else if (!(t == 0 && step.prepended)) out += ' ';
    }
    tokens[t] = std::move(out);
  }
  return tokens;
}

Tokens apply_step(const ReplaceStep& step, Tokens tokens) {
  for (std::string& token : tokens) token = step.pattern.replace_all(token, step.content);
  return tokens;
}

// Runs of <0xXX> tokens become the text of their bytes; a run that is not valid UTF-8 becomes one
// U+FFFD per byte.
Tokens apply_step(const ByteFallbackStep&, Tokens tokens) {
  Tokens out;
  std::string pending;
  auto flush = [&] {
    if (pending.empty()) return;
    if (decode_utf8_lossy(pending) == pending) {
      out.push_back(pending);
    } else {
      for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
    }
    pending.clear();
  };
  for (std::string& token : tokens) {
    const bool is_byte = token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>' &&
                         std::isxdigit(static_cast<unsigned char>(token[3])) &&
                         std::isxdigit(static_cast<unsigned char>(token[4]));
    if (is_byte) {
      pending += static_cast<char>(std::stoi(token.substr(3, 2), nullptr, 16));
    } else {
      flush();
      out.push_back(std::move(token));
    }
  }
  flush();
  return out;
}

Tokens apply_step(const FuseStep&, Tokens tokens) {
  std::string joined;
  for (const std::string& token : tokens) joined += token;
  return {joined};
}

// Removes up to `start` leading and `stop` trailing copies of the content character from each token.
Tokens apply_step(const StripStep& step, Tokens tokens) {
  for (std::string& token : tokens) {
    std::vector<size_t> starts;  // byte offset of each character
    size_t length = 0;
    for (size_t i = 0; i < token.size(); i += length) {
      starts.push_back(i);
      code_point_at(token, i, length);
    }
    size_t first = 0, last = starts.size();
    while (first < step.start && first < last && code_point_at(token, starts[first], length) == step.content) ++first;
    for (size_t removed = 0; removed < step.stop && last > first; ++removed) {
      if (code_point_at(token, starts[last - 1], length) != step.content) break;
      --last;
    }
    const size_t begin = first < starts.size() ? starts[first] : token.size();
    const size_t end = last < starts.size() ? starts[last] : token.size();
    token = token.substr(begin, end - begin);
  }
  return tokens;
}

char32_t single_character(const std::string& text, const char* key, const std::filesystem::path& file,
                          const std::string& where) {
  size_t length = 0;
  if (text.empty()) fail_at(file, where + ": '" + key + "' must be a single character");
  const char32_t code_point = code_point_at(text, 0, length);
  if (length != text.size()) fail_at(file, where + ": '" + key + "' must be a single character");
  return code_point;
}

size_t count_field(const Json& config, const char* key, const std::filesystem::path& file, const std::string& where) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null()) return 0;
  if (!found->is_number_integer() || found->get<int64_t>() < 0)
    fail_at(file, where + ": '" + key + "' must be a non-negative integer");
  return found->get<size_t>();
}

MetaspaceDecodeStep parse_metaspace_decoder(const Json& config, const std::filesystem::path& file,
                                            const std::string& where) {
  const char32_t replacement = single_character(required_string(config, "replacement", file, where), "replacement", file, where);
  bool prepended = true;
  if (auto scheme = config.find("prepend_scheme"); scheme != config.end() && !scheme->is_null()) {
    if (!scheme->is_string() || (*scheme != "always" && *scheme != "first" && *scheme != "never"))
      fail_at(file, where + ": 'prepend_scheme' must be \"always\", \"first\" or \"never\"");
    prepended = *scheme != "never";
  }
  if (auto add_prefix_space = config.find("add_prefix_space");
      add_prefix_space != config.end() && add_prefix_space->is_boolean() && !add_prefix_space->get<bool>())
    prepended = false;
  return MetaspaceDecodeStep{replacement, prepended};
}

}  // namespace

struct Decoder::Step {
  std::variant<ByteLevelDecodeStep, MetaspaceDecodeStep, ReplaceStep, ByteFallbackStep, FuseStep, StripStep> kind;
};

Decoder::Decoder() = default;
Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

Decoder Decoder::from_json(const Json& config, const std::filesystem::path& file) {
  Decoder decoder;
  if (!config.is_null()) {
    add_steps(config, file, decoder.steps_);
    decoder.configured_ = true;
  }
  return decoder;
}

void Decoder::add_steps(const Json& config, const std::filesystem::path& file, std::vector<Step>& steps) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string())
    fail_at(file, "decoder: expected an object with a string 'type'");
  const std::string type = config["type"].get<std::string>();
  const std::string where = "decoder " + type;
  if (type == "Sequence") {
    auto found = config.find("decoders");
    if (found == config.end() || !found->is_array()) fail_at(file, where + ": missing array field 'decoders'");
    for (const Json& inner : *found) add_steps(inner, file, steps);
  } else if (type == "ByteLevel") {
    steps.push_back({ByteLevelDecodeStep{}});
  } else if (type == "Metaspace") {
    steps.push_back({parse_metaspace_decoder(config, file, where)});
  } else if (type == "Replace") {
    auto pattern = config.find("pattern");
    if (pattern == config.end()) fail_at(file, where + ": missing field 'pattern'");
    steps.push_back({ReplaceStep{TextPattern::from_json(*pattern, file, where), required_string(config, "content", file, where)}});
  } else if (type == "ByteFallback") {
    steps.push_back({ByteFallbackStep{}});
  } else if (type == "Fuse") {
    steps.push_back({FuseStep{}});
  } else if (type == "Strip") {
    steps.push_back({StripStep{single_character(required_string(config, "content", file, where), "content", file, where),
                               count_field(config, "start", file, where), count_field(config, "stop", file, where)}});
  } else {
    fail_at(file, "decoder: unsupported type '" + type +
                      "' (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)");
  }
}

std::string Decoder::decode(std::vector<std::string> tokens) const {
  if (!configured_) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
    return joined;
  }
  for (const Step& step : steps_)
    tokens = std::visit([&](const auto& kind) { return apply_step(kind, std::move(tokens)); }, step.kind);
  std::string text;
  for (const std::string& token : tokens) text += token;
  return text;
}

}  // namespace qtalign::tokenizer
