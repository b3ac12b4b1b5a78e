#include "model/compute_settings.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "io/error.h"
#include "model/dtype.h"

namespace qtalign::model {
namespace {

at::ScalarType compute_dtype(const ComputeRequest& request, at::Device device) {
  if (request.dtype == "auto") return default_compute_dtype(device);
  const at::ScalarType dtype = parse_dtype(request.dtype);
  if (dtype == at::kHalf && !device.is_cuda()) throw Error("--dtype fp16 is supported on CUDA only");
  return dtype;
}

QuantizationOptions quantization_options(const ComputeRequest& request) {
  QuantizationOptions quantization;
  if (request.quant_blocksize != 0) quantization.blocksize = request.quant_blocksize;
  if (request.quantize == "none") {
    if (request.double_quant)
      throw Error("--double-quant needs --quantize nf4 or fp4 (it quantizes their absmax values)");
    if (request.quant_blocksize != 0)
      throw Error("--quant-blocksize needs --quantize nf4 or fp4 (it sizes their absmax blocks; without 4-bit "
                  "weights it would be ignored)");
    return quantization;
  }
  quantization.type = parse_quant_type(request.quantize);
  quantization.double_quant = request.double_quant;
  return quantization;
}

}  // namespace

at::Device parse_device(const std::string& name) {
  try {
    return at::Device(name);
  } catch (const std::exception&) {
    throw Error("--device: cannot parse '" + name + "' (expected cpu, cuda or cuda:N)");
  }
}

at::Device apply_threads_and_device(const ComputeRequest& request) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads = request.threads > 0 ? request.threads : hardware;
  if (threads > hardware) {
    std::fprintf(stderr, "qtalign: warning: --threads %d is more than the %d hardware threads; using %d\n", threads,
                 hardware, hardware);
    threads = hardware;
  }
  at::set_num_threads(threads);
  const at::Device device = parse_device(request.device);
  if (device.is_cuda() && !at::hasCUDA())
    throw Error("--device " + request.device + ": this qtalign was built against a libtorch without CUDA");
  return device;
}

ComputeSettings compute_settings(const ComputeRequest& request, at::Device device) {
  ComputeSettings settings;
  settings.device = device;
  settings.dtype = compute_dtype(request, device);
  settings.quantization = quantization_options(request);
  settings.threads = request.threads;
  return settings;
}

LoadOptions load_options(const ComputeSettings& settings) {
  LoadOptions options;
  options.dtype = settings.dtype;
  options.device = settings.device;
  options.quantization = settings.quantization;
  return options;
}

std::vector<std::string> compute_arguments(const ComputeSettings& settings) {
  std::vector<std::string> arguments = {"--threads", std::to_string(settings.threads), "--device",
                                        settings.device.str(), "--dtype", dtype_name(settings.dtype)};
  if (settings.quantization.type)
    arguments.insert(arguments.end(), {"--quantize", quant_type_name(*settings.quantization.type), "--quant-blocksize",
                                       std::to_string(settings.quantization.blocksize)});
  if (settings.quantization.double_quant) arguments.push_back("--double-quant");
  return arguments;
}

}  // namespace qtalign::model
