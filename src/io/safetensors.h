#pragma once
// The safetensors format: an 8-byte little-endian header length, a JSON header mapping tensor
// names to {dtype, shape, data_offsets}, then the raw little-endian tensor bytes.
// Files are memory-mapped; tensors view the mapping without copying.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qtalign::io {

struct TensorRecord {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<TensorRecord> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // byte offset of the data section in the file
};

// Parses and validates the header of a file of `file_size` bytes whose first bytes are `prefix`
// (at least the 8-byte length plus the header). Throws Error naming `file` on any inconsistency:
// header length beyond the file, invalid JSON, unknown dtype, duplicate names, offsets out of range,
// overlapping or leaving gaps (tensors must tile the data section, as the reference implementation
// requires), byte sizes that disagree with dtype and shape.
SafetensorsHeader parse_safetensors_header(std::string_view prefix, uint64_t file_size,
                                           const std::filesystem::path& file);

// A tensor shape as error messages show it: "[2, 3]", "[]" for a scalar.
std::string shape_text(at::IntArrayRef shape);

// A memory-mapped safetensors file.
class SafetensorsFile {
 public:
  // Maps and validates the file; throws Error naming it on any problem.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();

  const SafetensorsHeader& header() const { return header_; }
  const std::filesystem::path& path() const { return path_; }
  bool contains(const std::string& name) const;
  // A CPU tensor viewing the mapped bytes (read-only: do not write to it). Keeps the mapping alive.
  at::Tensor tensor(const std::string& name) const;
  // Hands the resident pages lying wholly within `view`'s bytes back to the kernel, for a tensor
  // viewing this file that is no longer read (a later read sees the file's bytes again, not in-place
  // changes): how a copy made of it stops counting twice. Does nothing for a tensor not viewing it.
  void release_pages(const at::Tensor& view) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::weak_ptr<SafetensorsFile> self_;
};

// Writes tensors (any device and dtype among F32/F16/BF16/I64/I32/...) atomically, in the given order.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The safetensors dtype name ("BF16", "F32", ...) of a scalar type; throws Error for unsupported ones.
std::string safetensors_dtype_name(at::ScalarType dtype);

}  // namespace qtalign::io
