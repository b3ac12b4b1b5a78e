#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <optional>
#include <variant>

#include "io/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/code_points.h"
#include "tokenizer/config_fields.h"
#include "tokenizer/text_pattern.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

// GPT-2's word regex, which ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// What happens to the matches of a Split pattern.
enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A piece of the text; `at_start` when it begins at offset 0 of the input.
struct Piece {
  std::string text;
  bool at_start;
};

struct SplitStep {
  TextPattern pattern;
  Behavior behavior;
  bool invert;
};
struct ByteLevelStep {
  bool add_prefix_space;
  std::optional<TextPattern> gpt2_words;  // set when use_regex
  ByteLevelAlphabet alphabet;
};
enum class PrependScheme { kAlways, kFirst, kNever };
struct MetaspaceStep {
  std::string replacement;
  PrependScheme prepend_scheme;
  bool split;
  TextPattern replacement_pattern;
};

struct Range {
  size_t begin;
  size_t end;
};

// Cuts `text` at the matches, as Hugging Face's NormalizedString::split does for each behaviour;
// empty pieces are dropped.
std::vector<Range> split_ranges(std::string_view text, const std::vector<PatternMatch>& matches,
                                Behavior behavior, bool invert) {
  struct Segment {
    Range range;
    bool is_match;
  };
  std::vector<Segment> segments;
  size_t previous = 0;
  for (const PatternMatch& match : matches) {
    if (previous != match.begin) segments.push_back({{previous, match.begin}, invert});
    segments.push_back({{match.begin, match.end}, !invert});
    previous = match.end;
  }
  if (previous != text.size()) segments.push_back({{previous, text.size()}, invert});

  std::vector<Range> ranges;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      for (const Segment& segment : segments)
        if (!segment.is_match) ranges.push_back(segment.range);
      break;
    case Behavior::kIsolated:
      for (const Segment& segment : segments) ranges.push_back(segment.range);
      break;
    case Behavior::kContiguous:
      for (const Segment& segment : segments) {
        if (!ranges.empty() && segment.is_match == previous_match) ranges.back().end = segment.range.end;
        else ranges.push_back(segment.range);
        previous_match = segment.is_match;
      }
      break;
    case Behavior::kMergedWithPrevious:
      for (const Segment& segment : segments) {
        if (!ranges.empty() && segment.is_match && !previous_match) ranges.back().end = segment.range.end;
        else ranges.push_back(segment.range);
        previous_match = segment.is_match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (!ranges.empty() && it->is_match && !previous_match) ranges.back().begin = it->range.begin;
        else ranges.push_back(it->range);
        previous_match = it->is_match;
      }
      std::reverse(ranges.begin(), ranges.end());
      break;
  }
  std::vector<Range> non_empty;
  for (const Range& range : ranges)
    if (range.end > range.begin) non_empty.push_back(range);
  return non_empty;
}

void cut(const Piece& piece, const std::vector<Range>& ranges, std::vector<Piece>& out) {
  for (const Range& range : ranges)
    out.push_back({piece.text.substr(range.begin, range.end - range.begin), piece.at_start && range.begin == 0});
}

void apply_step(const SplitStep& step, const Piece& piece, std::vector<Piece>& out) {
  cut(piece, split_ranges(piece.text, step.pattern.find_all(piece.text), step.behavior, step.invert), out);
}

void apply_step(const ByteLevelStep& step, const Piece& piece, std::vector<Piece>& out) {
  Piece prefixed{piece.text, piece.at_start};
  if (step.add_prefix_space && (prefixed.text.empty() || prefixed.text[0] != ' '))
    prefixed.text.insert(0, " ");
  std::vector<Piece> words;
  if (step.gpt2_words)
    cut(prefixed, split_ranges(prefixed.text, step.gpt2_words->find_all(prefixed.text), Behavior::kIsolated, false),
        words);
  else
    words.push_back(std::move(prefixed));
  for (Piece& word : words) out.push_back({step.alphabet.encode(word.text), word.at_start});
}

void apply_step(const MetaspaceStep& step, const Piece& piece, std::vector<Piece>& out) {
  Piece replaced{std::string(), piece.at_start};
  replaced.text.reserve(piece.text.size() + step.replacement.size());
  for (char c : piece.text) {
    if (c == ' ') replaced.text += step.replacement;
    else replaced.text += c;
  }
  const bool starts_with_replacement = replaced.text.compare(0, step.replacement.size(), step.replacement) == 0;
  const bool prepend = !starts_with_replacement &&
                       (step.prepend_scheme == PrependScheme::kAlways ||
                        (step.prepend_scheme == PrependScheme::kFirst && piece.at_start));
  if (prepend) replaced.text.insert(0, step.replacement);
  if (!step.split) {
    out.push_back(std::move(replaced));
    return;
  }
  cut(replaced,
      split_ranges(replaced.text, step.replacement_pattern.find_all(replaced.text), Behavior::kMergedWithNext, false),
      out);
}

