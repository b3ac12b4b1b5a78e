#include "io/input_path.h"

#include <system_error>

#include "io/error.h"

namespace qtalign::io {
namespace {

namespace fs = std::filesystem;

// A path that is missing, or lies under a file: it does not exist, which is no error of its own.
bool missing(const std::error_code& error) {
  return error == std::errc::no_such_file_or_directory || error == std::errc::not_a_directory;
}

// The status of `path`, or Error naming the outermost part of it that cannot be looked at (the
// directory that is a link loop, rather than a file under it).
fs::file_status status_or_fail(const fs::path& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!error || missing(error)) return status;
  fs::path blamed = path;
  for (fs::path parent = path.parent_path(); !parent.empty() && parent != blamed; parent = parent.parent_path()) {
    std::error_code parent_error;
    static_cast<void>(fs::status(parent, parent_error));
    if (!parent_error || missing(parent_error)) break;
    blamed = parent;
  }
  fail_at(blamed, "cannot be read: " + error.message() + (blamed == path ? "" : " (reading " + path.string() + ")"));
}

}  // namespace

bool input_exists(const fs::path& path) { return fs::exists(status_or_fail(path)); }

void require_directory(const fs::path& path, const std::string& what) {
  const fs::file_status status = status_or_fail(path);
  if (!fs::exists(status)) fail_at(path, "no such " + what);
  if (!fs::is_directory(status)) fail_at(path, "not a directory (" + what + ")");
}

void require_file(const fs::path& path, const std::string& hint) {
  const fs::file_status status = status_or_fail(path);
  if (!fs::exists(status)) fail_at(path, hint.empty() ? "no such file" : "no such file (" + hint + ")");
  if (fs::is_directory(status)) fail_at(path, "is a directory, not a file");
}

}  // namespace qtalign::io
