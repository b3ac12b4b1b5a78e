// libFuzzer target: load_lora_adapter on a PEFT adapter directory made from arbitrary bytes, split at
// the first kSeparator into adapter_config.json and adapter_model.safetensors (no separator: all of
// it is the config and the weights file is empty), against a tiny random qwen2 model. It must either
// throw qtalign::Error and leave the model without an adapter, or attach exactly the modules the
// config targets with fp32 A [r, in] and B [out, r].
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "io/error.h"
#include "model/lora.h"
#include "model/random_model.h"

namespace {

namespace fs = std::filesystem;
namespace model = qtalign::model;

constexpr std::string_view kSeparator = "\n--adapter_model.safetensors--\n";

const fs::path& adapter_dir() {
  static const fs::path dir = [] {
    fs::path path = fs::temp_directory_path() / ("qtalign_adapter_fuzz_" + std::to_string(getpid()));
    fs::create_directories(path);
    return path;
  }();
  return dir;
}

// The model is built once; every run leaves it without an adapter.
model::Model& tiny_model() {
  static model::Model tiny = model::make_random_model(model::tiny_qwen2_config(64), 1);
  return tiny;
}

// A plain write: the atomic writers fsync, which would cost most of each run.
void write_bytes(const fs::path& file, std::string_view bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void check_attached(model::Model& tiny, const model::LoraConfig& config) {
  size_t targeted = 0;
  model::for_each_linear(tiny, [&](const std::string& name, model::Linear& linear) {
    const bool expected = model::lora_targets_module(config, name);
    if (expected != static_cast<bool>(linear.lora)) __builtin_trap();
    if (!linear.lora) return;
    ++targeted;
    const auto& lora = *linear.lora;
    if (lora.a.scalar_type() != at::kFloat || lora.b.scalar_type() != at::kFloat) __builtin_trap();
    if (lora.a.sizes() != at::IntArrayRef({config.r, linear.weight.size(1)})) __builtin_trap();
    if (lora.b.sizes() != at::IntArrayRef({linear.weight.size(0), config.r})) __builtin_trap();
  });
  if (targeted == 0 || model::attached_lora(tiny).size() != targeted) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t split = bytes.find(kSeparator);
  const std::string_view config = bytes.substr(0, split);
  const std::string_view weights =
      split == std::string_view::npos ? std::string_view() : bytes.substr(split + kSeparator.size());
  write_bytes(adapter_dir() / "adapter_config.json", config);
  write_bytes(adapter_dir() / "adapter_model.safetensors", weights);

  model::Model& tiny = tiny_model();
  try {
    const model::LoraConfig loaded = model::load_lora_adapter(tiny, adapter_dir());
    check_attached(tiny, loaded);
    model::detach_lora(tiny);
  } catch (const qtalign::Error&) {
    if (!model::attached_lora(tiny).empty()) __builtin_trap();
  }
  return 0;
}
