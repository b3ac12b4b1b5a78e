#include "model/packed_linear.h"

#include <ATen/core/grad_mode.h>
#include <fmt/format.h>
#include <malloc.h>

#include <map>
#include <mutex>
#include <unordered_map>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>
#include <vector>

#include "io/error.h"
#include "model/dense_linear.h"
#include "model/model.h"

namespace qtalign::model {
namespace {

using dnnl::memory;

// A tensor's version counter, which in-place changes advance; inference tensors (made under
// c10::InferenceMode) keep none, and only their identity can tell.
int64_t version_of(const at::Tensor& tensor) { return tensor.is_inference() ? 0 : tensor._version(); }

memory::data_type onednn_type(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16: return memory::data_type::bf16;
    case at::kFloat: return memory::data_type::f32;
    default: throw Error(fmt::format("PackedLinear: no oneDNN matmul for {}", c10::toString(dtype)));
  }
}

// The plain layout of W^T [in, out] that W [out, in] row-major is: strides {1, in}.
memory::desc plain_desc(int64_t in, int64_t out, at::ScalarType dtype) {
  return memory::desc({in, out}, onednn_type(dtype), memory::dims{1, in});
}

// Where element index of dimension `dimension` lies in a blocked layout, apart from the other
// dimension's part: a blocked offset is the sum of one such part per dimension.
int64_t dimension_offset(const dnnl_memory_desc_t& desc, int dimension, int64_t index) {
  const dnnl_blocking_desc_t& blocking = desc.format_desc.blocking;
  int64_t offset = 0, inner_stride = 1, inner_size = 1;
  for (int block = blocking.inner_nblks - 1; block >= 0; --block) {
    if (blocking.inner_idxs[block] == dimension) {
      offset += (index / inner_size) % blocking.inner_blks[block] * inner_stride;
      inner_size *= blocking.inner_blks[block];
    }
    inner_stride *= blocking.inner_blks[block];
  }
  return offset + index / inner_size * blocking.strides[dimension];
}

// Offsets of a dimension's indices 0..size-1 in the layout.
std::vector<int64_t> dimension_offsets(const memory::desc& desc, int dimension, int64_t size) {
  if (desc.data.format_kind != dnnl_blocked)
    throw Error("PackedLinear: oneDNN picked a weight layout that is not blocked");
  std::vector<int64_t> offsets(static_cast<size_t>(size));
  for (int64_t index = 0; index < size; ++index)
    offsets[static_cast<size_t>(index)] = desc.data.offset0 + dimension_offset(desc.data, dimension, index);
  return offsets;
}

// The calling thread's buffer for a 4-bit layer dequantized into the packed layout, reused by the
// next layer so only one is ever dense.
void* packed_buffer(int64_t bytes, bool zeroed) {
  thread_local at::Tensor buffer;
  if (!buffer.defined() || buffer.numel() < bytes) buffer = at::empty({bytes}, at::TensorOptions().dtype(at::kByte));
  // Padding (rows or columns oneDNN's blocks add) must read as zeros.
  if (zeroed) buffer.narrow(0, 0, bytes).zero_();
  return buffer.data_ptr();
}

// `weight`, checked to be a CPU matrix.
const at::Tensor& cpu_matrix(const at::Tensor& weight) {
  if (!weight.defined() || !weight.device().is_cpu() || weight.dim() != 2)
    throw Error("PackedLinear: the weight must be a CPU matrix");
  return weight;
}

}  // namespace

struct PackedLinear::State {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  at::ScalarType dtype = at::kFloat;
  int64_t in = 0, out = 0;
  std::shared_ptr<const QuantizedWeight> quantized;  // 4-bit only: what was packed, to recognise it
  at::Tensor bias;  // as given (undefined: none)
  int64_t bias_version = 0;
  at::Tensor bias_data;  // contiguous
  memory::desc weights_desc;  // the packed layout of W^T [in, out]
  at::Tensor packed;          // dense only: bytes in that layout
  // 4-bit only: W's value (row, column) goes to element row_offsets[row] + column_offsets[column].
  std::vector<int64_t> row_offsets, column_offsets;
  bool padded = false;  // the layout holds elements no value of W maps to
  mutable std::mutex mutex;
  mutable std::map<int64_t, dnnl::matmul> primitives;  // by row count

