#pragma once
// Options every compute subcommand shares: threads, device and compute dtype.
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <string>

namespace qtalign::cli {

struct RuntimeOptions {
  int threads = 0;             // 0 = all cores
  std::string device = "cpu";  // cpu | cuda | cuda:N
  std::string dtype = "auto";  // auto | fp32 | bf16 | fp16
};

// Adds --threads, --device and --dtype to a subcommand.
void add_runtime_options(CLI::App* command, RuntimeOptions& options);

// Sets libtorch's thread count (Debian's build starts with one) and returns the device.
at::Device apply_runtime_options(const RuntimeOptions& options);

// The compute dtype the options ask for on `device` ("auto" = bf16 where fast, else fp32).
at::ScalarType compute_dtype(const RuntimeOptions& options, at::Device device);

}  // namespace qtalign::cli
