#pragma once
// Errors the user can act on: every message names the file (or input) and the problem.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace qtalign {

// An input, configuration or environment problem, reported to the user as one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws Error("<path>: <problem>").
[[noreturn]] void fail_at(const std::filesystem::path& path, const std::string& problem);

}  // namespace qtalign
