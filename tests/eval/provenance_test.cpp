#include "eval/provenance.h"

#include <gtest/gtest.h>

#include <regex>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::eval {
namespace {

TEST(FileSha1, MatchesKnownDigestsAndSha1sum) {
  testing::TempDir temp;
  io::write_file_atomically(temp / "abc", "abc");
  io::write_file_atomically(temp / "empty", "");
  // FIPS 180 test vector and the digest of no bytes.
  EXPECT_EQ(file_sha1(temp / "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(file_sha1(temp / "empty"), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  const std::filesystem::path prompts = testing::shared_data_dir() / "prompts.json";
  const testing::CommandResult sha1sum = testing::run_command("sha1sum " + testing::shell_quote(prompts.string()));
  ASSERT_EQ(sha1sum.exit_code, 0) << sha1sum.output;
  EXPECT_EQ(file_sha1(prompts), sha1sum.output.substr(0, 40));
  EXPECT_THROW(file_sha1(temp / "missing"), Error);
}

TEST(UtcTimestamp, IsIso8601InUtc) {
  EXPECT_TRUE(std::regex_match(utc_timestamp(), std::regex(R"(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << utc_timestamp();
}

}  // namespace
}  // namespace qtalign::eval
