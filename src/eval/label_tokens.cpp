#include "eval/label_tokens.h"

#include <fmt/format.h>

#include <algorithm>

#include "io/error.h"
#include "io/utf8.h"

namespace qtalign::eval {
namespace {

constexpr std::string_view kWordStartMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's "▁"

// Byte lengths of the label's prefixes that end on a character boundary, shortest first.
std::vector<size_t> character_prefix_lengths(const std::string& label) {
  std::vector<size_t> lengths;
  for (size_t position = 1; position <= label.size(); ++position) {
    const bool boundary = position == label.size() || (static_cast<unsigned char>(label[position]) & 0xC0) != 0x80;
    if (boundary) lengths.push_back(position);
  }
  return lengths;
}

}  // namespace

std::vector<int64_t> prefix_sum_candidates(const tokenizer::Tokenizer& tokenizer, const std::string& label) {
  if (label.empty()) throw Error("prefix-sum scoring: empty label word");
  if (io::find_invalid_utf8(label)) throw Error("prefix-sum scoring: label '" + label + "' is not valid UTF-8");
  std::vector<int64_t> candidates;
  const auto add_entry = [&](std::string_view entry) {
    if (const auto id = tokenizer.token_to_id(entry)) candidates.push_back(*id);
  };
  for (const size_t length : character_prefix_lengths(label)) {
    const std::string prefix = label.substr(0, length);
    add_entry(prefix);
    add_entry(std::string(kWordStartMarker) + prefix);
    if (tokenizer.is_byte_level()) {
      const std::vector<int64_t> ids = tokenizer.encode(prefix, /*add_special_tokens=*/false);
      if (!ids.empty()) candidates.push_back(ids.front());
    }
  }
  const auto first_byte = static_cast<unsigned char>(label.front());
  if (first_byte >= 0x80) add_entry(fmt::format("<0x{:02X}>", first_byte));
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  if (candidates.empty()) throw Error("prefix-sum scoring: no vocabulary entry can begin the label '" + label + "'");
  return candidates;
}

std::vector<int64_t> label_sequence_ids(const tokenizer::Tokenizer& tokenizer, std::string_view prompt_tail,
                                        const std::string& label) {
  const std::vector<int64_t> tail = tokenizer.encode(prompt_tail, /*add_special_tokens=*/false);
  const std::vector<int64_t> whole =
      tokenizer.encode(std::string(prompt_tail) + label + "\"", /*add_special_tokens=*/false);
  if (whole.size() <= tail.size() || !std::equal(tail.begin(), tail.end(), whole.begin()))
    throw Error(fmt::format("sequence scoring: the label '{}' merges with the prompt's last tokens under this "
                            "tokenizer, so its tokens after the prompt are not defined",
                            label));
  return std::vector<int64_t>(whole.begin() + static_cast<std::ptrdiff_t>(tail.size()), whole.end());
}

}  // namespace qtalign::eval
