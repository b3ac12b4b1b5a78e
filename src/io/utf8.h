#pragma once
// UTF-8 validation shared by every reader of text.
#include <cstddef>
#include <optional>
#include <string_view>

namespace qtalign::io {

// Returns the byte offset of the first invalid UTF-8 sequence, or nullopt when `text` is valid.
std::optional<size_t> find_invalid_utf8(std::string_view text);

}  // namespace qtalign::io
