#pragma once
// JSON and JSONL files with errors that name the file, the line and the problem.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qtalign::io {

using Json = nlohmann::json;

// Whether a JSON file may hold // and /* */ comments (files people write by hand, such as task files).
enum class JsonComments { refused, allowed };

// Parses a JSON file; throws Error "<file>: invalid JSON at line L column C: ..." on bad input
// (including invalid UTF-8) and "<file>: file is empty" for an empty one.
Json read_json_file(const std::filesystem::path& path, JsonComments comments = JsonComments::refused);

// Reads a list of records: a JSON array, or JSONL (one object per non-empty line); throws Error on
// anything else, naming the file and line, and on a JSONL line longer than max_line_bytes (before
// parsing it: an absurd line must not cost memory many times its size).
std::vector<Json> read_json_records(const std::filesystem::path& path, size_t max_line_bytes = size_t(64) << 20);

// Writes JSON (indented, UTF-8) atomically.
void write_json_file(const std::filesystem::path& path, const Json& value, int indent = 2);

// Returns object[key] as T; throws Error "<file>: <where>: missing field 'key'" or a type error (an
// integral T takes only JSON integers within its range).
template <typename T>
T required_field(const Json& object, const std::string& key, const std::filesystem::path& file,
                 const std::string& where = "");

}  // namespace qtalign::io

#include "io/json_file_inl.h"
