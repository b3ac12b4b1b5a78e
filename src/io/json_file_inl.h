#pragma once
#include "io/error.h"

namespace qtalign::io {

template <typename T>
T required_field(const Json& object, const std::string& key, const std::filesystem::path& file,
                 const std::string& where) {
  const std::string context = where.empty() ? "" : where + ": ";
  if (!object.is_object()) fail_at(file, context + "expected a JSON object");
  auto found = object.find(key);
  if (found == object.end()) fail_at(file, context + "missing field '" + key + "'");
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail_at(file, context + "field '" + key + "' has the wrong type (" + found->type_name() + ")");
  }
}

}  // namespace qtalign::io
