#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <functional>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::io {
namespace {

using testing::error_of;
using testing::TempDir;

std::string le64(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  return bytes;
}

// A safetensors file spelled out by hand: length, header text, data bytes.
std::string file_bytes(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// Opening `bytes` as a file must fail with an Error naming the file and containing `problem`.
void expect_rejected(const std::string& bytes, const std::string& problem) {
  TempDir dir;
  const auto path = dir / "weights.safetensors";
  write_file_atomically(path, bytes);
  const std::string message = error_of([&] { SafetensorsFile::open(path); });
  EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(problem), std::string::npos) << "expected '" << problem << "' in: " << message;
}

TEST(Safetensors, RoundTripsEveryDtypeShapeAndMetadata) {
  TempDir dir;
  const auto generator_options = at::TensorOptions().dtype(at::kFloat);
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f64", at::randn({3, 2}, generator_options).to(at::kDouble)},
      {"f32", at::randn({2, 3, 4}, generator_options)},
      {"f16", at::randn({5}, generator_options).to(at::kHalf)},
      {"bf16", at::randn({7, 3}, generator_options).to(at::kBFloat16)},
      {"i64", at::arange(-5, 6, at::kLong)},
      {"i32", at::arange(-4, 4, at::kInt).view({2, 4})},
      {"i16", at::arange(-3, 3, at::kShort)},
      {"i8", at::arange(-128, 128, at::kChar)},
      {"u8", at::arange(0, 256, at::kInt).to(at::kByte)},
      {"bool", at::tensor({1, 0, 1}, at::kInt).to(at::kBool)},
      {"scalar", at::tensor(2.5f)},
      {"empty", at::zeros({0, 3}, at::kFloat)},
      {"strided", at::randn({4, 6}, generator_options).t()},  // non-contiguous input
  };
  write_safetensors(dir / "all.safetensors", tensors, {{"format", "pt"}, {"note", "ünïcode"}});

