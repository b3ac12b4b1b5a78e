#include "model/checkpoint.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>
#include <string_view>

#include "io/error.h"
#include "io/input_path.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/bnb_checkpoint.h"

namespace qtalign::model {
namespace {

namespace fs = std::filesystem;
using io::SafetensorsFile;

constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";
const std::regex kShardName(R"(model-\d{5}-of-\d{5}\.safetensors)");

// Calls fn(hugging_face_name, tensor, expected_shape) for every weight of the model, in the order
// Hugging Face's state dict lists them. ModelT is Model or const Model.
template <typename ModelT, typename Fn>
void for_each_weight(ModelT& model, Fn&& fn) {
  const ModelConfig& c = model.config;
  const int64_t q_size = c.num_attention_heads * c.head_dim;
  const int64_t kv_size = c.num_key_value_heads * c.head_dim;
  fn("model.embed_tokens.weight", model.embed_tokens, std::vector<int64_t>{c.vocab_size, c.hidden_size});
  for (size_t i = 0; i < model.layers.size(); ++i) {
    auto& layer = model.layers[i];
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    const auto projection = [&](const std::string& name, auto& linear, int64_t out, int64_t in, bool bias) {
      fn(prefix + name + ".weight", linear.weight, std::vector<int64_t>{out, in});
      if (bias) fn(prefix + name + ".bias", linear.bias, std::vector<int64_t>{out});
    };
    projection("self_attn.q_proj", layer.q_proj, q_size, c.hidden_size, c.attention_bias);
    projection("self_attn.k_proj", layer.k_proj, kv_size, c.hidden_size, c.attention_bias);
    projection("self_attn.v_proj", layer.v_proj, kv_size, c.hidden_size, c.attention_bias);
    projection("self_attn.o_proj", layer.o_proj, c.hidden_size, q_size, c.output_bias);
    if (c.qk_norm) {
      fn(prefix + "self_attn.q_norm.weight", layer.q_norm, std::vector<int64_t>{c.head_dim});
      fn(prefix + "self_attn.k_norm.weight", layer.k_norm, std::vector<int64_t>{c.head_dim});
    }
    projection("mlp.gate_proj", layer.gate_proj, c.intermediate_size, c.hidden_size, false);
    projection("mlp.up_proj", layer.up_proj, c.intermediate_size, c.hidden_size, false);
    projection("mlp.down_proj", layer.down_proj, c.hidden_size, c.intermediate_size, false);
    fn(prefix + "input_layernorm.weight", layer.input_layernorm, std::vector<int64_t>{c.hidden_size});
    fn(prefix + "post_attention_layernorm.weight", layer.post_attention_layernorm, std::vector<int64_t>{c.hidden_size});
    if (c.sandwich_norms) {
      fn(prefix + "pre_feedforward_layernorm.weight", layer.pre_feedforward_layernorm, std::vector<int64_t>{c.hidden_size});
      fn(prefix + "post_feedforward_layernorm.weight", layer.post_feedforward_layernorm,
         std::vector<int64_t>{c.hidden_size});
    }
  }
  fn("model.norm.weight", model.norm, std::vector<int64_t>{c.hidden_size});
  if (!c.tie_word_embeddings)
    fn("lm_head.weight", model.lm_head, std::vector<int64_t>{c.vocab_size, c.hidden_size});
}

// Tensors transformers itself skips when loading: rotary frequency buffers some older conversions
// saved, and a stored lm_head when the config ties it to the embeddings.
bool ignored_when_loading(const std::string& name, const ModelConfig& config) {
  const std::string inv_freq = ".rotary_emb.inv_freq";
  if (name.size() > inv_freq.size() && name.compare(name.size() - inv_freq.size(), inv_freq.size(), inv_freq) == 0)
    return true;
  return config.tie_word_embeddings && name == "lm_head.weight";
}

// Where each stored tensor lives.
struct WeightFiles {
  std::map<std::string, std::shared_ptr<SafetensorsFile>> by_tensor;
  fs::path listing;  // the file that should name every tensor: model.safetensors or the index
};

WeightFiles open_sharded(const fs::path& directory) {
  WeightFiles files;
  files.listing = directory / kIndexFile;
  const io::Json index = io::read_json_file(files.listing);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail_at(files.listing, "missing the 'weight_map' object");
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) fail_at(files.listing, "weight_map entry '" + name + "' must be a file name");
    const std::string shard_name = shard.get<std::string>();
    if (shard_name.empty() || shard_name.find('/') != std::string::npos || shard_name == "." || shard_name == "..")
      fail_at(files.listing, "weight_map entry '" + name + "' names '" + shard_name + "', not a file in the directory");
    auto& file = shards[shard_name];
    if (!file) {
      const fs::path path = directory / shard_name;
      if (!io::input_exists(path)) fail_at(path, std::string("shard listed in ") + kIndexFile + " does not exist");
      file = SafetensorsFile::open(path);
    }
    if (!file->contains(name))
      fail_at(file->path(), "tensor '" + name + "', listed in " + kIndexFile + " for this shard, is not in it");
    files.by_tensor[name] = file;
  }
  for (const auto& [shard_name, file] : shards)
    for (const auto& record : file->header().tensors)
      if (!files.by_tensor.count(record.name))
        fail_at(file->path(), "tensor '" + record.name + "' is not listed in " + kIndexFile);
  return files;
}