Behavior parse_behavior(const Json& config, const std::filesystem::path& file, const std::string& where) {
  auto found = config.find("behavior");
  if (found == config.end() || !found->is_string()) fail_at(file, where + ": missing string field 'behavior'");
  const std::string name = found->get<std::string>();
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  fail_at(file, where + ": unknown behavior '" + name +
                    "' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

MetaspaceStep parse_metaspace(const Json& config, const std::filesystem::path& file, const std::string& where) {
  auto replacement = config.find("replacement");
  if (replacement == config.end() || !replacement->is_string())
    fail_at(file, where + ": missing string field 'replacement'");
  const std::string text = replacement->get<std::string>();
  size_t length = 0;
  if (text.empty() || (code_point_at(text, 0, length), length != text.size()))
    fail_at(file, where + ": 'replacement' must be a single character");
  PrependScheme scheme = PrependScheme::kAlways;
  if (auto found = config.find("prepend_scheme"); found != config.end() && !found->is_null()) {
    const std::string name = found->is_string() ? found->get<std::string>() : "";
    if (name == "always") scheme = PrependScheme::kAlways;
    else if (name == "first") scheme = PrependScheme::kFirst;
    else if (name == "never") scheme = PrependScheme::kNever;
    else fail_at(file, where + ": 'prepend_scheme' must be \"always\", \"first\" or \"never\"");
  }
  // Files written before prepend_scheme existed say add_prefix_space instead.
  if (!optional_bool(config, "add_prefix_space", true, file, where)) {
    if (config.contains("prepend_scheme") && scheme != PrependScheme::kNever)
      fail_at(file, where + ": add_prefix_space false contradicts prepend_scheme");
    scheme = PrependScheme::kNever;
  }
  return MetaspaceStep{text, scheme, optional_bool(config, "split", true, file, where), TextPattern::literal(text)};
}

}  // namespace

struct PreTokenizer::Step {
  std::variant<SplitStep, ByteLevelStep, MetaspaceStep> kind;
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

PreTokenizer PreTokenizer::from_json(const Json& config, const std::filesystem::path& file) {
  PreTokenizer pre_tokenizer;
  if (!config.is_null()) add_steps(config, file, pre_tokenizer.steps_);
  return pre_tokenizer;
}

void PreTokenizer::add_steps(const Json& config, const std::filesystem::path& file, std::vector<Step>& steps) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string())
    fail_at(file, "pre_tokenizer: expected an object with a string 'type'");
  const std::string type = config["type"].get<std::string>();
  const std::string where = "pre_tokenizer " + type;
  if (type == "Sequence") {
    auto found = config.find("pretokenizers");
    if (found == config.end() || !found->is_array()) fail_at(file, where + ": missing array field 'pretokenizers'");
    for (const Json& inner : *found) add_steps(inner, file, steps);
  } else if (type == "Split") {
    auto pattern = config.find("pattern");
    if (pattern == config.end()) fail_at(file, where + ": missing field 'pattern'");
    steps.push_back({SplitStep{TextPattern::from_json(*pattern, file, where), parse_behavior(config, file, where),
                               optional_bool(config, "invert", false, file, where)}});
  } else if (type == "ByteLevel") {
    std::optional<TextPattern> words;
    if (optional_bool(config, "use_regex", true, file, where)) words = TextPattern::regex(kGpt2Regex, file, where);
    steps.push_back({ByteLevelStep{optional_bool(config, "add_prefix_space", true, file, where), std::move(words),
                                   ByteLevelAlphabet()}});
  } else if (type == "Metaspace") {
    steps.push_back({parse_metaspace(config, file, where)});
  } else {
    fail_at(file, "pre_tokenizer: unsupported type '" + type + "' (supported: Split, ByteLevel, Metaspace, Sequence)");
  }
}

void PreTokenizer::split(std::string_view text, bool at_text_start, std::vector<std::string>& words) const {
  std::vector<Piece> pieces{{std::string(text), at_text_start}};
  std::vector<Piece> next;
  for (const Step& step : steps_) {
    next.clear();
    for (const Piece& piece : pieces) std::visit([&](const auto& kind) { apply_step(kind, piece, next); }, step.kind);
    pieces.swap(next);
  }
  for (Piece& piece : pieces) words.push_back(std::move(piece.text));
}

bool PreTokenizer::is_byte_level() const {
  for (const Step& step : steps_)
    if (std::holds_alternative<ByteLevelStep>(step.kind)) return true;
  return false;
}

}  // namespace qtalign::tokenizer
