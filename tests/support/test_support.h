#pragma once
// What every test program shares: where things are, scratch directories, running commands.
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "model/config.h"

namespace qtalign::testing {

// ../shared/data (the benchmark data beside the checkout).
std::filesystem::path shared_data_dir();
// The repository root.
std::filesystem::path source_dir();
// The qtalign executable built with the tests.
std::filesystem::path qtalign_binary();
// Debian's python3 (the one with python3-torch), for reference implementations.
std::string python();
// The device the model, eval, train and analysis tests compute on: QTALIGN_TEST_DEVICE (e.g. "cuda",
// as tools/gpu-check.sh sets it), else the CPU; throws when that device is not available.
at::Device test_device();

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// The file whose memory mapping in this process contains `address` (from /proc/self/maps), or an
// empty path when the address is not in a file mapping (e.g. heap memory).
std::filesystem::path mapped_file_containing(const void* address);

// Runs a shell command line and captures its output.
CommandResult run_command(const std::string& command_line);

// Runs a program (arguments[0], a path) with its output captured and the size of any file it writes
// limited to `max_file_bytes` (RLIMIT_FSIZE): a write past it kills the process with SIGXFSZ (exit
// code 128 + SIGXFSZ) as a kill at that exact point would, or with `ignore_sigxfsz` fails with EFBIG
// as on a full disk.
CommandResult run_with_file_size_limit(const std::vector<std::string>& arguments, uint64_t max_file_bytes,
                                       bool ignore_sigxfsz);

// A program (arguments[0], a path) started in the background with extra environment variables
// ("NAME=value", before the inherited ones), its output (stdout and stderr) to a file; killed
// (SIGKILL) and collected on destruction unless it was waited for.
struct BackgroundProcess {
  int pid = -1;

  BackgroundProcess(const std::vector<std::string>& arguments, const std::vector<std::string>& environment,
                    const std::filesystem::path& output);
  ~BackgroundProcess() { kill_now(); }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // The exit status, or -1 when it has not ended within `seconds` (then it is killed). The limit
  // only guards against a hang; nothing depends on how long the process takes.
  int wait(double seconds);

  void kill_now();
};

// The message of the qtalign::Error `action` throws; records a test failure when it throws none.
std::string error_of(const std::function<void()>& action);

// Single-quotes a string for the shell.
std::string shell_quote(const std::string& text);

// The number of lines of `text` ('\n' characters).
size_t line_count(const std::string& text);

// tiny_qwen2_config(vocab_size) widened to where the CPU fast paths apply (dense_linear, the fused
// kernels, packing: kOneDnnMinimumWidth): hidden 256, 4 heads of 64 (2 KV heads), intermediate 512.
model::ModelConfig wide_tiny_qwen2_config(int64_t vocab_size);

// The largest difference between `y` and `expected`, relative to the expectation's largest magnitude.
double relative_difference(const at::Tensor& y, const at::Tensor& expected);

}  // namespace qtalign::testing
