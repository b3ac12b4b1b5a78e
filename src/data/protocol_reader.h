#pragma once
// Reading the protocol's JSON (prompts.json and task files) with every problem reported as
// "<file>: <json path>: <problem>", and the task-block readers both formats share.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "data/protocol.h"
#include "io/error.h"
#include "io/json_file.h"

namespace qtalign::data {

using io::Json;

// Reads prompts.json with every problem reported as "<file>: <json path>: <problem>".
class ProtocolReader {
 public:
  explicit ProtocolReader(std::filesystem::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
    fail_at(file_, where.empty() ? problem : where + ": " + problem);
  }

  const Json& member(const Json& object, const std::string& key, const std::string& where) const {
    if (!object.is_object()) fail(where, "expected a JSON object");
    const auto found = object.find(key);
    if (found == object.end()) fail(where, "missing field '" + key + "'");
    return *found;
  }

  const Json& object_member(const Json& object, const std::string& key, const std::string& where) const {
    const Json& value = member(object, key, where);
    if (!value.is_object() || value.empty()) fail(join(where, key), "expected a non-empty JSON object");
    return value;
  }

  std::string string_member(const Json& object, const std::string& key, const std::string& where) const {
    const Json& value = member(object, key, where);
    if (!value.is_string()) fail(join(where, key), std::string("expected a string, found ") + value.type_name());
    return value.get<std::string>();
  }

  int64_t positive_integer_member(const Json& object, const std::string& key, const std::string& where) const {
    const Json& value = member(object, key, where);
    if (!value.is_number_integer() || value.get<int64_t>() <= 0)
      fail(join(where, key), "expected a positive integer");
    return value.get<int64_t>();
  }

  std::vector<std::string> string_list_member(const Json& object, const std::string& key,
                                              const std::string& where) const {
    const Json& value = member(object, key, where);
    if (!value.is_array() || value.empty()) fail(join(where, key), "expected a non-empty array of strings");
    std::vector<std::string> strings;
    std::set<std::string> seen;
    for (const Json& element : value) {
      if (!element.is_string()) fail(join(where, key), "expected a non-empty array of strings");
      if (!seen.insert(element.get<std::string>()).second)
        fail(join(where, key), "'" + element.get<std::string>() + "' appears twice");
      strings.push_back(element.get<std::string>());
    }
    return strings;
  }

  std::map<std::string, std::string> string_map_member(const Json& object, const std::string& key,
                                                       const std::string& where) const {
    const Json& value = object_member(object, key, where);
    std::map<std::string, std::string> strings;
    for (const auto& [name, element] : value.items()) {
      if (!element.is_string()) fail(join(join(where, key), name), "expected a string");
      strings[name] = element.get<std::string>();
    }
    return strings;
  }

  // A file of the data directory, named relative to it: an absolute path or one through ".." would
  // read (and show in prompts) whatever file it names.
  void require_data_file(const std::string& file, const std::string& where) const {
    const std::filesystem::path path(file);
    if (file.empty() || path.is_absolute() ||
        std::any_of(path.begin(), path.end(), [](const std::filesystem::path& part) { return part == ".."; }))
      fail(where, "'" + file + "' is not a file inside the data directory (files are named relative to it, "
                  "without '..')");
  }

  static std::string join(const std::string& where, const std::string& key) {
    return where.empty() ? key : where + "." + key;
  }

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};


// "a, b, c".
inline std::string listed(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ", ")); }

// The keys of a map, in its order.
template <typename Value>
std::vector<std::string> keys_of(const std::map<std::string, Value>& map) {
  std::vector<std::string> keys;
  for (const auto& entry : map) keys.push_back(entry.first);
  return keys;
}

// The item fields a template uses: its placeholders minus {demonstrations}, which must open it.
std::vector<std::string> template_fields(const ProtocolReader& reader, const std::string& template_text,
                                         const std::string& where);

// Checks an answer map (item answer -> label) against the task's labels: every value a label, every
// label reached exactly once.
void check_answer_map(const ProtocolReader& reader, const std::map<std::string, std::string>& answer_map,
                      const std::vector<std::string>& labels, const std::string& where);

// Checks that every language's demonstrations hold the task's number of shots.
void check_demonstration_counts(const ProtocolReader& reader, const TaskProtocol& task, const std::string& where);

// The lens and output_types blocks of a task (prompts.json's layout), read into `task`.
void read_answer_type_blocks(const ProtocolReader& reader, const Json& json, TaskProtocol& task,
                             const std::vector<std::string>& languages, const std::string& where);

}  // namespace qtalign::data
