#pragma once
// Outputs appear under their final name complete or not at all: written to a temporary file in the
// same directory, flushed to disk, then renamed over the destination.
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace qtalign::io {

// Streams an output file; the destination only changes when commit() succeeds.
class AtomicFileWriter {
 public:
  // Opens a temporary file beside `destination` (creating parent directories); throws Error if it cannot.
  explicit AtomicFileWriter(std::filesystem::path destination);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes; throws Error naming the destination on a short write (e.g. disk full).
  void write(std::string_view bytes);
  // Flushes, fsyncs and renames onto the destination; throws Error if any step fails.
  void commit();

  const std::filesystem::path& destination() const { return destination_; }

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Writes the whole file atomically.
void write_file_atomically(const std::filesystem::path& destination, std::string_view contents);

// Deletes the temporary files that writers killed before commit() left in `directory` (those of
// processes no longer running); a missing directory is fine.
void remove_abandoned_temporaries(const std::filesystem::path& directory);

// Reads a whole file; throws Error naming the file if it cannot be read or is not a regular file.
std::string read_file(const std::filesystem::path& path);

// Opens a regular file for reading and returns its descriptor (the caller closes it); throws Error
// naming the file when it is missing, unreadable or not a regular file (a FIFO, a device such as
// /dev/urandom, a directory), at once: a FIFO without a writer does not block the open.
int open_regular_file(const std::filesystem::path& path);

}  // namespace qtalign::io
