#include "eval/provenance.h"

#include <c10/util/hash.h>

#include <ctime>

#include "io/atomic_file.h"

namespace qtalign::eval {

std::string file_sha1(const std::filesystem::path& file) {
  const std::string contents = io::read_file(file);
  // c10::sha1 only initialises its state for non-empty input.
  if (contents.empty()) return "da39a3ee5e6b4b0d3255bfef95601890afd80709";
  return c10::sha1(contents).str();
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace qtalign::eval
