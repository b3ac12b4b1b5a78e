#include "io/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "io/error.h"
#include "io/system_error.h"

namespace qtalign::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLockFile = ".qtalign.lock";

// The pid a lock file records (0 when unreadable).
long holder_of(int fd) {
  char text[32] = {};
  const ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
  return got > 0 ? std::strtol(text, nullptr, 10) : 0;
}

}  // namespace

void check_output_directory(const fs::path& directory) {
  // The nearest existing ancestor decides: a file in the way, or a directory we may not write.
  fs::path existing = fs::absolute(directory);
  std::error_code error;
  while (!fs::exists(existing, error) && existing.has_parent_path() && existing != existing.parent_path())
    existing = existing.parent_path();
  if (!fs::is_directory(existing, error))
    fail_at(directory, existing == fs::absolute(directory) ? "exists and is not a directory"
                                                            : existing.string() + " is not a directory");
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    fail_at(directory, (existing == fs::absolute(directory) ? "cannot write in it: " : "cannot create it in " +
                                                                                           existing.string() + ": ") +
                           errno_text());
}

OutputLock::OutputLock(const fs::path& directory) : file_(directory / kLockFile) {
  check_output_directory(directory);
  std::error_code error;
  created_ = !fs::exists(directory, error);
  fs::create_directories(directory, error);
  if (error) fail_at(directory, "cannot create the output directory: " + error.message());
  // A holder removes the file when it ends; a lock taken on a file removed meanwhile is no lock, so
  // the file locked must still be the one at the path.
  for (;;) {
    fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_at(directory, "cannot create the lock file " + std::string(kLockFile) + ": " + errno_text());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int problem = errno;
      const long holder = holder_of(fd_);
      ::close(fd_);
      fd_ = -1;
      if (problem == EWOULDBLOCK)
        fail_at(directory, "another qtalign run is writing to this directory" +
                               (holder > 0 ? " (pid " + std::to_string(holder) + ")" : std::string()) +
                               "; wait for it to end or choose another --out");
      fail_at(directory, std::string("cannot lock ") + kLockFile + ": " + std::strerror(problem));
    }
    struct stat locked {}, current {};
    if (::fstat(fd_, &locked) == 0 && ::stat(file_.c_str(), &current) == 0 && locked.st_ino == current.st_ino &&
        locked.st_dev == current.st_dev)
      break;
    ::close(fd_);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // The pid only improves the message a second run prints; the lock holds without it.
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());
  ::close(fd_);
  // A run that failed before writing anything leaves no empty directory behind (remove() keeps a
  // directory that is not empty).
  std::error_code ignored;
  if (created_) fs::remove(file_.parent_path(), ignored);
}

}  // namespace qtalign::io
