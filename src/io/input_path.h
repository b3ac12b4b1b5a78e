#pragma once
// Looking at a path a command reads before reading it. std::filesystem throws its own error, without
// what the path was for, when a path cannot be looked at (a symbolic link loop, a directory without
// search permission above it); these checks throw Error naming the path and the problem instead.
#include <filesystem>
#include <string>

namespace qtalign::io {

// Whether `path` exists (links followed); throws Error naming the first part of the path that
// cannot be looked at, and why, when there is one.
bool input_exists(const std::filesystem::path& path);

// Throws Error unless `path` is a directory: "<path>: no such <what>", "<path>: not a directory
// (<what>)", or as input_exists when it cannot be looked at.
void require_directory(const std::filesystem::path& path, const std::string& what);

// Throws Error unless `path` is a file: "<path>: no such file (<hint>)" ("no such file" for an
// empty hint), "<path>: is a directory, not a file", or as input_exists when it cannot be looked at.
void require_file(const std::filesystem::path& path, const std::string& hint);

}  // namespace qtalign::io
