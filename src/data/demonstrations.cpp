#include "data/demonstrations.h"

#include <fmt/format.h>

#include "io/error.h"

namespace qtalign::data {
namespace {

bool is_answer_line(std::string_view line, const std::vector<std::string>& labels) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  for (const std::string& label : labels) {
    const std::string quoted = "\"" + label + "\"";
    if (line.size() >= quoted.size() && line.substr(line.size() - quoted.size()) == quoted) return true;
  }
  return false;
}

}  // namespace

std::vector<size_t> answer_line_ends(std::string_view block, const std::vector<std::string>& labels) {
  std::vector<size_t> ends;
  size_t start = 0;
  while (start <= block.size()) {
    size_t end = block.find('\n', start);
    if (end == std::string_view::npos) end = block.size();
    if (is_answer_line(block.substr(start, end - start), labels)) ends.push_back(end);
    start = end + 1;
  }
  return ends;
}

int parse_shots(const std::string& text, const std::string& context) {
  if (text == "default") return kTaskShots;
  size_t end = 0;
  int count = -1;
  try {
    count = std::stoi(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  if (text.empty() || end != text.size() || count < 0)
    throw Error(fmt::format("{}: '{}' is neither 'default' nor a count of demonstrations", context, text));
  return count;
}

std::string shots_name(int shots) { return shots == kTaskShots ? "default" : std::to_string(shots); }

}  // namespace qtalign::data