WeightFiles open_weight_files(const fs::path& directory) {
  if (io::input_exists(directory / kSingleFile)) {
    WeightFiles files;
    files.listing = directory / kSingleFile;
    const auto file = SafetensorsFile::open(files.listing);
    for (const auto& record : file->header().tensors) files.by_tensor[record.name] = file;
    return files;
  }
  if (io::input_exists(directory / kIndexFile)) return open_sharded(directory);
  if (io::input_exists(directory / "pytorch_model.bin") || io::input_exists(directory / "pytorch_model.bin.index.json"))
    fail_at(directory, "only safetensors weights are supported (found pytorch_model.bin); convert the checkpoint");
  fail_at(directory, std::string("no ") + kSingleFile + " or " + kIndexFile);
}

// How many decoder layers the stored names cover: one more than the highest N of "model.layers.N.".
int64_t count_stored_layers(const WeightFiles& files) {
  constexpr std::string_view kPrefix = "model.layers.";
  int64_t layers = 0;
  for (const auto& [name, file] : files.by_tensor) {
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    const size_t end = name.find('.', kPrefix.size());
    const std::string index = name.substr(kPrefix.size(), end - kPrefix.size());
    if (index.empty() || index.size() > 9 || index.find_first_not_of("0123456789") != std::string::npos) continue;
    layers = std::max<int64_t>(layers, std::stoll(index) + 1);
  }
  return layers;
}

// Drops a memory-mapped tensor's pages from the resident set once it has been consumed; the file stays
// mapped (pages a neighbour shares are kept).
void release_pages(const at::Tensor& mapped) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(mapped.data_ptr());
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + mapped.nbytes()) / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

// A linear weight [rows, columns] in 4 bits: read as bitsandbytes stored it, or quantized here from the
// stored floating-point weight (its absmax double-quantized when asked), whose pages are released right after.
QuantizedWeight load_4bit(const WeightFiles& files, const std::string& name, const std::vector<int64_t>& shape,
                          const LoadOptions& options) {
  QuantizedWeight weight;
  if (stored_4bit(files.by_tensor, name)) {
    weight = read_bnb_4bit(files.by_tensor, name, shape[0], shape[1]);
  } else {
    const auto& file = files.by_tensor.at(name);
    const at::Tensor stored = file->tensor(name);
    try {
      weight = quantize_4bit(stored, *options.quantization.type, options.quantization.blocksize, name);
      if (options.quantization.double_quant) double_quantize_absmax(weight);
    } catch (const Error& e) {
      fail_at(file->path(), e.what());
    }
    release_pages(stored);
  }
  weight.codes = weight.codes.to(options.device);
  weight.absmax = weight.absmax.to(options.device);
  return weight;
}

// The weight in the compute dtype and device; a view of the mapped file when nothing changes.
at::Tensor to_compute(const at::Tensor& stored, const LoadOptions& options) {
  if (stored.scalar_type() == options.dtype && options.device.is_cpu()) return stored;
  return stored.to(options.device, options.dtype);
}

std::string hugging_face_dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: throw Error(std::string("checkpoints store float32, bfloat16 or float16 weights, not ") + c10::toString(dtype));
  }
}

}  // namespace

