#pragma once
// What every subcommand shares: threads, device and compute dtype, and what an interruption says.
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/compute_settings.h"
#include "model/quantization.h"

namespace qtalign::cli {

struct RuntimeOptions {
  int threads = 0;             // 0 = all cores
  std::string device = "cpu";  // cpu | cuda | cuda:N
  std::string dtype = "auto";  // auto | fp32 | bf16 | fp16
  std::string quantize = "none";  // none | nf4 | fp4: the decoder's linear weights in 4 bits
  int64_t quant_blocksize = 0;  // 0: not given (the default, 64)
  bool double_quant = false;  // the absmax values 8-bit quantized too (needs --quantize)
};

// A check of an option's value: a number of at least `minimum`, refused with "must be at least
// <minimum>" (CLI11's own range checks print their bound, a number of 309 digits).
CLI::Validator at_least(int64_t minimum);

// Throws Error when one of `options` was given on `command`: in the combination `why` describes it
// would have no effect, which the user should hear rather than find out from the results.
void refuse_options_without_effect(const CLI::App& command, const std::vector<std::string>& options,
                                   const std::string& why);

// Adds --tasks-dir, the directory of task files read beside the study's tasks (every command that
// takes --task names its tasks by it).
void add_tasks_dir_option(CLI::App* command, std::filesystem::path& tasks_dir);

// Adds --threads, --device, --dtype, --quantize, --quant-blocksize and --double-quant to a subcommand.
void add_runtime_options(CLI::App* command, RuntimeOptions& options);

// Sets libtorch's thread count (Debian's build starts with one; more threads than the hardware has
// only slow it down, so a larger --threads is capped with a warning) and returns the device.
at::Device apply_runtime_options(const RuntimeOptions& options);

// The device --device names: cpu, cuda or cuda:N; throws Error for anything else.
at::Device parse_device(const std::string& name);

// Parses a command's words ({"eval", "--model", ...}) with the options on `app`, as main parses argv
// (CLI::ParseError for words the options refuse).
void parse_command_words(CLI::App& app, const std::vector<std::string>& words);

// The compute dtype the options ask for on `device` ("auto" = bf16 where fast, else fp32).
at::ScalarType compute_dtype(const RuntimeOptions& options, at::Device device);

// The 4-bit quantization --quantize, --quant-blocksize and --double-quant ask for; throws Error for bad
// values and for --quant-blocksize or --double-quant without --quantize.
model::QuantizationOptions quantization_options(const RuntimeOptions& options);

// The compute settings the options ask for on `device` (this process's, from join_processes).
model::ComputeSettings compute_settings(const RuntimeOptions& options, at::Device device);

// Makes Ctrl-C (SIGINT) and SIGTERM end the program with one line: that it was interrupted, and the
// hint set for the running command (what was kept and how to resume). main calls it once.
void report_interruptions();

// What the interruption line says for the command running now; the first hint set stays (the
// outermost command's, when `run` runs stages in process).
void set_interrupt_hint(const std::string& hint);

}  // namespace qtalign::cli
