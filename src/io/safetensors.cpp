#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/system_error.h"

namespace qtalign::io {
namespace {

// The reference implementation refuses headers above 100 MB; so do we, which also bounds the
// memory a lying header can make us allocate.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName {
  const char* name;
  at::ScalarType dtype;
};

// The safetensors dtypes libtorch 1.13 can represent.
constexpr DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},
};

uint64_t read_le64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string le64_bytes(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

at::ScalarType dtype_of_name(const std::string& name, const std::string& tensor,
                             const std::filesystem::path& file) {
  for (const auto& entry : kDtypes)
    if (name == entry.name) return entry.dtype;
  fail_at(file, "tensor '" + tensor + "' has unsupported dtype '" + name + "'");
}

uint64_t json_unsigned(const nlohmann::json& value, const std::string& what, const std::filesystem::path& file) {
  if (!value.is_number_unsigned()) fail_at(file, what + " must be a non-negative integer");
  return value.get<uint64_t>();
}

TensorRecord parse_tensor_record(const std::string& name, const nlohmann::json& entry,
                                 const std::filesystem::path& file) {
  const std::string where = "tensor '" + name + "'";
  if (!entry.is_object()) fail_at(file, where + ": expected an object with dtype, shape and data_offsets");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) fail_at(file, where + ": missing '" + key + "'");
  if (!entry["dtype"].is_string()) fail_at(file, where + ": dtype must be a string");
  TensorRecord record;
  record.name = name;
  record.dtype = dtype_of_name(entry["dtype"].get<std::string>(), name, file);

  const auto& shape = entry["shape"];
  if (!shape.is_array()) fail_at(file, where + ": shape must be an array");
  uint64_t numel = 1;
  for (const auto& dim : shape) {
    const uint64_t size = json_unsigned(dim, where + ": shape entries", file);
    if (size > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, size, &numel))
      fail_at(file, where + ": shape " + shape.dump() + " is too large");
    record.shape.push_back(static_cast<int64_t>(size));
  }

  const auto& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) fail_at(file, where + ": data_offsets must be [begin, end]");
  record.begin = json_unsigned(offsets[0], where + ": data_offsets", file);
  record.end = json_unsigned(offsets[1], where + ": data_offsets", file);
  if (record.end < record.begin)
    fail_at(file, where + ": data_offsets end " + std::to_string(record.end) + " is before begin " +
                      std::to_string(record.begin));

  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, uint64_t(c10::elementSize(record.dtype)), &bytes))
    fail_at(file, where + ": shape " + shape.dump() + " is too large");
  if (record.end - record.begin != bytes)
    fail_at(file, where + ": data_offsets span " + std::to_string(record.end - record.begin) +
                      " bytes, but dtype " + entry["dtype"].get<std::string>() + " and shape " +
                      shape_text(record.shape) + " need " + std::to_string(bytes));
  return record;
}

std::map<std::string, std::string> parse_metadata(const nlohmann::json& metadata, const std::filesystem::path& file) {
  std::map<std::string, std::string> result;
  if (metadata.is_null()) return result;
  if (!metadata.is_object()) fail_at(file, "__metadata__ must be an object of strings");
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string()) fail_at(file, "__metadata__ entry '" + key + "' must be a string");
    result[key] = value.get<std::string>();
  }
  return result;
}

}  // namespace