Model load_model(const fs::path& directory, const LoadOptions& options) {
  io::require_directory(directory, "checkpoint directory");
  Model model;
  model.config = read_model_config(directory / "config.json");
  const WeightFiles files = open_weight_files(directory);
  // Before anything is sized by the config: a config.json claiming more layers than the weights hold
  // (say 1e9) must not allocate them.
  const int64_t stored_layers = count_stored_layers(files);
  if (model.config.num_hidden_layers > stored_layers)
    fail_at(directory / "config.json", fmt::format("num_hidden_layers is {}, but {} holds weights for {} layers",
                                                   model.config.num_hidden_layers, files.listing.string(), stored_layers));
  model.layers.resize(model.config.num_hidden_layers);

  // Linear weights held in 4 bits: those stored so, and all of them under --quantize.
  const auto stored_type =
      read_bnb_quantization_config(io::read_json_file(directory / "config.json"), directory / "config.json");
  if (stored_type && options.quantization.type && *stored_type != *options.quantization.type)
    fail_at(directory / "config.json", "the checkpoint is stored " + quant_type_name(*stored_type) +
                                           "-quantized; it cannot be quantized to " +
                                           quant_type_name(*options.quantization.type));
  if (options.quantization.type) check_quant_blocksize(options.quantization.blocksize);
  std::map<std::string, Linear*> four_bit;  // weight name -> its layer
  for_each_linear(model, [&](const std::string& module, Linear& linear) {
    if (options.quantization.type || stored_4bit(files.by_tensor, module + ".weight")) four_bit[module + ".weight"] = &linear;
  });

  // Every check that needs only the headers comes before any conversion work.
  std::set<std::string> expected;
  for_each_weight(model, [&](const std::string& name, at::Tensor&, const std::vector<int64_t>& shape) {
    expected.insert(name);
    if (stored_4bit(files.by_tensor, name)) {  // read_bnb_4bit checks these entries as it reads them
      for (const std::string& companion : bnb_companion_names(files.by_tensor, name)) expected.insert(companion);
      return;
    }
    const auto found = files.by_tensor.find(name);
    if (found == files.by_tensor.end()) fail_at(files.listing, "missing tensor '" + name + "'");
    const auto& header = found->second->header();
    const auto record = std::find_if(header.tensors.begin(), header.tensors.end(),
                                     [&](const io::TensorRecord& r) { return r.name == name; });
    if (record->shape != shape)
      fail_at(found->second->path(), "tensor '" + name + "' has shape " + io::shape_text(record->shape) +
                                         " but config.json implies " + io::shape_text(shape));
    if (!at::isFloatingType(record->dtype))
      fail_at(found->second->path(), "tensor '" + name + "' has dtype " + io::safetensors_dtype_name(record->dtype) +
                                         "; weights must be floating point");
  });
  for (const auto& [name, file] : files.by_tensor)
    if (!expected.count(name) && !ignored_when_loading(name, model.config))
      fail_at(file->path(), "unexpected tensor '" + name + "' (not part of a " + model.config.model_type +
                                " model with " + std::to_string(model.config.num_hidden_layers) + " layers)");

  std::set<const SafetensorsFile*> viewed;
  bool read_stored_4bit = false;
  for_each_weight(model, [&](const std::string& name, at::Tensor& slot, const std::vector<int64_t>& shape) {
    if (const auto linear = four_bit.find(name); linear != four_bit.end()) {
      read_stored_4bit = read_stored_4bit || stored_4bit(files.by_tensor, name);
      auto weight = std::make_shared<QuantizedWeight>(load_4bit(files, name, shape, options));
      model.quantization = {weight->type, weight->blocksize, weight->double_quant};
      linear->second->quantized = std::move(weight);
      return;
    }
    const auto& file = files.by_tensor.at(name);
    const at::Tensor stored = file->tensor(name);
    slot = to_compute(stored, options);
    if (options.check_finite && !at::isfinite(slot).all().item<bool>())
      fail_at(file->path(), "tensor '" + name + "' contains NaN or infinite values" +
                                (slot.scalar_type() != stored.scalar_type() ? " (after conversion to " +
                                                                                  std::string(c10::toString(options.dtype)) + ")"
                                                                            : ""));
    if (slot.is_same(stored) && viewed.insert(file.get()).second) model.storage.push_back(file);
  });
  // Stored 4-bit codes view the mapped files.
  if (read_stored_4bit)
    for (const auto& [name, file] : files.by_tensor)
      if (viewed.insert(file.get()).second) model.storage.push_back(file);
  if (model.config.tie_word_embeddings) model.lm_head = model.embed_tokens;
  return model;
}

