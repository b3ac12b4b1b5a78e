#pragma once
// One run per output directory: two runs writing the same --out at once would interleave their
// files and the last writer would silently win. The first takes an exclusive lock (flock) on a
// file in the directory for as long as it runs; the second fails at start, naming the directory.
#include <filesystem>

namespace qtalign::io {

// Checks that `directory` can serve as an output directory: it is one, or can be created (refusing a
// path that is an existing file or lies under one, and a directory that cannot be written), without
// creating it; throws Error naming the path and the problem.
void check_output_directory(const std::filesystem::path& directory);

class OutputLock {
 public:
  // Creates `directory` if needed (after check_output_directory) and locks it; throws Error when
  // another process holds the lock (its pid in the message).
  explicit OutputLock(const std::filesystem::path& directory);
  // Releases the lock and removes the lock file, and the directory when it created it and it is
  // still empty.
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::filesystem::path file_;
  int fd_ = -1;
  bool created_ = false;
};

}  // namespace qtalign::io