  const auto file = SafetensorsFile::open(dir / "all.safetensors");
  EXPECT_EQ(file->header().metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "ünïcode"}}));
  EXPECT_EQ(file->header().data_start % 8, 0u) << "header must be padded to 8 bytes";
  ASSERT_EQ(file->header().tensors.size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    ASSERT_TRUE(file->contains(name)) << name;
    const at::Tensor loaded = file->tensor(name);
    EXPECT_EQ(loaded.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(loaded.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(at::equal(loaded, expected)) << name;
  }
  EXPECT_FALSE(file->contains("missing"));
  EXPECT_NE(error_of([&] { file->tensor("missing"); }).find("no tensor named 'missing'"), std::string::npos);
}

TEST(Safetensors, WritesTheDocumentedByteLayout) {
  TempDir dir;
  write_safetensors(dir / "a.safetensors", {{"x", at::tensor({1.0f, -2.0f})}});
  const std::string bytes = read_file(dir / "a.safetensors");
  const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  // 1.0f = 0x3f800000 and -2.0f = 0xc0000000, little-endian.
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  EXPECT_EQ(bytes, le64(padded.size()) + padded + data);
}

TEST(Safetensors, ReadsAHandWrittenFile) {
  TempDir dir;
  // Two bf16 values (1.0 = 0x3f80, -0.5 = 0xbf00) then one I64 (258), with __metadata__ and spaces.
  const std::string header =
      R"({"__metadata__": {"format": "pt"}, "b": {"dtype": "I64", "shape": [1], "data_offsets": [4, 12]},)"
      R"( "a": {"dtype": "BF16", "shape": [2, 1], "data_offsets": [0, 4]}}   )";
  const std::string data("\x80\x3f\x00\xbf\x02\x01\x00\x00\x00\x00\x00\x00", 12);
  write_file_atomically(dir / "h.safetensors", file_bytes(header, data));
  const auto file = SafetensorsFile::open(dir / "h.safetensors");
  ASSERT_EQ(file->header().tensors.size(), 2u);
  EXPECT_EQ(file->header().tensors[0].name, "a");  // data-offset order
  EXPECT_TRUE(at::equal(file->tensor("a"), at::tensor({1.0f, -0.5f}).view({2, 1}).to(at::kBFloat16)));
  EXPECT_EQ(file->tensor("b").item<int64_t>(), 258);
}

TEST(Safetensors, TensorsViewTheMappingWithoutCopyAndKeepItAlive) {
  TempDir dir;
  const at::Tensor weights = at::randn({64, 32}).to(at::kBFloat16);
  write_safetensors(dir / "w.safetensors", {{"small", at::ones({3})}, {"w", weights}});
  auto file = SafetensorsFile::open(dir / "w.safetensors");
  const at::Tensor view = file->tensor("w");
  EXPECT_EQ(testing::mapped_file_containing(view.data_ptr()), dir / "w.safetensors");
  EXPECT_EQ(static_cast<const char*>(view.data_ptr()) - static_cast<const char*>(file->tensor("small").data_ptr()),
            3 * 4);
  file.reset();  // the tensor alone keeps the mapping
  EXPECT_EQ(testing::mapped_file_containing(view.data_ptr()), dir / "w.safetensors");
  EXPECT_TRUE(at::equal(view, weights));
}

TEST(Safetensors, ReleasedPagesOfAViewReadTheFileAgainAndOtherTensorsStayAsTheyAre) {
  TempDir dir;
  const at::Tensor weights = at::randn({64, 1024}).to(at::kBFloat16);  // 128 KiB: many whole pages
  write_safetensors(dir / "w.safetensors", {{"small", at::ones({3})}, {"w", weights}});
  const auto file = SafetensorsFile::open(dir / "w.safetensors");
  const at::Tensor view = file->tensor("w");
  const at::Tensor small = file->tensor("small");
  // The mapping is private: the zeroed pages are this process's copies until released.
  view.zero_();
  const at::Tensor elsewhere = at::ones({4096});
  file->release_pages(view);
  file->release_pages(elsewhere);
  for (const int64_t row : {8, 32, 56}) EXPECT_TRUE(at::equal(view[row], weights[row])) << "row " << row;
  EXPECT_TRUE(at::equal(small, at::ones({3}))) << "the page shared with the next tensor is kept";
  EXPECT_TRUE(at::equal(elsewhere, at::ones({4096})));
}

TEST(Safetensors, CopiesTheRareTensorThatIsNotAlignedToItsElementSize) {
  TempDir dir;
  write_safetensors(dir / "m.safetensors", {{"half", at::ones({1}, at::kHalf)}, {"f32", at::tensor({0.25f, -3.0f})}});
  const auto file = SafetensorsFile::open(dir / "m.safetensors");
  const at::Tensor f32 = file->tensor("f32");  // at byte 2 of the 8-aligned data section
  EXPECT_EQ(testing::mapped_file_containing(f32.data_ptr()), std::filesystem::path());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f32.data_ptr()) % 4, 0u);
  EXPECT_TRUE(at::equal(f32, at::tensor({0.25f, -3.0f})));
  EXPECT_EQ(testing::mapped_file_containing(file->tensor("half").data_ptr()), dir / "m.safetensors");
}

TEST(Safetensors, ParsesAHeaderFromAPrefixAlone) {
  const std::string header = R"({"t":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}})";
  const std::string prefix = le64(header.size()) + header;
  const SafetensorsHeader parsed = parse_safetensors_header(prefix, prefix.size() + 6, "p.safetensors");
  ASSERT_EQ(parsed.tensors.size(), 1u);
  EXPECT_EQ(parsed.tensors[0].dtype, at::kHalf);
  EXPECT_EQ(parsed.tensors[0].shape, std::vector<int64_t>{3});
  EXPECT_EQ(parsed.data_start, prefix.size());
  EXPECT_NE(error_of([&] { parse_safetensors_header(prefix.substr(0, 20), prefix.size() + 6, "p.safetensors"); })
                .find("p.safetensors: truncated safetensors header"),
            std::string::npos);
}