void save_model(const Model& model, const fs::path& directory, at::ScalarType disk_dtype, uint64_t max_shard_bytes) {
  if (model.quantization.type)
    throw Error("cannot save " + directory.string() + ": the model's weights are " +
                quant_type_name(*model.quantization.type) + "-quantized; save the original checkpoint instead");
  if (static_cast<int64_t>(model.layers.size()) != model.config.num_hidden_layers)
    throw Error(fmt::format("cannot save {}: the model has {} layers, its config says {}", directory.string(),
                            model.layers.size(), model.config.num_hidden_layers));
  std::map<std::string, at::Tensor> weights;
  for_each_weight(model, [&](const std::string& name, const at::Tensor& tensor, const std::vector<int64_t>&) {
    if (!tensor.defined())  // pack_for_inference released it: inference only
      throw Error("cannot save " + directory.string() + ": '" + name + "' was packed for inference");
    weights.emplace(name, tensor);
  });
  save_weights(model.config, directory, disk_dtype,
               [&](const std::string& name, const std::vector<int64_t>&) { return weights.at(name); }, max_shard_bytes);
}

void visit_weights(Model& model,
                   const std::function<void(const std::string&, at::Tensor&, const std::vector<int64_t>&)>& fn) {
  for_each_weight(model, fn);
}

void save_weights(const ModelConfig& model_config, const fs::path& directory, at::ScalarType disk_dtype,
                  const WeightSource& weight, uint64_t max_shard_bytes) {
  ModelConfig config = model_config;
  config.torch_dtype = hugging_face_dtype_name(disk_dtype);
  Model layout;
  layout.config = config;
  layout.layers.resize(static_cast<size_t>(config.num_hidden_layers));

  // Shards as transformers cuts them: in order, a new one when the next tensor would overflow.
  using Entry = std::pair<std::string, std::vector<int64_t>>;
  std::vector<std::vector<Entry>> shards(1);
  uint64_t shard_bytes = 0, total_bytes = 0;
  for_each_weight(layout, [&](const std::string& name, const at::Tensor&, const std::vector<int64_t>& shape) {
    uint64_t bytes = c10::elementSize(disk_dtype);
    for (const int64_t size : shape) bytes *= static_cast<uint64_t>(size);
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(name, shape);
    shard_bytes += bytes;
    total_bytes += bytes;
  });
  layout.layers.clear();

  std::error_code error;
  fs::create_directories(directory, error);
  if (error) fail_at(directory, "cannot create the checkpoint directory: " + error.message());
  std::set<std::string> written;
  io::Json weight_map = io::Json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string file_name =
        shards.size() == 1 ? kSingleFile : fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
    // Converted one shard at a time, so saving never holds more than a shard's worth of copies.
    std::vector<std::pair<std::string, at::Tensor>> converted;
    for (const auto& [name, shape] : shards[i]) {
      const at::Tensor tensor = weight(name, shape);
      if (!tensor.defined() || tensor.sizes() != at::IntArrayRef(shape))
        throw Error(fmt::format("cannot save {}: weight '{}' has shape {}, the config implies {}", directory.string(),
                                name, tensor.defined() ? io::shape_text(tensor.sizes()) : "(undefined)", io::shape_text(shape)));
      converted.emplace_back(name, tensor.to(disk_dtype));
      weight_map[name] = file_name;
    }
    io::write_safetensors(directory / file_name, converted, {{"format", "pt"}});
    written.insert(file_name);
  }
  if (shards.size() > 1) {
    io::write_json_file(directory / kIndexFile,
                        {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}});
    written.insert(kIndexFile);
  }
  // Weights of an earlier save in the other layout would shadow or confuse the new ones.
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    const bool weights = name == kSingleFile || name == kIndexFile || std::regex_match(name, kShardName);
    if (weights && !written.count(name)) fs::remove(entry.path());
  }
  io::write_json_file(directory / "config.json", model_config_to_json(config));
}

}  // namespace qtalign::model
