#include "model/bnb_checkpoint.h"

#include <fmt/format.h>

#include "io/error.h"

namespace qtalign::model {
namespace {

constexpr char kQuantStatePrefix[] = ".quant_state.bitsandbytes__";

// The stored 4-bit type of a weight: which quant_state entry it has.
std::optional<QuantType> stored_type(const TensorFiles& files, const std::string& weight_name) {
  for (const QuantType type : {QuantType::nf4, QuantType::fp4})
    if (files.count(weight_name + kQuantStatePrefix + quant_type_name(type))) return type;
  return std::nullopt;
}

const io::SafetensorsFile& file_of(const TensorFiles& files, const std::string& weight_name, const std::string& name) {
  const auto found = files.find(name);
  if (found == files.end())
    fail_at(files.at(weight_name)->path(), "4-bit weight '" + weight_name + "' has no '" + name + "' entry");
  return *found->second;
}

// A stored tensor after checking its dtype and element count.
at::Tensor entry(const TensorFiles& files, const std::string& weight_name, const std::string& name,
                 at::ScalarType dtype, int64_t numel) {
  const io::SafetensorsFile& file = file_of(files, weight_name, name);
  const at::Tensor tensor = file.tensor(name);
  if (tensor.scalar_type() != dtype || tensor.numel() != numel)
    fail_at(file.path(), fmt::format("'{}' holds {} {} values, expected {} {} values", name, tensor.numel(),
                                     io::safetensors_dtype_name(tensor.scalar_type()), numel,
                                     io::safetensors_dtype_name(dtype)));
  return tensor.reshape({numel});
}

io::Json quant_state(const TensorFiles& files, const std::string& weight_name, QuantType type) {
  const std::string name = weight_name + kQuantStatePrefix + quant_type_name(type);
  const io::SafetensorsFile& file = file_of(files, weight_name, name);
  const at::Tensor bytes = file.tensor(name);
  if (bytes.scalar_type() != at::kByte) fail_at(file.path(), "'" + name + "' must hold uint8 JSON bytes");
  const at::Tensor flat = bytes.contiguous().reshape({-1});
  const std::string text(reinterpret_cast<const char*>(flat.data_ptr<uint8_t>()), static_cast<size_t>(flat.numel()));
  const io::Json state = io::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!state.is_object()) fail_at(file.path(), "'" + name + "' is not a JSON object");
  return state;
}

template <typename T>
T state_field(const io::Json& state, const std::string& key, const std::string& name, const std::filesystem::path& file) {
  if (!state.contains(key)) fail_at(file, "quant_state of '" + name + "' has no '" + key + "'");
  try {
    return state[key].get<T>();
  } catch (const io::Json::exception&) {
    fail_at(file, "quant_state of '" + name + "' has an invalid '" + key + "': " + state[key].dump());
  }
}

}  // namespace

std::optional<QuantType> read_bnb_quantization_config(const io::Json& config, const std::filesystem::path& file) {
  if (!config.is_object() || !config.contains("quantization_config")) return std::nullopt;
  const io::Json& quantization = config["quantization_config"];
  if (!quantization.is_object()) fail_at(file, "quantization_config must be an object");
  const std::string method = quantization.value("quant_method", std::string("bitsandbytes"));
  if (method != "bitsandbytes")
    fail_at(file, "quantization_config: quant_method '" + method +
                      "' is not supported (qtalign reads bitsandbytes 4-bit checkpoints)");
  const auto flag = [&](const char* key) {
    return quantization.contains(key) && quantization[key].is_boolean() && quantization[key].get<bool>();
  };
  if (flag("load_in_8bit") || flag("_load_in_8bit"))
    fail_at(file, "quantization_config: 8-bit bitsandbytes checkpoints are not supported (only 4-bit nf4/fp4)");
  if (!flag("load_in_4bit") && !flag("_load_in_4bit"))
    fail_at(file, "quantization_config: neither load_in_4bit nor load_in_8bit is set");
  const std::string type = quantization.value("bnb_4bit_quant_type", std::string("fp4"));
  try {
    return parse_quant_type(type);
  } catch (const Error& e) {
    fail_at(file, std::string("quantization_config: bnb_4bit_quant_type: ") + e.what());
  }
}

