#include "tokenizer/config_fields.h"

#include "io/error.h"

namespace qtalign::tokenizer {

bool optional_bool(const nlohmann::json& config, const char* key, bool fallback, const std::filesystem::path& file,
                   const std::string& where) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null()) return fallback;
  if (!found->is_boolean()) fail_at(file, where + ": field '" + key + "' must be true or false");
  return found->get<bool>();
}

std::string required_string(const nlohmann::json& config, const char* key, const std::filesystem::path& file,
                            const std::string& where) {
  auto found = config.find(key);
  if (found == config.end() || !found->is_string()) fail_at(file, where + ": missing string field '" + key + "'");
  return found->get<std::string>();
}

}  // namespace qtalign::tokenizer
