#include "io/error.h"

namespace qtalign {

void fail_at(const std::filesystem::path& path, const std::string& problem) {
  throw Error(path.string() + ": " + problem);
}

}  // namespace qtalign
