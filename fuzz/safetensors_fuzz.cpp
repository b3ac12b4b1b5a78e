// libFuzzer target: parse_safetensors_header on arbitrary bytes taken as a whole file. It must
// either throw qtalign::Error or return a header whose tensors tile the data section exactly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto header = qtalign::io::parse_safetensors_header(bytes, size, "fuzz.safetensors");
    uint64_t expected_begin = 0;
    for (const auto& tensor : header.tensors) {
      if (tensor.begin != expected_begin || tensor.end < tensor.begin) __builtin_trap();
      expected_begin = tensor.end;
    }
    if (header.data_start > size || header.data_start + expected_begin != size) __builtin_trap();
  } catch (const qtalign::Error&) {
  }
  return 0;
}
