#include "io/provenance.h"

#include <gtest/gtest.h>

#include <ATen/Parallel.h>
#include <torch/csrc/api/include/torch/version.h>

#include <regex>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "support/test_support.h"

namespace qtalign::io {
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

TEST(WeightsFingerprint, HeadersTellShapesApartAndContentTellsBytesApart) {
  testing::TempDir temp;
  const auto write = [&](const std::string& directory, at::Tensor tensor) {
    write_safetensors(temp / directory / "model.safetensors", {{"w", tensor}});
  };
  write("a", at::zeros({2, 3}));
  write("b", at::ones({2, 3}));   // same header, other bytes
  write("c", at::zeros({3, 2}));  // other shape
  const Json a = weights_fingerprint(temp / "a", false);
  EXPECT_EQ(a["method"], "headers");
  EXPECT_EQ(a["sha1"].get<std::string>().size(), 40u);
  EXPECT_EQ(weights_fingerprint(temp / "b", false), a) << "the header fingerprint reads only headers and sizes";
  EXPECT_NE(weights_fingerprint(temp / "c", false)["sha1"], a["sha1"]);
  const Json content_a = weights_fingerprint(temp / "a", true);
  EXPECT_EQ(content_a["method"], "content");
  // By definition, with sha1sum: the SHA-1 of "<name>\0<size>\0<SHA-1 of the SHA-1s of its 64 MiB chunks>"
  // (one chunk here).
  const std::filesystem::path weights = temp / "a" / "model.safetensors";
  const std::string sha1 = "sha1sum | cut -c1-40 | tr -d '\\n'";
  const testing::CommandResult expected = testing::run_command(
      "printf 'model.safetensors\\0%s\\0%s' " + std::to_string(std::filesystem::file_size(weights)) + " \"$(cat " +
      testing::shell_quote(weights.string()) + " | " + sha1 + " | " + sha1 + ")\" | " + sha1);
  ASSERT_EQ(expected.exit_code, 0) << expected.output;
  EXPECT_EQ(content_a["sha1"], expected.output);
  EXPECT_NE(weights_fingerprint(temp / "b", true)["sha1"], content_a["sha1"]);
  EXPECT_EQ(weights_fingerprint(temp / "a", true), content_a);
  EXPECT_NE(testing::error_of([&] { weights_fingerprint(temp.path(), false); }).find("no .safetensors files"),
            std::string::npos);
}

TEST(RunProvenance, RecordsTheCommandLineVersionsAndHardware) {
  const char* const argv[] = {"qtalign", "eval", "--model", "m"};
  set_command_line(4, argv);
  const Json record = run_provenance(at::Device(at::kCPU));
  EXPECT_EQ(record["command_line"], Json({"qtalign", "eval", "--model", "m"}));
  EXPECT_EQ(record["software"]["libtorch"], TORCH_VERSION);
  // Configured from a git checkout: the project version and the commit it was built from.
  EXPECT_EQ(record["software"]["qtalign"].get<std::string>().rfind(std::string(QTALIGN_VERSION) + "-g", 0), 0u)
      << record.dump();
  EXPECT_FALSE(record["software"]["blas"].get<std::string>().empty());
  EXPECT_EQ(record["hardware"]["threads"], at::get_num_threads());
  EXPECT_EQ(record["hardware"]["device"], "cpu");
  EXPECT_FALSE(record["hardware"]["cpu"].get<std::string>().empty());
  EXPECT_FALSE(record["hardware"].contains("gpu"));
}

}  // namespace
}  // namespace qtalign::io
