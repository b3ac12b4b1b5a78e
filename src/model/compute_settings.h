#pragma once
// Where and how a command computes: the device, the compute dtype, 4-bit loading and the thread
// count. Every typed run (evaluation, training, analyses) carries one, and renders it back as the
// command-line options that ask for it.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "io/options.h"
#include "model/checkpoint.h"
#include "model/quantization.h"

namespace qtalign::model {

struct ComputeSettings {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  QuantizationOptions quantization;
  int threads = 0;  // 0 = all cores (shared among the processes of a machine)
};

// The compute settings as the command line words them (--threads, --device, --dtype, --quantize,
// --quant-blocksize, --double-quant), before they are resolved on a device.
struct ComputeRequest {
  int threads = 0;                // 0 = all cores
  std::string device = "cpu";     // cpu | cuda | cuda:N
  std::string dtype = "auto";     // auto | fp32 | bf16 | fp16
  std::string quantize = "none";  // none | nf4 | fp4: the decoder's linear weights in 4 bits
  int64_t quant_blocksize = 0;    // 0: not given (the default, 64)
  bool double_quant = false;      // the absmax values 8-bit quantized too (needs --quantize)
};

// The runtime options, in their order, with the field of `request` (const or not) each reads and writes.
template <class Request, class Visit, io::IfSpec<Request, ComputeRequest> = 0>
void for_each_option(Request& request, Visit&& visit) {
  using io::option;
  visit(option("--threads", "CPU threads (0 = all cores)").at_least(0), request.threads);
  visit(option("--device", "cpu, cuda or cuda:N").shown(), request.device);
  visit(option("--dtype", "compute dtype: auto, fp32, bf16, fp16").shown(), request.dtype);
  visit(option("--quantize", "load the decoder's linear weights in 4 bits as bitsandbytes does: none, nf4 or fp4")
            .shown()
            .one_of({"none", "nf4", "fp4"}),
        request.quantize);
  visit(option("--quant-blocksize", "values per absmax block with --quantize (default: " +
                                        std::to_string(QuantizationOptions().blocksize) + ")")
            .one_of({"32", "64", "128", "256", "512", "1024", "2048", "4096"}),
        request.quant_blocksize);
  visit(option("--double-quant", "with --quantize, 8-bit quantize the absmax values too, as bitsandbytes' "
                                 "bnb_4bit_use_double_quant does"),
        request.double_quant);
}

// The device --device names: cpu, cuda or cuda:N; throws Error for anything else.
at::Device parse_device(const std::string& name);

// Sets libtorch's thread count (Debian's build starts with one; more threads than the hardware has
// only slow it down, so a larger --threads is capped with a warning) and returns the device asked for
// (Error for CUDA without a CUDA libtorch).
at::Device apply_threads_and_device(const ComputeRequest& request);

// The settings `request` asks for on `device` ("auto" dtype = bf16 where fast, else fp32); throws
// Error for bad values and for --quant-blocksize or --double-quant without --quantize.
ComputeSettings compute_settings(const ComputeRequest& request, at::Device device);

// The options model::load_model takes for these settings.
LoadOptions load_options(const ComputeSettings& settings);

// The command-line options that ask for these settings: --threads, --device, --dtype and, when
// quantizing, --quantize, --quant-blocksize and --double-quant.
std::vector<std::string> compute_arguments(const ComputeSettings& settings);

}  // namespace qtalign::model
