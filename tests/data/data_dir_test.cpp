#include "data/data_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "data/data_fixtures.h"
#include "support/test_support.h"

namespace qtalign::data {
namespace {

using fixtures::contains;
using testing::error_of;
using testing::TempDir;

// Sets (or unsets) QTALIGN_DATA for one test and restores the previous value.
class ScopedDataEnvironment {
 public:
  explicit ScopedDataEnvironment(const char* value) {
    if (const char* old = ::getenv("QTALIGN_DATA")) previous_ = old, had_previous_ = true;
    if (value) ::setenv("QTALIGN_DATA", value, 1);
    else ::unsetenv("QTALIGN_DATA");
  }
  ~ScopedDataEnvironment() {
    if (had_previous_) ::setenv("QTALIGN_DATA", previous_.c_str(), 1);
    else ::unsetenv("QTALIGN_DATA");
  }

 private:
  std::string previous_;
  bool had_previous_ = false;
};

TEST(DataDir, ExplicitDirectoryWinsOverTheEnvironment) {
  TempDir other;
  ScopedDataEnvironment environment(other.path().c_str());
  EXPECT_EQ(resolve_data_dir(testing::shared_data_dir()), testing::shared_data_dir());
}

TEST(DataDir, EnvironmentWinsOverTheDefault) {
  TempDir dir;
  fixtures::make_data_dir(dir.path());
  ScopedDataEnvironment environment(dir.path().c_str());
  EXPECT_EQ(resolve_data_dir(), dir.path());
}

TEST(DataDir, DefaultIsTheSharedDataBesideTheCheckout) {
  ScopedDataEnvironment environment(nullptr);
  EXPECT_TRUE(std::filesystem::equivalent(resolve_data_dir(), testing::source_dir() / ".." / "shared" / "data"));
}

TEST(DataDir, DirectoryWithoutPromptsJsonIsNamed) {
  TempDir empty;
  const std::string message = error_of([&] { resolve_data_dir(empty.path()); });
  EXPECT_TRUE(contains(message, empty.path().string())) << message;
  EXPECT_TRUE(contains(message, "no prompts.json")) << message;
  EXPECT_TRUE(contains(message, "--data-dir")) << message;

  ScopedDataEnvironment environment(empty.path().c_str());
  const std::string from_environment = error_of([] { resolve_data_dir(); });
  EXPECT_TRUE(contains(from_environment, empty.path().string())) << from_environment;
  EXPECT_TRUE(contains(from_environment, "QTALIGN_DATA")) << from_environment;
}

}  // namespace
}  // namespace qtalign::data
