#pragma once
// Reading the fields of one component of a tokenizer.json (a normalizer, pre-tokenizer, decoder or
// model): every stage reads them alike, and a bad field fails naming the file and the component.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace qtalign::tokenizer {

// The boolean `key` of `config`, `fallback` when it is absent or null; fails at `file` naming
// `where` (the component) when it is not a boolean.
bool optional_bool(const nlohmann::json& config, const char* key, bool fallback, const std::filesystem::path& file,
                   const std::string& where);

// The string `key` of `config`; fails at `file` naming `where` when it is absent or not a string.
std::string required_string(const nlohmann::json& config, const char* key, const std::filesystem::path& file,
                            const std::string& where);

}  // namespace qtalign::tokenizer