  State(at::ScalarType type, int64_t in_features, int64_t out_features, const at::Tensor& b)
      : dtype(type), in(in_features), out(out_features), bias(b) {
    if (bias.defined()) {
      if (bias.scalar_type() != dtype && bias.scalar_type() != at::kFloat)
        throw Error(fmt::format("PackedLinear: a {} bias for a {} weight", c10::toString(bias.scalar_type()),
                                c10::toString(dtype)));
      bias_version = version_of(bias);
      bias_data = bias.contiguous();
    }
    // The layout oneDNN prefers for W^T; every row count's primitive then reads this one.
    weights_desc = primitive_desc(256, memory::desc({in, out}, onednn_type(dtype), memory::format_tag::any))
                       .weights_desc();
    const auto& padded_dims = weights_desc.data.padded_dims;
    padded = padded_dims[0] != in || padded_dims[1] != out;
  }

  dnnl::matmul::primitive_desc primitive_desc(int64_t rows, const memory::desc& weights) const {
    const memory::desc source({rows, in}, onednn_type(dtype), memory::format_tag::ab);
    const memory::desc destination({rows, out}, onednn_type(dtype), memory::format_tag::ab);
    if (!bias.defined()) return {dnnl::matmul::desc(source, weights, destination), engine};
    const memory::desc bias_desc({1, out}, onednn_type(bias.scalar_type()), memory::format_tag::ab);
    return {dnnl::matmul::desc(source, weights, bias_desc, destination), engine};
  }

  dnnl::matmul primitive(int64_t rows) const {
    const std::lock_guard<std::mutex> lock(mutex);
    auto found = primitives.find(rows);
    if (found == primitives.end())
      found = primitives.emplace(rows, dnnl::matmul(primitive_desc(rows, weights_desc))).first;
    return found->second;
  }
};

PackedLinear::PackedLinear(const at::Tensor& weight, const at::Tensor& bias)
    : state_(std::make_unique<State>(weight.scalar_type(), cpu_matrix(weight).size(1), weight.size(0), bias)) {
  State& state = *state_;
  const at::Tensor plain = weight.contiguous();
  state.packed = at::empty({static_cast<int64_t>(state.weights_desc.get_size())}, at::TensorOptions().dtype(at::kByte));
  memory source(plain_desc(state.in, state.out, state.dtype), state.engine, plain.data_ptr());
  memory destination(state.weights_desc, state.engine, state.packed.data_ptr());
  dnnl::stream stream(state.engine);
  dnnl::reorder(source, destination).execute(stream, source, destination);
  stream.wait();
}

PackedLinear::PackedLinear(std::shared_ptr<const QuantizedWeight> weight, const at::Tensor& bias, at::ScalarType dtype)
    : state_(std::make_unique<State>(dtype, weight->columns, weight->rows, bias)) {
  if (!weight->codes.device().is_cpu()) throw Error("PackedLinear: the 4-bit weight must be on the CPU");
  State& state = *state_;
  state.quantized = std::move(weight);
  // W's row is W^T's dimension 1, its column dimension 0.
  state.row_offsets = dimension_offsets(state.weights_desc, 1, state.out);
  state.column_offsets = dimension_offsets(state.weights_desc, 0, state.in);
}

PackedLinear::~PackedLinear() = default;

bool PackedLinear::serves(const at::Tensor& x, const Linear& layer) const {
  const State& state = *state_;
  const bool same_weight = state.quantized ? layer.quantized == state.quantized
                                           : !layer.quantized && !layer.weight.defined();
  const bool same_bias = layer.bias.defined() ? layer.bias.is_same(state.bias) &&
                                                    version_of(layer.bias) == state.bias_version
                                              : !state.bias.defined();
  // The packed product records no gradient; the packed weight needs none (training never packs).
  const bool no_gradient =
      !at::GradMode::is_enabled() || !(x.requires_grad() || (layer.bias.defined() && layer.bias.requires_grad()));
  return same_weight && same_bias && no_gradient && x.device().is_cpu() && x.scalar_type() == state.dtype &&
         x.dim() >= 1 && x.size(-1) == state.in;
}

at::Tensor PackedLinear::unpacked() const {
  const State& state = *state_;
  if (state.quantized) return dequantize_4bit(*state.quantized, state.dtype);
  at::Tensor weight = at::empty({state.out, state.in}, at::TensorOptions().dtype(state.dtype));
  memory source(state.weights_desc, state.engine, state.packed.data_ptr());
  memory destination(plain_desc(state.in, state.out, state.dtype), state.engine, weight.data_ptr());
  dnnl::stream stream(state.engine);
  dnnl::reorder(source, destination).execute(stream, source, destination);
  stream.wait();
  return weight;
}

