#include "tokenizer/post_processor.h"

#include <fmt/format.h>

#include "io/error.h"

namespace qtalign::tokenizer {
namespace {

using Json = nlohmann::json;

// The ids a template piece {"SpecialToken": {"id": name}} stands for, from "special_tokens".
std::vector<int64_t> special_token_ids(const Json& config, const std::string& name, const std::filesystem::path& file) {
  const std::string where = "post_processor TemplateProcessing";
  auto tokens = config.find("special_tokens");
  if (tokens == config.end() || !tokens->is_object()) fail_at(file, where + ": missing object field 'special_tokens'");
  auto token = tokens->find(name);
  if (token == tokens->end())
    fail_at(file, where + ": the template uses special token " + Json(name).dump() + ", which 'special_tokens' does not define");
  auto ids = token->find("ids");
  if (ids == token->end() || !ids->is_array())
    fail_at(file, where + ": special token " + Json(name).dump() + " has no 'ids' array");
  std::vector<int64_t> result;
  for (const Json& id : *ids) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      fail_at(file, where + ": special token " + Json(name).dump() + " has an invalid id " + id.dump());
    result.push_back(id.get<int64_t>());
  }
  return result;
}

}  // namespace

PostProcessor PostProcessor::from_json(const Json& config, const std::filesystem::path& file) {
  PostProcessor processor;
  if (!config.is_null()) add(config, file, processor);
  return processor;
}

void PostProcessor::add(const Json& config, const std::filesystem::path& file, PostProcessor& out) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string())
    fail_at(file, "post_processor: expected an object with a string 'type'");
  const std::string type = config["type"].get<std::string>();
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    auto found = config.find("processors");
    if (found == config.end() || !found->is_array())
      fail_at(file, "post_processor Sequence: missing array field 'processors'");
    for (const Json& inner : *found) add(inner, file, out);
    return;
  }
  if (type != "TemplateProcessing")
    fail_at(file, "post_processor: unsupported type '" + type + "' (supported: TemplateProcessing, ByteLevel, Sequence)");
  const std::string where = "post_processor TemplateProcessing";
  auto single = config.find("single");
  if (single == config.end() || !single->is_array()) fail_at(file, where + ": missing array field 'single'");
  std::vector<int64_t> prefix, suffix;
  bool seen_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& piece = (*single)[i];
    if (piece.is_object() && piece.contains("Sequence")) {
      const Json& sequence = piece["Sequence"];
      if (seen_sequence || !sequence.is_object() || sequence.value("id", "") != "A")
        fail_at(file, fmt::format("{}: single[{}]: a single-sequence template holds exactly one Sequence \"A\"", where, i));
      seen_sequence = true;
    } else if (piece.is_object() && piece.contains("SpecialToken") && piece["SpecialToken"].is_object() &&
               piece["SpecialToken"].contains("id") && piece["SpecialToken"]["id"].is_string()) {
      const auto ids = special_token_ids(config, piece["SpecialToken"]["id"].get<std::string>(), file);
      auto& target = seen_sequence ? suffix : prefix;
      target.insert(target.end(), ids.begin(), ids.end());
    } else {
      fail_at(file, fmt::format("{}: single[{}] must be {{\"Sequence\": ...}} or {{\"SpecialToken\": ...}}", where, i));
    }
  }
  if (!seen_sequence) fail_at(file, where + ": 'single' has no Sequence \"A\"");
  // A later template wraps the result of an earlier one.
  out.prefix_.insert(out.prefix_.begin(), prefix.begin(), prefix.end());
  out.suffix_.insert(out.suffix_.end(), suffix.begin(), suffix.end());
}

std::vector<int64_t> PostProcessor::add_special_tokens(const std::vector<int64_t>& ids) const {
  std::vector<int64_t> result;
  result.reserve(prefix_.size() + ids.size() + suffix_.size());
  result.insert(result.end(), prefix_.begin(), prefix_.end());
  result.insert(result.end(), ids.begin(), ids.end());
  result.insert(result.end(), suffix_.begin(), suffix_.end());
  return result;
}

}  // namespace qtalign::tokenizer
