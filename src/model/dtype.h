#pragma once
// Compute dtypes: names users type and the default for a device.
#include <ATen/ATen.h>

#include <string>

namespace qtalign::model {

// The default compute dtype: bf16 on CUDA and on CPUs with AVX512-BF16, fp32 otherwise.
at::ScalarType default_compute_dtype(at::Device device);

// Parses "fp32" | "bf16" | "fp16" (also "float32", "bfloat16", "float16"); throws Error otherwise.
at::ScalarType parse_dtype(const std::string& name);

// The short name of a dtype: "fp32", "bf16", "fp16".
std::string dtype_name(at::ScalarType dtype);

}  // namespace qtalign::model
