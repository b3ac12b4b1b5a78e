#include "cli/common.h"

#include <ATen/Parallel.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "io/error.h"
#include "model/dtype.h"

namespace qtalign::cli {
namespace {

// The interruption line, composed before any signal can arrive: a handler may only write() it.
char interrupt_message[2048] =
    "\nqtalign: interrupted; outputs are written whole or not at all, so none is half-written\n";

void on_interrupt(int signal_number) {
  const ssize_t ignored = ::write(STDERR_FILENO, interrupt_message, std::strlen(interrupt_message));
  (void)ignored;
  // Dies of the signal as it would have, so callers see the same status.
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

}  // namespace

CLI::Validator at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& input) {
        double value = 0;
        // NaN compares false: refused too.
        if (CLI::detail::lexical_cast(input, value) && value >= static_cast<double>(minimum)) return std::string();
        return "must be at least " + std::to_string(minimum) + ", not " + input;
      },
      "at least " + std::to_string(minimum));
}

void refuse_options_without_effect(const CLI::App& command, const std::vector<std::string>& options,
                                   const std::string& why) {
  for (const std::string& option : options)
    if (command.count(option) > 0) throw Error(option + " has no effect here: " + why);
}

void add_tasks_dir_option(CLI::App* command, std::filesystem::path& tasks_dir) {
  command->add_option("--tasks-dir", tasks_dir,
                      "task files (*.json) beside the study's tasks (default: $QTALIGN_TASKS, then <data-dir>/tasks)");
}

void add_runtime_options(CLI::App* command, RuntimeOptions& options) {
  command->add_option("--threads", options.threads, "CPU threads (0 = all cores)")
      ->check(at_least(0));
  command->add_option("--device", options.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--dtype", options.dtype, "compute dtype: auto, fp32, bf16, fp16")
      ->capture_default_str();
  command->add_option("--quantize", options.quantize,
                      "load the decoder's linear weights in 4 bits as bitsandbytes does: none, nf4 or fp4")
      ->check(CLI::IsMember({"none", "nf4", "fp4"}))
      ->capture_default_str();
  command->add_option("--quant-blocksize", options.quant_blocksize,
                      "values per absmax block with --quantize (default: " +
                          std::to_string(model::QuantizationOptions().blocksize) + ")")
      ->check(CLI::IsMember({32, 64, 128, 256, 512, 1024, 2048, 4096}));
  command->add_flag("--double-quant", options.double_quant,
                    "with --quantize, 8-bit quantize the absmax values too, as bitsandbytes' "
                    "bnb_4bit_use_double_quant does");
}

at::Device apply_runtime_options(const RuntimeOptions& options) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads = options.threads > 0 ? options.threads : hardware;
  if (threads > hardware) {
    std::fprintf(stderr, "qtalign: warning: --threads %d is more than the %d hardware threads; using %d\n", threads,
                 hardware, hardware);
    threads = hardware;
  }
  at::set_num_threads(threads);
  const at::Device device = parse_device(options.device);
  if (device.is_cuda() && !at::hasCUDA())
    throw Error("--device " + options.device + ": this qtalign was built against a libtorch without CUDA");
  return device;
}

at::Device parse_device(const std::string& name) {
  try {
    return at::Device(name);
  } catch (const std::exception&) {
    throw Error("--device: cannot parse '" + name + "' (expected cpu, cuda or cuda:N)");
  }
}

void parse_command_words(CLI::App& app, const std::vector<std::string>& words) {
  app.require_subcommand(1);
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 consumes from the back
  app.parse(reversed);
}

at::ScalarType compute_dtype(const RuntimeOptions& options, at::Device device) {
  if (options.dtype == "auto") return model::default_compute_dtype(device);
  const at::ScalarType dtype = model::parse_dtype(options.dtype);
  if (dtype == at::kHalf && !device.is_cuda()) throw Error("--dtype fp16 is supported on CUDA only");
  return dtype;
}

model::QuantizationOptions quantization_options(const RuntimeOptions& options) {
  model::QuantizationOptions quantization;
  if (options.quant_blocksize != 0) quantization.blocksize = options.quant_blocksize;
  if (options.quantize == "none") {
    if (options.double_quant)
      throw Error("--double-quant needs --quantize nf4 or fp4 (it quantizes their absmax values)");
    if (options.quant_blocksize != 0)
      throw Error("--quant-blocksize needs --quantize nf4 or fp4 (it sizes their absmax blocks; without 4-bit "
                  "weights it would be ignored)");
    return quantization;
  }
  quantization.type = model::parse_quant_type(options.quantize);
  quantization.double_quant = options.double_quant;
  return quantization;
}

model::ComputeSettings compute_settings(const RuntimeOptions& options, at::Device device) {
  model::ComputeSettings settings;
  settings.device = device;
  settings.dtype = compute_dtype(options, device);
  settings.quantization = quantization_options(options);
  settings.threads = options.threads;
  return settings;
}

void report_interruptions() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

void set_interrupt_hint(const std::string& hint) {
  // `run` sets its hint before running its stages in process; a stage's own hint would mislead.
  static bool set = false;
  if (set) return;
  set = true;
  std::snprintf(interrupt_message, sizeof interrupt_message, "\nqtalign: interrupted; %s\n", hint.c_str());
}

}  // namespace qtalign::cli
