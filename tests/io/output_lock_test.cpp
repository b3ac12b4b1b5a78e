#include "io/output_lock.h"

#include <gtest/gtest.h>

#include <optional>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::io {
namespace {

TEST(OutputLock, ASecondHolderFailsNamingTheDirectoryUntilTheFirstEnds) {
  testing::TempDir temp;
  const std::filesystem::path out = temp / "run";
  std::optional<OutputLock> first;
  first.emplace(out);
  EXPECT_TRUE(std::filesystem::is_directory(out));
  const std::string message = testing::error_of([&] { OutputLock second(out); });
  EXPECT_NE(message.find(out.string() + ": another qtalign run is writing to this directory (pid " +
                         std::to_string(::getpid()) + ")"),
            std::string::npos)
      << message;
  first.reset();
  EXPECT_FALSE(std::filesystem::exists(out / ".qtalign.lock")) << "the lock file goes with its holder";
  OutputLock again(out);
}

TEST(CheckOutputDirectory, RefusesAFileInTheWayWithoutCreatingAnything) {
  testing::TempDir temp;
  write_file_atomically(temp / "file", "x");
  EXPECT_EQ(testing::error_of([&] { check_output_directory(temp / "file"); }),
            (temp / "file").string() + ": exists and is not a directory");
  EXPECT_EQ(testing::error_of([&] { check_output_directory(temp / "file/sub/dir"); }),
            (temp / "file/sub/dir").string() + ": " + (temp / "file").string() + " is not a directory");
  check_output_directory(temp / "new/deeper");
  EXPECT_FALSE(std::filesystem::exists(temp / "new"));
}

}  // namespace
}  // namespace qtalign::io