const std::string kGoodHeader = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
const std::string kEightBytes(8, '\1');

TEST(Safetensors, RejectsTruncatedFiles) {
  expect_rejected("\x10\x00\x00", "shorter than the 8-byte header length");
  expect_rejected("", "shorter than the 8-byte header length");
  const std::string whole = file_bytes(kGoodHeader, kEightBytes);
  expect_rejected(whole.substr(0, whole.size() - 3), "beyond the data section of 5 bytes");
  expect_rejected(whole.substr(0, 30), "header length 54 is beyond the file size 30");
}

TEST(Safetensors, RejectsAHeaderLengthBeyondTheFile) {
  expect_rejected(le64(uint64_t(1) << 62) + kGoodHeader + kEightBytes, "is beyond the file size");
  expect_rejected(le64(~uint64_t(0)) + kGoodHeader, "is beyond the file size");
}

TEST(Safetensors, RejectsInvalidJson) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32",)", ""), "invalid JSON");
  expect_rejected(file_bytes("[1, 2]", ""), "must be a JSON object");
  expect_rejected(file_bytes(R"({"a": 5})", ""), "tensor 'a': expected an object");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", ""), "missing 'data_offsets'");
  expect_rejected(file_bytes(R"({"__metadata__":{"n":1}})", ""), "__metadata__ entry 'n' must be a string");
}

TEST(Safetensors, RejectsUnknownDtypes) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", kEightBytes),
                  "tensor 'a' has unsupported dtype 'Q4'");
}

TEST(Safetensors, RejectsOffsetsOutOfRange) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", kEightBytes),
                  "gap in the data section before tensor 'a'");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kEightBytes),
                  "tensor 'a' data_offsets end 16 is beyond the data section of 8 bytes");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kEightBytes),
                  "end 0 is before begin 8");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}})", kEightBytes),
                  "data_offsets must be a non-negative integer");
  expect_rejected(file_bytes(kGoodHeader, kEightBytes + "xx"), "the data section has 10 bytes but the header describes 8");
}

TEST(Safetensors, RejectsOverlappingTensors) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                             kEightBytes),
                  "tensor 'b' overlaps the previous tensor");
}

TEST(Safetensors, RejectsByteSizesThatDisagreeWithDtypeAndShape) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", kEightBytes),
                  "dtype F16 and shape [2] need 4");
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}})", kEightBytes),
                  "shape entries must be a non-negative integer");
  expect_rejected(
      file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", kEightBytes),
      "is too large");
}

TEST(Safetensors, RejectsDuplicateNames) {
  expect_rejected(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                             kEightBytes),
                  "tensor 'a' appears twice");
}

TEST(Safetensors, WriterRefusesDuplicateNamesAndLeavesNothingBehind) {
  TempDir dir;
  const std::string message =
      error_of([&] { write_safetensors(dir / "d.safetensors", {{"a", at::ones({1})}, {"a", at::ones({1})}}); });
  EXPECT_NE(message.find("tensor 'a' given twice"), std::string::npos) << message;
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  EXPECT_EQ(safetensors_dtype_name(at::kBFloat16), "BF16");
  EXPECT_NE(error_of([] { safetensors_dtype_name(at::kComplexFloat); }).find("cannot store"), std::string::npos);
}

TEST(Safetensors, RefusesAFifoAtOnce) {
  testing::TempDir temp;
  const std::filesystem::path fifo = temp / "model.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_EQ(testing::error_of([&] { SafetensorsFile::open(fifo); }),
            fifo.string() + ": not a regular file (a pipe, device or socket)");
}

}  // namespace
}  // namespace qtalign::io
