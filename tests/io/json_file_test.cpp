#include "io/json_file.h"

#include <gtest/gtest.h>

#include <functional>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::io {
namespace {

using testing::TempDir;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonFile, InvalidJsonNamesFileLineAndColumn) {
  TempDir dir;
  write_file_atomically(dir / "bad.json", "{\n  \"a\": 1,\n  \"b\": }\n");
  const std::string message = error_of([&] { read_json_file(dir / "bad.json"); });
  EXPECT_NE(message.find((dir / "bad.json").string()), std::string::npos) << message;
  EXPECT_NE(message.find("line 3 column 8"), std::string::npos) << message;
}

TEST(JsonFile, InvalidUtf8IsRejectedWithTheFileName) {
  TempDir dir;
  write_file_atomically(dir / "bad.json", "[{\"input\": \"caf\xC3\x28\"}]");
  const std::string message = error_of([&] { read_json_records(dir / "bad.json"); });
  EXPECT_NE(message.find("bad.json: invalid JSON"), std::string::npos) << message;
}

TEST(JsonFile, ReadsArraysAndJsonLinesAlike) {
  TempDir dir;
  write_file_atomically(dir / "a.json", "[{\"x\": 1}, {\"x\": 2}]");
  write_file_atomically(dir / "a.jsonl", "{\"x\": 1}\n\n{\"x\": 2}\n");
  const auto from_array = read_json_records(dir / "a.json");
  const auto from_lines = read_json_records(dir / "a.jsonl");
  ASSERT_EQ(from_array.size(), 2u);
  EXPECT_EQ(from_array, from_lines);
  write_file_atomically(dir / "b.jsonl", "{\"x\": 1}\n{\"x\": \n");
  EXPECT_NE(error_of([&] { read_json_records(dir / "b.jsonl"); }).find("line 2"), std::string::npos);
}

TEST(JsonFile, MissingFieldIsNamed) {
  const Json object = {{"premise", "p"}};
  const std::string message = error_of([&] { required_field<std::string>(object, "hypothesis", "d.json", "item 4"); });
  EXPECT_EQ(message, "d.json: item 4: missing field 'hypothesis'");
}

TEST(AtomicFile, UncommittedWriterLeavesNothingBehind) {
  TempDir dir;
  {
    AtomicFileWriter writer(dir / "out.txt");
    writer.write("partial");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.txt"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(AtomicFile, CommitReplacesTheDestinationWhole) {
  TempDir dir;
  write_file_atomically(dir / "out.txt", "old");
  write_file_atomically(dir / "out.txt", "new contents");
  EXPECT_EQ(read_file(dir / "out.txt"), "new contents");
}

}  // namespace
}  // namespace qtalign::io
