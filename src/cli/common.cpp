#include "cli/common.h"

#include <ATen/Parallel.h>

#include <thread>

#include "io/error.h"
#include "model/dtype.h"

namespace qtalign::cli {

void add_runtime_options(CLI::App* command, RuntimeOptions& options) {
  command->add_option("--threads", options.threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--device", options.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--dtype", options.dtype, "compute dtype: auto, fp32, bf16, fp16")
      ->capture_default_str();
}

at::Device apply_runtime_options(const RuntimeOptions& options) {
  const int threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(threads);
  at::Device device(at::kCPU);
  try {
    device = at::Device(options.device);
  } catch (const std::exception&) {
    throw Error("--device: cannot parse '" + options.device + "' (expected cpu, cuda or cuda:N)");
  }
  if (device.is_cuda() && !at::hasCUDA())
    throw Error("--device " + options.device + ": this qtalign was built against a libtorch without CUDA");
  return device;
}

at::ScalarType compute_dtype(const RuntimeOptions& options, at::Device device) {
  if (options.dtype == "auto") return model::default_compute_dtype(device);
  const at::ScalarType dtype = model::parse_dtype(options.dtype);
  if (dtype == at::kHalf && !device.is_cuda()) throw Error("--dtype fp16 is supported on CUDA only");
  return dtype;
}

}  // namespace qtalign::cli
