#include "io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <set>

#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::io {
namespace {

namespace fs = std::filesystem;

std::set<std::string> names_in(const fs::path& directory) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.insert(entry.path().filename().string());
  return names;
}

// The pid of a process that has ended (and been reaped).
pid_t pid_of_an_ended_process() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(AtomicFile, RemovesOnlyTheTemporariesOfEndedWriters) {
  testing::TempDir temp;
  {
    // A writer of this (running) process, not committed yet: its temporary must survive.
    AtomicFileWriter live(temp / "live.json");
    live.write("{}");
    const std::set<std::string> before = names_in(temp.path());
    ASSERT_EQ(before.size(), 1u);
    const std::string live_temporary = *before.begin();
    EXPECT_EQ(live_temporary.rfind(".live.json.tmp-" + std::to_string(::getpid()) + "-", 0), 0u) << live_temporary;

    // The same name pattern, written by a process that has ended: abandoned.
    const std::string abandoned = fmt::format(".results.json.tmp-{}-0badcafe", pid_of_an_ended_process());
    write_file_atomically(temp / abandoned, "half");
    write_file_atomically(temp / "results.json", "{}");
    write_file_atomically(temp / ".notes.tmp-x-0badcafe", "not ours");
    write_file_atomically(temp / "model.safetensors.tmp-1-0badcafe", "not hidden, not ours");
    remove_abandoned_temporaries(temp.path());
    EXPECT_EQ(names_in(temp.path()), (std::set<std::string>{live_temporary, "results.json", ".notes.tmp-x-0badcafe",
                                                             "model.safetensors.tmp-1-0badcafe"}));
    live.commit();
  }
  EXPECT_EQ(read_file(temp / "live.json"), "{}");
  EXPECT_NO_THROW(remove_abandoned_temporaries(temp / "missing"));
}

TEST(AtomicFile, AnAbortedWriteKeepsThePreviousFileAndAnUnwritablePathIsNamed) {
  testing::TempDir temp;
  write_file_atomically(temp / "a.txt", "before");
  {
    AtomicFileWriter writer(temp / "a.txt");
    writer.write("after");
  }  // destroyed without commit(), as when an exception unwinds
  EXPECT_EQ(names_in(temp.path()), std::set<std::string>{"a.txt"});
  EXPECT_EQ(read_file(temp / "a.txt"), "before");
  try {
    write_file_atomically(temp / "a.txt" / "b.txt", "x");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find((temp / "a.txt" / "b.txt").string() + ": cannot create its directory"),
              std::string::npos)
        << error.what();
  }
}

TEST(ReadFile, RefusesAFifoADeviceAndADirectoryAtOnce) {
  testing::TempDir temp;
  const fs::path fifo = temp / "config.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  // With no writer, opening the FIFO for reading would block forever; the refusal must come first.
  EXPECT_EQ(testing::error_of([&] { read_file(fifo); }),
            fifo.string() + ": not a regular file (a pipe, device or socket)");
  EXPECT_EQ(testing::error_of([&] { read_file("/dev/urandom"); }),
            "/dev/urandom: not a regular file (a pipe, device or socket)");
  EXPECT_EQ(testing::error_of([&] { read_file(temp.path()); }), temp.path().string() + ": is a directory, not a file");
  EXPECT_EQ(testing::error_of([&] { read_file(temp / "missing"); }), (temp / "missing").string() + ": no such file");
  write_file_atomically(temp / "plain", std::string(100000, 'q'));
  EXPECT_EQ(read_file(temp / "plain"), std::string(100000, 'q'));
}

}  // namespace
}  // namespace qtalign::io