int64_t PackedLinear::out_features() const { return state_->out; }

int64_t PackedLinear::in_features() const { return state_->in; }

at::Tensor PackedLinear::forward(const at::Tensor& x) const {
  const State& state = *state_;
  const at::Tensor input = x.contiguous();
  const int64_t rows = input.numel() / state.in;
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = state.out;
  at::Tensor y = at::empty(sizes, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (rows == 0) return y;
  void* weights = state.packed.defined() ? state.packed.data_ptr() : nullptr;
  if (!weights) {
    weights = packed_buffer(static_cast<int64_t>(state.weights_desc.get_size()), state.padded);
    dequantize_4bit_blocked(*state.quantized, state.dtype, weights, state.row_offsets.data(),
                            state.column_offsets.data());
  }
  const memory::data_type type = onednn_type(state.dtype);
  std::unordered_map<int, memory> arguments{
      {DNNL_ARG_SRC, memory({{rows, state.in}, type, memory::format_tag::ab}, state.engine, input.data_ptr())},
      {DNNL_ARG_WEIGHTS, memory(state.weights_desc, state.engine, weights)},
      {DNNL_ARG_DST, memory({{rows, state.out}, type, memory::format_tag::ab}, state.engine, y.data_ptr())}};
  if (state.bias.defined())
    arguments.emplace(DNNL_ARG_BIAS, memory({{1, state.out}, onednn_type(state.bias.scalar_type()), memory::format_tag::ab},
                                            state.engine, state.bias_data.data_ptr()));
  dnnl::stream stream(state.engine);
  state.primitive(rows).execute(stream, arguments);
  stream.wait();
  return y;
}

bool packing_pays(at::ScalarType dtype) { return dtype == at::kBFloat16 || dtype == at::kFloat; }

namespace {

// Packs a dense weight and releases it: the tensor is dropped, and where it views a mapped checkpoint
// file, that file's pages under it are handed back (dropping the view alone would leave them resident).
// A weight on the heap leaves a hole between the small tensors allocated beside it that the packed
// copies (64-byte aligned, so a little larger) do not fit: malloc_trim hands its pages back (qtalign
// keeps large blocks on the heap and trims only above 1 GiB, io/heap_policy.h).
std::shared_ptr<const PackedLinear> pack_and_release(Model& model, at::Tensor& weight, const at::Tensor& bias) {
  auto packed = std::make_shared<const PackedLinear>(weight, bias);
  for (const auto& file : model.storage) file->release_pages(weight);
  const bool last_reference = weight.storage().use_count() == 1;
  weight = at::Tensor();
  if (last_reference) ::malloc_trim(0);
  return packed;
}

}  // namespace

void pack_for_inference(Model& model) {
  const at::ScalarType dtype = model.dtype();
  if (!model.device().is_cpu() || !packing_pays(dtype)) return;
  const auto wide = [](int64_t out, int64_t in) { return out >= kOneDnnMinimumWidth && in >= kOneDnnMinimumWidth; };
  bool four_bit = false;
  for_each_linear(model, [&](const std::string&, Linear& linear) {
    four_bit = four_bit || linear.quantized;
    if (linear.packed || !wide(linear.out_features(), linear.in_features())) return;
    if (linear.quantized)
      linear.packed = std::make_shared<const PackedLinear>(linear.quantized, linear.bias, dtype);
    else if (linear.weight.scalar_type() == dtype)
      linear.packed = pack_and_release(model, linear.weight, linear.bias);
  });
  // The unembedding is packed only where it is a copy of its own: a 4-bit model keeps its one dense
  // copy (a packed second one would add half its memory), and a tied one is the embedding, which stays
  // (packing it too cost 0.09 GiB of peak memory on a 0.5B model and gained no speed: the scored
  // positions are few rows; BENCHMARKS.md).
  if (!four_bit && !model.packed_lm_head && !model.lm_head.is_same(model.embed_tokens) &&
      model.lm_head.scalar_type() == dtype && wide(model.lm_head.size(0), model.lm_head.size(1)))
    model.packed_lm_head = pack_and_release(model, model.lm_head, at::Tensor());
}

at::Tensor plain_weight(const Linear& layer) {
  if (layer.weight.defined() || !layer.packed) return layer.weight;
  return layer.packed->unpacked();
}

}  // namespace qtalign::model
