#include "model/dtype.h"

#include <fstream>
#include <string>

#include "io/error.h"

namespace qtalign::model {
namespace {

// The kernel reports the CPU's instruction-set extensions in /proc/cpuinfo's flags.
bool cpu_has_avx512_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("flags", 0) == 0) return line.find(" avx512_bf16") != std::string::npos;
  return false;
}

}  // namespace

at::ScalarType default_compute_dtype(at::Device device) {
  if (device.is_cuda()) return at::kBFloat16;
  return cpu_has_avx512_bf16() ? at::kBFloat16 : at::kFloat;
}

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32" || name == "float") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  if (name == "fp16" || name == "float16" || name == "half") return at::kHalf;
  throw Error("unknown dtype '" + name + "' (expected fp32, bf16 or fp16)");
}

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "fp32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return c10::toString(dtype);
  }
}

}  // namespace qtalign::model
