#include "io/atomic_file.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <regex>

#include "io/error.h"
#include "io/system_error.h"

namespace qtalign::io {
namespace {

std::filesystem::path temporary_name_for(const std::filesystem::path& destination) {
  std::random_device entropy;
  return destination.parent_path() /
         fmt::format(".{}.tmp-{}-{:08x}", destination.filename().string(), ::getpid(), entropy());
}

// ".<name>.tmp-<pid>-<8 hex digits>", as temporary_name_for makes them; group 1 is the pid.
const std::regex kTemporaryName(R"(\..+\.tmp-([0-9]{1,9})-[0-9a-f]{8})");

bool process_is_running(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::filesystem::path destination)
    : destination_(std::move(destination)) {
  if (destination_.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(destination_.parent_path(), error);
    if (error) fail_at(destination_, "cannot create its directory: " + error.message());
  }
  temporary_ = temporary_name_for(destination_);
  file_ = std::fopen(temporary_.c_str(), "wb");
  if (!file_) fail_at(destination_, "cannot open for writing: " + errno_text());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) std::fclose(file_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temporary_, ignored);
  }
}

void AtomicFileWriter::write(std::string_view bytes) {
  if (bytes.empty()) return;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    fail_at(destination_, "write failed: " + errno_text());
}

void AtomicFileWriter::commit() {
  if (std::fflush(file_) != 0) fail_at(destination_, "write failed: " + errno_text());
  if (::fsync(::fileno(file_)) != 0) fail_at(destination_, "fsync failed: " + errno_text());
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) fail_at(destination_, "close failed: " + errno_text());
  std::error_code error;
  std::filesystem::rename(temporary_, destination_, error);
  if (error) fail_at(destination_, "cannot move the finished file into place: " + error.message());
  committed_ = true;
}

void write_file_atomically(const std::filesystem::path& destination, std::string_view contents) {
  AtomicFileWriter writer(destination);
  writer.write(contents);
  writer.commit();
}

void remove_abandoned_temporaries(const std::filesystem::path& directory) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    std::smatch match;
    if (!std::regex_match(name, match, kTemporaryName) || !entry.is_regular_file(error)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(match[1].str()));
    if (pid > 0 && !process_is_running(pid)) std::filesystem::remove(entry.path(), error);
  }
}

std::string read_file(const std::filesystem::path& path) {
  const int fd = open_regular_file(path);
  std::string contents;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const std::string problem = "read failed: " + errno_text();
      ::close(fd);
      fail_at(path, problem);
    }
    if (got == 0) break;
    contents.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return contents;
}

int open_regular_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail_at(path, errno == ENOENT ? "no such file" : "cannot be read: " + errno_text());
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    const bool directory = S_ISDIR(info.st_mode);
    ::close(fd);
    fail_at(path, directory ? "is a directory, not a file" : "not a regular file (a pipe, device or socket)");
  }
  // Regular files ignore O_NONBLOCK; cleared anyway so reads behave as on any plain descriptor.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace qtalign::io
