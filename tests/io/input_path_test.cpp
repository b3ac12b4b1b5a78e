#include "io/input_path.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "support/test_support.h"

namespace qtalign::io {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

// What each check says of a file, a directory, a missing path and a path under a file.
TEST(InputPath, SaysWhatIsMissingOrOfTheWrongKind) {
  testing::TempDir temp;
  write_file_atomically(temp / "file", "x");
  EXPECT_TRUE(input_exists(temp / "file"));
  EXPECT_FALSE(input_exists(temp / "missing"));
  EXPECT_FALSE(input_exists(temp / "file/under"));
  require_file(temp / "file", "");
  require_directory(temp.path(), "checkpoint directory");
  EXPECT_EQ(error_of([&] { require_file(temp / "missing", ""); }), (temp / "missing").string() + ": no such file");
  EXPECT_EQ(error_of([&] { require_file(temp / "missing", "not a checkpoint?"); }),
            (temp / "missing").string() + ": no such file (not a checkpoint?)");
  EXPECT_EQ(error_of([&] { require_file(temp.path(), ""); }), temp.path().string() + ": is a directory, not a file");
  EXPECT_EQ(error_of([&] { require_directory(temp / "missing", "adapter directory"); }),
            (temp / "missing").string() + ": no such adapter directory");
  EXPECT_EQ(error_of([&] { require_directory(temp / "file", "adapter directory"); }),
            (temp / "file").string() + ": not a directory (adapter directory)");
}

// A symbolic link loop cannot be looked at: std::filesystem throws its own error, these name the
// loop, the outermost part of the path that is one.
TEST(InputPath, ASymlinkLoopIsNamedWhereverItIsInThePath) {
  testing::TempDir temp;
  fs::create_symlink("loop", temp / "loop");
  const std::string loop = (temp / "loop").string() + ": cannot be read: Too many levels of symbolic links";
  EXPECT_EQ(error_of([&] { input_exists(temp / "loop"); }), loop);
  EXPECT_EQ(error_of([&] { require_file(temp / "loop", ""); }), loop);
  EXPECT_EQ(error_of([&] { require_directory(temp / "loop", "checkpoint directory"); }), loop);
  EXPECT_EQ(error_of([&] { require_file(temp / "loop/sub/config.json", ""); }),
            loop + " (reading " + (temp / "loop/sub/config.json").string() + ")");
  // Two links that point at each other.
  fs::create_symlink("b", temp / "a");
  fs::create_symlink("a", temp / "b");
  EXPECT_EQ(error_of([&] { require_directory(temp / "a", "adapter directory"); }),
            (temp / "a").string() + ": cannot be read: Too many levels of symbolic links");
}

// A directory that cannot be searched hides what it holds: the file under it is named.
TEST(InputPath, AFileInADirectoryThatCannotBeSearchedIsNamed) {
  if (::geteuid() == 0) GTEST_SKIP() << "root searches every directory";
  testing::TempDir temp;
  fs::create_directory(temp / "closed");
  write_file_atomically(temp / "closed/config.json", "{}");
  ::chmod((temp / "closed").c_str(), 0);
  const std::string message = error_of([&] { require_file(temp / "closed/config.json", ""); });
  ::chmod((temp / "closed").c_str(), 0755);
  EXPECT_EQ(message, (temp / "closed/config.json").string() + ": cannot be read: Permission denied");
}

}  // namespace
}  // namespace qtalign::io
