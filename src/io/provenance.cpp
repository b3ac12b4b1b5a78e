#include "io/provenance.h"

#include <ATen/Parallel.h>
#include <c10/util/hash.h>
#include <dlfcn.h>
#include <torch/csrc/api/include/torch/version.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <thread>

#include "io/atomic_file.h"
#include "io/error.h"

#ifndef QTALIGN_BUILD_VERSION
#define QTALIGN_BUILD_VERSION QTALIGN_VERSION
#endif

namespace qtalign::io {
namespace {

namespace fs = std::filesystem;

std::vector<std::string>& recorded_command_line() {
  static std::vector<std::string> arguments;
  return arguments;
}

// c10::sha1 only initialises its state for non-empty input.
std::string sha1_of(const std::string& bytes) {
  if (bytes.empty()) return "da39a3ee5e6b4b0d3255bfef95601890afd80709";
  return c10::sha1(bytes).str();
}

// The value of the first "key : value" line of a /proc-style file, or "" when there is none.
std::string field_of(const fs::path& file, const std::string& key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// The NVIDIA driver names each GPU in /proc/driver/nvidia/gpus/<bus id>/information, in bus order,
// which is CUDA's default device order.
std::string gpu_name(at::Device device) {
  std::vector<fs::path> gpus;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc/driver/nvidia/gpus", error)) gpus.push_back(entry.path());
  std::sort(gpus.begin(), gpus.end());
  const size_t index = device.has_index() ? static_cast<size_t>(device.index()) : 0;
  if (index >= gpus.size()) return "unknown";
  const std::string model = field_of(gpus[index] / "information", "Model");
  return model.empty() ? "unknown" : model;
}

// OpenBLAS reports its version and build when it is the BLAS loaded; otherwise libtorch's build
// configuration names the BLAS it was built against.
std::string blas_version() {
  using GetConfig = char* (*)();
  if (const auto get_config = reinterpret_cast<GetConfig>(::dlsym(RTLD_DEFAULT, "openblas_get_config")))
    return get_config();
  const std::string config = at::show_config();
  const size_t at = config.find("BLAS_INFO=");
  if (at == std::string::npos) return "unknown";
  return config.substr(at + 10, config.find_first_of(",\n", at) - at - 10);
}

std::vector<fs::path> safetensors_files(const fs::path& directory) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error))
    if (entry.path().extension() == ".safetensors" && entry.is_regular_file(error)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) fail_at(directory, "no .safetensors files to fingerprint");
  return files;
}

// The 8-byte length and the JSON header of a safetensors file.
std::string safetensors_header_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char length_bytes[8] = {};
  if (!in.read(length_bytes, 8)) fail_at(file, "cannot read the safetensors header");
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(length_bytes[i]);
  if (length > fs::file_size(file) - 8) fail_at(file, "safetensors header length beyond the file");
  std::string header(8 + length, '\0');
  std::copy(length_bytes, length_bytes + 8, header.begin());
  if (!in.read(header.data() + 8, static_cast<std::streamsize>(length))) fail_at(file, "cannot read the safetensors header");
  return header;
}

// SHA-1 of the concatenated SHA-1s of the file's 64 MiB chunks: every byte counts, memory stays bounded.
std::string chunked_sha1(const fs::path& file) {
  constexpr uintmax_t kChunk = uintmax_t(64) << 20;
  std::ifstream in(file, std::ios::binary);
  if (!in) fail_at(file, "cannot be read");
  // The buffer is no larger than the file: a small file does not pay for a 64 MiB allocation.
  std::string chunk(static_cast<size_t>(std::min(fs::file_size(file), kChunk)), '\0'), digests;
  while (!chunk.empty()) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<size_t>(in.gcount());
    if (got > 0) digests += sha1_of(got == chunk.size() ? chunk : chunk.substr(0, got));
    if (got < chunk.size()) break;
  }
  if (in.bad()) fail_at(file, "read failed");
  return sha1_of(digests);
}

}  // namespace

std::string file_sha1(const fs::path& file) { return sha1_of(read_file(file)); }

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void set_command_line(int argc, const char* const* argv) {
  recorded_command_line().assign(argv, argv + argc);
}

std::vector<std::string> command_line() { return recorded_command_line(); }

std::string qtalign_version() { return QTALIGN_BUILD_VERSION; }

Json software_versions() {
  return {{"qtalign", qtalign_version()}, {"libtorch", TORCH_VERSION}, {"blas", blas_version()}};
}

Json hardware(at::Device device) {
  Json record = {{"cpu", field_of("/proc/cpuinfo", "model name")},
                 {"hardware_threads", std::thread::hardware_concurrency()},
                 {"threads", at::get_num_threads()},
                 {"device", device.str()}};
  if (device.is_cuda()) record["gpu"] = gpu_name(device);
  return record;
}

Json run_provenance(at::Device device) {
  return {{"command_line", command_line()},
          {"software", software_versions()},
          {"hardware", hardware(device)},
          {"date", utc_timestamp()}};
}

Json weights_fingerprint(const fs::path& directory, bool full_content) {
  std::string listing;
  for (const fs::path& file : safetensors_files(directory)) {
    listing += file.filename().string() + '\0' + std::to_string(fs::file_size(file)) + '\0';
    listing += full_content ? chunked_sha1(file) : safetensors_header_bytes(file);
  }
  return {{"method", full_content ? "content" : "headers"}, {"sha1", sha1_of(listing)}};
}

}  // namespace qtalign::io
