#pragma once
// Checkpoints saved already quantized by transformers + bitsandbytes ("-bnb-4bit" models). A 4-bit
// linear weight "<module>.weight" is stored as packed uint8 codes [ceil(n / 2), 1] with, beside it,
// "<module>.weight.absmax" (float32 per block, or uint8 with double quantization),
// "<module>.weight.quant_map" (the 16 code values), "<module>.weight.quant_state.bitsandbytes__<nf4|fp4>"
// (JSON as uint8 bytes: quant_type, blocksize, dtype, shape and, nested, nested_blocksize,
// nested_dtype, nested_offset) and, nested, "<module>.weight.nested_absmax" and
// "<module>.weight.nested_quant_map". config.json carries quantization_config (quant_method
// "bitsandbytes", load_in_4bit, bnb_4bit_quant_type, bnb_4bit_use_double_quant, ...).
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/quantization.h"

namespace qtalign::model {

// A checkpoint's files by the names of the tensors they hold.
using TensorFiles = std::map<std::string, std::shared_ptr<io::SafetensorsFile>>;

// The 4-bit type a config.json's quantization_config declares, or nothing when it has none. Throws
// Error naming the file for other quantization methods (GPTQ, AWQ, ...) and 8-bit bitsandbytes.
std::optional<QuantType> read_bnb_quantization_config(const io::Json& config, const std::filesystem::path& file);

// True when `weight_name` is stored 4-bit (its quant_state entry is present).
bool stored_4bit(const TensorFiles& files, const std::string& weight_name);

// The names of the entries that travel with a stored 4-bit weight (absmax, quant_map, ...).
std::vector<std::string> bnb_companion_names(const TensorFiles& files, const std::string& weight_name);

// Reads and checks a stored 4-bit weight that should have shape [rows, columns]; throws Error naming
// the file for a wrong shape, dtype, block size, quant_map or quant_state. The codes (and plain
// absmax) view the mapped file; double-quantized absmax values are dequantized as bitsandbytes does.
QuantizedWeight read_bnb_4bit(const TensorFiles& files, const std::string& weight_name, int64_t rows, int64_t columns);

}  // namespace qtalign::model
