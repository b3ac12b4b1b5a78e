#pragma once
// Where and how a command computes: the device, the compute dtype, 4-bit loading and the thread
// count. Every typed run (evaluation, training, analyses) carries one, and renders it back as the
// command-line options that ask for it.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/quantization.h"

namespace qtalign::model {

struct ComputeSettings {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  QuantizationOptions quantization;
  int threads = 0;  // 0 = all cores (shared among the processes of a machine)
};

// The options model::load_model takes for these settings.
LoadOptions load_options(const ComputeSettings& settings);

// The command-line options that ask for these settings: --threads, --device, --dtype and, when
// quantizing, --quantize, --quant-blocksize and --double-quant.
std::vector<std::string> compute_arguments(const ComputeSettings& settings);

}  // namespace qtalign::model
