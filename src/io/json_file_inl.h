#pragma once
#include <limits>
#include <type_traits>

#include "io/error.h"

namespace qtalign::io {

namespace detail {

// Whether a JSON integer fits T (nlohmann would wrap it silently).
template <typename T>
bool integer_fits(const Json& value) {
  if (value.is_number_unsigned())
    return value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  const int64_t signed_value = value.get<int64_t>();
  if (signed_value < 0) return std::is_signed_v<T> && signed_value >= static_cast<int64_t>(std::numeric_limits<T>::min());
  return static_cast<uint64_t>(signed_value) <= static_cast<uint64_t>(std::numeric_limits<T>::max());
}

}  // namespace detail

template <typename T>
T required_field(const Json& object, const std::string& key, const std::filesystem::path& file,
                 const std::string& where) {
  const std::string context = where.empty() ? "" : where + ": ";
  if (!object.is_object()) fail_at(file, context + "expected a JSON object");
  auto found = object.find(key);
  if (found == object.end()) fail_at(file, context + "missing field '" + key + "'");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann would convert a float (undefined behaviour beyond T's range) or wrap a large integer.
    if (found->is_number() && (!found->is_number_integer() || !detail::integer_fits<T>(*found)))
      fail_at(file, context + "field '" + key + "' must be an integer from " +
                        std::to_string(std::numeric_limits<T>::min()) + " to " +
                        std::to_string(std::numeric_limits<T>::max()) + ", found " + found->dump());
  }
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail_at(file, context + "field '" + key + "' has the wrong type (" + found->type_name() + ")");
  }
}

}  // namespace qtalign::io
