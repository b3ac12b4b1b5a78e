// 4-bit dequantization alone, values per CPU second, with each instruction set this CPU runs the
// kernels with (model/cpu_dispatch.h): into oneDNN's packed bf16 layout, as a packed 4-bit layer
// does on every forward call (the time of PackedLinear::forward on one row less that of the same
// product from the weight packed dense), and into the plain layout in bf16 and fp32 (dequantize_4bit,
// which adds a copy of the result).
// Shapes: the 0.5B model's MLP projections (NF4, blocksize 64).
//
// Usage: bench_dequantize [--rounds 20] [--threads 1]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmark_setup.h"
#include "model/cpu_dispatch.h"
#include "model/packed_linear.h"
#include "model/quantization.h"

namespace {

using namespace qtalign;

// CPU seconds of one call of `run`, the mean of `rounds` after a first one (buffers allocated,
// primitives made).
double seconds_per_call(int64_t rounds, const std::function<void()>& run) {
  run();
  const double start = bench::cpu_seconds();
  for (int64_t round = 0; round < rounds; ++round) run();
  return (bench::cpu_seconds() - start) / static_cast<double>(rounds);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int64_t rounds = 20;
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string name = argv[i];
      if (name == "--rounds") rounds = std::stoll(argv[i + 1]);
      else if (name == "--threads") threads = std::stoi(argv[i + 1]);
      else throw std::runtime_error("unknown option " + name);
    }
    threads = bench::use_threads(threads);
    const c10::InferenceMode inference;
    at::manual_seed(1);
    std::printf("bench_dequantize: %ld rounds, %d threads, M values per CPU second\n", static_cast<long>(rounds),
                threads);
    std::printf("%-10s %-12s %12s %12s %12s\n", "set", "shape", "packed bf16", "plain bf16", "plain fp32");
    for (const auto& [out, in] : std::vector<std::pair<int64_t, int64_t>>{{2816, 1024}, {1024, 2816}}) {
      const auto weight = std::make_shared<const model::QuantizedWeight>(
          model::quantize_4bit(at::randn({out, in}) * 0.02, model::QuantType::nf4, 64, "w"));
      const model::PackedLinear packed(weight, at::Tensor(), at::kBFloat16);
      const model::PackedLinear dense(model::dequantize_4bit(*weight, at::kBFloat16), at::Tensor());
      const at::Tensor row = at::randn({1, in}).to(at::kBFloat16);
      for (const model::InstructionSet set : {model::InstructionSet::baseline, model::InstructionSet::avx2,
                                              model::InstructionSet::avx512}) {
        if (set > model::supported_instruction_set()) continue;
        const model::ForcedInstructionSet forced(set);
        const double product = seconds_per_call(rounds, [&] { dense.forward(row); });
        const double into_packed = seconds_per_call(rounds, [&] { packed.forward(row); }) - product;
        const double plain_bf16 = seconds_per_call(rounds, [&] { model::dequantize_4bit(*weight, at::kBFloat16); });
        const double plain_fp32 = seconds_per_call(rounds, [&] { model::dequantize_4bit(*weight, at::kFloat); });
        const double millions = static_cast<double>(weight->numel()) / 1e6;
        std::printf("%-10s %4ld x %-5ld %12.0f %12.0f %12.0f\n", model::instruction_set_name(set),
                    static_cast<long>(out), static_cast<long>(in), millions / into_packed, millions / plain_bf16, millions / plain_fp32);
      }
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_dequantize: %s\n", error.what());
    return 1;
  }
}