bool stored_4bit(const TensorFiles& files, const std::string& weight_name) {
  return stored_type(files, weight_name).has_value();
}

std::vector<std::string> bnb_companion_names(const TensorFiles& files, const std::string& weight_name) {
  std::vector<std::string> names;
  for (const std::string suffix : {".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                                   ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"})
    if (files.count(weight_name + suffix)) names.push_back(weight_name + suffix);
  return names;
}

QuantizedWeight read_bnb_4bit(const TensorFiles& files, const std::string& weight_name, int64_t rows, int64_t columns) {
  const auto type = stored_type(files, weight_name);
  if (!type) fail_at(files.at(weight_name)->path(), "'" + weight_name + "' has no bitsandbytes quant_state entry");
  const std::filesystem::path& path = files.at(weight_name)->path();
  const io::Json state = quant_state(files, weight_name, *type);

  QuantizedWeight weight;
  weight.type = *type;
  weight.rows = rows;
  weight.columns = columns;
  const std::string declared = state_field<std::string>(state, "quant_type", weight_name, path);
  if (declared != quant_type_name(*type))
    fail_at(path, "quant_state of '" + weight_name + "' says quant_type '" + declared + "' under a bitsandbytes__" +
                      quant_type_name(*type) + " entry");
  const auto shape = state_field<std::vector<int64_t>>(state, "shape", weight_name, path);
  if (shape != std::vector<int64_t>{rows, columns})
    fail_at(path, fmt::format("4-bit weight '{}' has shape [{}] but config.json implies [{}, {}]", weight_name,
                              fmt::join(shape, ", "), rows, columns));
  weight.blocksize = state_field<int64_t>(state, "blocksize", weight_name, path);
  try {
    check_quant_blocksize(weight.blocksize);
  } catch (const Error& e) {
    fail_at(path, "'" + weight_name + "': " + e.what());
  }

  const int64_t count = rows * columns;
  const int64_t blocks = (count + weight.blocksize - 1) / weight.blocksize;
  weight.codes = entry(files, weight_name, weight_name, at::kByte, (count + 1) / 2);
  const at::Tensor quant_map = entry(files, weight_name, weight_name + ".quant_map", at::kFloat, 16);
  const auto& book = code_book(*type);
  if (!at::equal(quant_map.contiguous(), at::tensor(at::ArrayRef<float>(book.data(), book.size()))))
    fail_at(file_of(files, weight_name, weight_name + ".quant_map").path(),
            "'" + weight_name + ".quant_map' is not bitsandbytes' " + quant_type_name(*type) + " code book");

  if (!state.contains("nested_blocksize")) {
    weight.absmax = entry(files, weight_name, weight_name + ".absmax", at::kFloat, blocks);
    return weight;
  }
  const int64_t nested_blocksize = state_field<int64_t>(state, "nested_blocksize", weight_name, path);
  if (nested_blocksize <= 0) fail_at(path, "quant_state of '" + weight_name + "' has a non-positive nested_blocksize");
  const float offset = state_field<float>(state, "nested_offset", weight_name, path);
  const at::Tensor absmax_codes = entry(files, weight_name, weight_name + ".absmax", at::kByte, blocks);
  const at::Tensor nested_absmax = entry(files, weight_name, weight_name + ".nested_absmax", at::kFloat,
                                         (blocks + nested_blocksize - 1) / nested_blocksize);
  const at::Tensor nested_code = entry(files, weight_name, weight_name + ".nested_quant_map", at::kFloat, 256);
  weight.absmax = dequantize_nested_absmax(absmax_codes, nested_absmax, nested_code, nested_blocksize, offset);
  weight.double_quant = true;
  return weight;
}

}  // namespace qtalign::model