std::string shape_text(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

SafetensorsHeader parse_safetensors_header(std::string_view prefix, uint64_t file_size,
                                           const std::filesystem::path& file) {
  if (file_size < 8 || prefix.size() < 8)
    fail_at(file, "truncated safetensors file: " + std::to_string(file_size) +
                      " bytes, shorter than the 8-byte header length");
  const uint64_t header_length = read_le64(prefix.data());
  if (header_length > file_size - 8)
    fail_at(file, "safetensors header length " + std::to_string(header_length) + " is beyond the file size " +
                      std::to_string(file_size) + " (truncated or not a safetensors file)");
  if (header_length > kMaxHeaderBytes)
    fail_at(file, "safetensors header length " + std::to_string(header_length) + " exceeds the 100 MB limit");
  if (prefix.size() < 8 + header_length)
    fail_at(file, "truncated safetensors header: " + std::to_string(prefix.size() - 8) + " of " +
                      std::to_string(header_length) + " bytes available");
  const std::string_view text = prefix.substr(8, header_length);

  // nlohmann keeps the last of duplicate keys silently; a duplicated tensor name must be refused.
  std::set<std::string> names;
  std::string duplicate;
  const auto watch_keys = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !names.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.begin(), text.end(), watch_keys);
  } catch (const nlohmann::json::exception& e) {
    fail_at(file, std::string("invalid JSON in safetensors header: ") + e.what());
  }
  if (!json.is_object()) fail_at(file, "safetensors header must be a JSON object");
  if (!duplicate.empty()) fail_at(file, "tensor '" + duplicate + "' appears twice in the safetensors header");

  SafetensorsHeader header;
  header.data_start = 8 + header_length;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") header.metadata = parse_metadata(entry, file);
    else header.tensors.push_back(parse_tensor_record(name, entry, file));
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorRecord& a, const TensorRecord& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });

  // As the reference implementation: tensors tile the data section exactly, without gaps or overlaps.
  const uint64_t data_size = file_size - header.data_start;
  uint64_t expected_begin = 0;
  for (const auto& record : header.tensors) {
    if (record.begin < expected_begin)
      fail_at(file, "tensor '" + record.name + "' overlaps the previous tensor (data_offsets begin " +
                        std::to_string(record.begin) + " < " + std::to_string(expected_begin) + ")");
    if (record.begin > expected_begin)
      fail_at(file, "gap in the data section before tensor '" + record.name + "' (data_offsets begin " +
                        std::to_string(record.begin) + ", expected " + std::to_string(expected_begin) + ")");
    if (record.end > data_size)
      fail_at(file, "tensor '" + record.name + "' data_offsets end " + std::to_string(record.end) +
                        " is beyond the data section of " + std::to_string(data_size) + " bytes (truncated file?)");
    expected_begin = record.end;
  }
  if (expected_begin != data_size)
    fail_at(file, "the data section has " + std::to_string(data_size) + " bytes but the header describes " +
                      std::to_string(expected_begin));
  return header;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->self_ = file;
  file->path_ = path;

  const int fd = open_regular_file(path);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const std::string problem = "cannot stat: " + errno_text();
    ::close(fd);
    fail_at(path, problem);
  }
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  if (size < 8) {
    ::close(fd);
    parse_safetensors_header({}, size, path);
  }
  // Private and writable so that an accidental in-place write copies a page instead of crashing;
  // MAP_NORESERVE keeps the kernel from charging the whole file as committed memory. Under strict
  // overcommit accounting that can fail, and a read-only mapping serves as well.
  void* mapping = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  if (mapping == MAP_FAILED) mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const std::string map_problem = mapping == MAP_FAILED ? "cannot memory-map: " + errno_text() : "";
  ::close(fd);
  if (mapping == MAP_FAILED) fail_at(path, map_problem);
  file->mapping_ = mapping;
  file->mapping_size_ = size;

  file->header_ = parse_safetensors_header(std::string_view(static_cast<const char*>(mapping), size), size, path);
  for (size_t i = 0; i < file->header_.tensors.size(); ++i) file->index_[file->header_.tensors[i].name] = i;
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(mapping_, mapping_size_);
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) > 0; }

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const auto found = index_.find(name);
  if (found == index_.end()) fail_at(path_, "no tensor named '" + name + "'");
  const TensorRecord& record = header_.tensors[found->second];
  char* data = static_cast<char*>(mapping_) + header_.data_start + record.begin;
  const auto options = at::TensorOptions().dtype(record.dtype).device(at::kCPU);
  // Kernels may assume element alignment; the rare misaligned tensor is copied instead of viewed.
  if (reinterpret_cast<uintptr_t>(data) % c10::elementSize(record.dtype) != 0) {
    at::Tensor copy = at::empty(record.shape, options);
    // An empty tensor has no storage: memcpy's null destination would be undefined even for 0 bytes.
    if (record.end > record.begin) std::memcpy(copy.data_ptr(), data, record.end - record.begin);
    return copy;
  }
  std::shared_ptr<const SafetensorsFile> keep_alive = self_.lock();
  return at::from_blob(data, record.shape, [keep_alive](void*) {}, options);
}

void SafetensorsFile::release_pages(const at::Tensor& view) const {
  const auto begin = reinterpret_cast<uintptr_t>(view.data_ptr());
  const uintptr_t end = begin + view.nbytes();
  const auto mapped = reinterpret_cast<uintptr_t>(mapping_);
  if (!view.is_contiguous() || begin < mapped || end > mapped + mapping_size_) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages: the neighbouring tensors' bytes on the first and last pages stay.
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") fail_at(path, "'__metadata__' cannot name a tensor");
    if (!names.insert(name).second) fail_at(path, "tensor '" + name + "' given twice");
    if (!tensor.defined()) fail_at(path, "tensor '" + name + "' is undefined");
    const uint64_t bytes = uint64_t(tensor.numel()) * tensor.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(tensor.scalar_type())},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  // The format recommends padding the header with spaces so that the data starts 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  AtomicFileWriter writer(path);
  writer.write(le64_bytes(header_text.size()));
  writer.write(header_text);
  for (const auto& [name, tensor] : tensors) {
    const at::Tensor bytes = tensor.to(at::kCPU).contiguous();
    writer.write(std::string_view(static_cast<const char*>(bytes.data_ptr()), bytes.numel() * bytes.element_size()));
  }
  writer.commit();
}

std::string safetensors_dtype_name(at::ScalarType dtype) {
  for (const auto& entry : kDtypes)
    if (entry.dtype == dtype) return entry.name;
  throw Error(std::string("safetensors cannot store dtype ") + c10::toString(dtype));
}

}  // namespace qtalign::io
