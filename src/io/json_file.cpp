#include "io/json_file.h"

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "io/error.h"

namespace qtalign::io {
namespace {

// Converts a byte offset into 1-based line and column for error messages.
std::pair<size_t, size_t> line_and_column(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

Json parse_or_fail(const std::string& text, const std::filesystem::path& path, size_t line_offset,
                  JsonComments comments = JsonComments::refused) {
  try {
    return Json::parse(text, nullptr, true, comments == JsonComments::allowed);
  } catch (const nlohmann::json::parse_error& e) {
    auto [line, column] = line_and_column(text, e.byte == 0 ? 0 : e.byte - 1);
    std::string what = e.what();
    const auto detail = what.find("syntax error");
    fail_at(path, fmt::format("invalid JSON at line {} column {}: {}", line + line_offset, column,
                              detail == std::string::npos ? what : what.substr(detail)));
  } catch (const nlohmann::json::out_of_range& e) {
    // A number beyond double's range: "[json.exception.out_of_range.406] number overflow parsing '1e400'".
    const std::string what = e.what();
    const size_t quote = what.find('\'');
    const std::string number = quote == std::string::npos ? "" : what.substr(quote + 1, what.size() - quote - 2);
    const size_t offset = number.empty() ? std::string::npos : text.find(number);
    auto [line, column] = line_and_column(text, offset == std::string::npos ? 0 : offset);
    fail_at(path, fmt::format("invalid JSON at line {} column {}: {}", line + line_offset, column,
                              what.substr(what.find(']') + 2)));
  }
}

}  // namespace

Json read_json_file(const std::filesystem::path& path, JsonComments comments) {
  const std::string text = read_file(path);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) fail_at(path, "file is empty");
  return parse_or_fail(text, path, 0, comments);
}

std::vector<Json> read_json_records(const std::filesystem::path& path, size_t max_line_bytes) {
  const std::string text = read_file(path);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) fail_at(path, "file is empty");
  std::vector<Json> records;
  if (text[first] == '[') {
    Json array = parse_or_fail(text, path, 0);
    records.reserve(array.size());
    for (auto& element : array) records.push_back(std::move(element));
  } else {
    size_t line_start = 0, line_number = 0;
    while (line_start < text.size()) {
      size_t line_end = text.find('\n', line_start);
      if (line_end == std::string::npos) line_end = text.size();
      if (line_end - line_start > max_line_bytes)
        fail_at(path, fmt::format("line {} is {} bytes long, more than the {} a record may take", line_number + 1,
                                  line_end - line_start, max_line_bytes));
      const std::string line = text.substr(line_start, line_end - line_start);
      if (line.find_first_not_of(" \t\r") != std::string::npos)
        records.push_back(parse_or_fail(line, path, line_number));
      line_start = line_end + 1;
      ++line_number;
    }
  }
  for (size_t i = 0; i < records.size(); ++i)
    if (!records[i].is_object()) fail_at(path, fmt::format("record {} is not a JSON object", i));
  return records;
}

void write_json_file(const std::filesystem::path& path, const Json& value, int indent) {
  write_file_atomically(path, value.dump(indent, ' ', false, Json::error_handler_t::strict) + "\n");
}

}  // namespace qtalign::io
