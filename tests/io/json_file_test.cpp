#include "io/json_file.h"

#include <gtest/gtest.h>

#include <functional>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::io {
namespace {

using testing::error_of;
using testing::TempDir;

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

// nlohmann reports numbers beyond double's range as out_of_range, not parse_error (found by data_fuzz).
TEST(JsonFile, RefusesAnAbsurdlyLongLineBeforeParsingIt) {
  testing::TempDir temp;
  const std::string long_line = "{\"input\": \"" + std::string(200, 'a') + "\"}";
  write_file_atomically(temp / "d.jsonl", "{\"input\": \"b\"}\n" + long_line + "\n");
  EXPECT_EQ(error_of([&] { read_json_records(temp / "d.jsonl", 100); }),
            (temp / "d.jsonl").string() + ": line 2 is " + std::to_string(long_line.size()) +
                " bytes long, more than the 100 a record may take");
  EXPECT_EQ(read_json_records(temp / "d.jsonl").size(), 2u);  // the default allows 64 MiB
}

TEST(JsonFile, NumberBeyondDoubleRangeIsAnErrorWithItsPlace) {
  TempDir dir;
  write_file_atomically(dir / "big.json", "{\n \"a\": [1, 2e400]\n}\n");
  const std::string message = error_of([&] { read_json_file(dir / "big.json"); });
  EXPECT_EQ(message, (dir / "big.json").string() + ": invalid JSON at line 2 column 11: number overflow parsing '2e400'");
  write_file_atomically(dir / "big.jsonl", "{\"x\": 1}\n{\"x\": -1e999}\n");
  const std::string from_lines = error_of([&] { read_json_records(dir / "big.jsonl"); });
  EXPECT_NE(from_lines.find("big.jsonl: invalid JSON at line 2 column 7: number overflow"), std::string::npos) << from_lines;
}

// nlohmann converts a float to an integer with undefined behaviour beyond its range, and wraps large
// integers (found with data_fuzz: {"index": 1e300} in a question-translation file).
TEST(JsonFile, IntegerFieldTakesOnlyIntegersInRange) {
  const Json object = {{"float", 1e300}, {"huge", 18446744073709551615ull}, {"big", int64_t(1) << 40},
                       {"negative", -3}, {"fine", 7}, {"half", 2.5}, {"text", "7"}};
  EXPECT_EQ(required_field<int64_t>(object, "fine", "r.json"), 7);
  EXPECT_EQ(required_field<int>(object, "negative", "r.json"), -3);
  EXPECT_EQ(required_field<uint64_t>(object, "huge", "r.json"), 18446744073709551615ull);
  EXPECT_EQ(error_of([&] { required_field<int64_t>(object, "float", "r.json", "record 2"); }),
            "r.json: record 2: field 'float' must be an integer from -9223372036854775808 to 9223372036854775807, "
            "found 1e+300");
  EXPECT_NE(error_of([&] { required_field<int64_t>(object, "huge", "r.json"); }).find("found 18446744073709551615"),
            std::string::npos);
  EXPECT_NE(error_of([&] { required_field<int>(object, "big", "r.json"); }).find("from -2147483648 to 2147483647"),
            std::string::npos);
  EXPECT_NE(error_of([&] { required_field<size_t>(object, "negative", "r.json"); }).find("found -3"), std::string::npos);
  EXPECT_NE(error_of([&] { required_field<int64_t>(object, "half", "r.json"); }).find("found 2.5"), std::string::npos);
  EXPECT_EQ(error_of([&] { required_field<int64_t>(object, "text", "r.json"); }),
            "r.json: field 'text' has the wrong type (string)");
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

TEST(JsonFile, CommentsOnlyWhereAllowed) {
  TempDir dir;
  write_file_atomically(dir / "c.json", "// a note\n{\"a\": 1 /* inline */}\n");
  EXPECT_EQ(read_json_file(dir / "c.json", JsonComments::allowed), Json({{"a", 1}}));
  EXPECT_NE(error_of([&] { read_json_file(dir / "c.json"); }).find("invalid JSON at line 1"), std::string::npos);
}

}  // namespace
}  // namespace qtalign::io
