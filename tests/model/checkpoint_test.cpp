#include "model/checkpoint.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/random_model.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

using testing::error_of;

namespace fs = std::filesystem;
using testing::TempDir;
using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

ModelConfig untied_config() {
  ModelConfig config = tiny_qwen2_config(50);
  config.tie_word_embeddings = false;
  return config;
}

// Every weight of a model by its Hugging Face name, read back independently of load_model.
Tensors stored_tensors(const fs::path& file) {
  const auto safetensors = io::SafetensorsFile::open(file);
  Tensors tensors;
  for (const auto& record : safetensors->header().tensors)
    tensors.emplace_back(record.name, safetensors->tensor(record.name).clone());
  return tensors;
}

void expect_same_weights(const Model& loaded, const Model& expected) {
  ASSERT_EQ(loaded.layers.size(), expected.layers.size());
  EXPECT_TRUE(at::equal(loaded.embed_tokens, expected.embed_tokens));
  EXPECT_TRUE(at::equal(loaded.norm, expected.norm));
  EXPECT_TRUE(at::equal(loaded.lm_head, expected.lm_head));
  for (size_t i = 0; i < loaded.layers.size(); ++i) {
    const DecoderLayer& a = loaded.layers[i];
    const DecoderLayer& b = expected.layers[i];
    EXPECT_TRUE(at::equal(a.input_layernorm, b.input_layernorm));
    EXPECT_TRUE(at::equal(a.post_attention_layernorm, b.post_attention_layernorm));
    for (const auto& [x, y] : {std::pair{&a.q_proj, &b.q_proj}, {&a.k_proj, &b.k_proj}, {&a.v_proj, &b.v_proj},
                               {&a.o_proj, &b.o_proj}, {&a.gate_proj, &b.gate_proj}, {&a.up_proj, &b.up_proj},
                               {&a.down_proj, &b.down_proj}}) {
      EXPECT_TRUE(at::equal(x->weight, y->weight));
      ASSERT_EQ(x->bias.defined(), y->bias.defined());
      if (x->bias.defined()) EXPECT_TRUE(at::equal(x->bias, y->bias));
    }
  }
}

Model converted(const Model& model, at::ScalarType dtype) {
  Model copy = model;
  copy.embed_tokens = model.embed_tokens.to(dtype);
  copy.norm = model.norm.to(dtype);
  copy.lm_head = model.config.tie_word_embeddings ? copy.embed_tokens : model.lm_head.to(dtype);
  for (auto& layer : copy.layers) {
    layer.input_layernorm = layer.input_layernorm.to(dtype);
    layer.post_attention_layernorm = layer.post_attention_layernorm.to(dtype);
  }
  for_each_linear(copy, [&](const std::string&, Linear& linear) {
    linear.weight = linear.weight.to(dtype);
    if (linear.bias.defined()) linear.bias = linear.bias.to(dtype);
  });
  return copy;
}

TEST(Checkpoint, SavesAndLoadsEveryWeightExactlyAsMappedViews) {
  TempDir dir;
  const Model model = make_random_model(tiny_qwen2_config(50), 7);
  save_model(model, dir.path(), at::kFloat);
  EXPECT_TRUE(fs::exists(dir / "config.json"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));

  const Tensors stored = stored_tensors(dir / "model.safetensors");
  EXPECT_EQ(stored.size(), 1 + 2 * 12 + 1u) << "embeddings, 12 per layer with q/k/v biases, final norm; tied lm_head";
  for (const auto& [name, tensor] : stored) EXPECT_NE(name, "lm_head.weight");
  const auto file = io::SafetensorsFile::open(dir / "model.safetensors");
  EXPECT_EQ(file->header().metadata.at("format"), "pt");

  const Model loaded = load_model(dir.path());
  expect_same_weights(loaded, model);
  EXPECT_TRUE(loaded.lm_head.is_same(loaded.embed_tokens));
  EXPECT_EQ(loaded.config.torch_dtype, "float32");
  EXPECT_EQ(model_config_to_json(loaded.config).dump(), [&] {
    ModelConfig expected = model.config;
    expected.torch_dtype = "float32";
    return model_config_to_json(expected).dump();
  }());
  // Weights already in the compute dtype are views of the mapped file, not copies.
  EXPECT_EQ(testing::mapped_file_containing(loaded.layers[1].down_proj.weight.data_ptr()), dir / "model.safetensors");
  EXPECT_EQ(testing::mapped_file_containing(loaded.embed_tokens.data_ptr()), dir / "model.safetensors");
  EXPECT_EQ(loaded.storage.size(), 1u);
}

TEST(Checkpoint, Bf16WeightsLoadZeroCopyInBf16AndConvertedOtherwise) {
  TempDir dir;
  const Model model = make_random_model(untied_config(), 8);
  save_model(model, dir.path(), at::kBFloat16);
  EXPECT_EQ(io::read_json_file(dir / "config.json")["torch_dtype"], "bfloat16");

  const Model as_bf16 = load_model(dir.path(), {at::kBFloat16});
  EXPECT_EQ(as_bf16.dtype(), at::kBFloat16);
  expect_same_weights(as_bf16, converted(model, at::kBFloat16));
  EXPECT_EQ(testing::mapped_file_containing(as_bf16.lm_head.data_ptr()), dir / "model.safetensors");
  EXPECT_EQ(testing::mapped_file_containing(as_bf16.layers[0].q_proj.bias.data_ptr()), dir / "model.safetensors");

  const Model as_fp32 = load_model(dir.path(), {at::kFloat});
  EXPECT_EQ(as_fp32.dtype(), at::kFloat);
  expect_same_weights(as_fp32, converted(converted(model, at::kBFloat16), at::kFloat));
  EXPECT_EQ(testing::mapped_file_containing(as_fp32.lm_head.data_ptr()), fs::path());
  EXPECT_TRUE(as_fp32.storage.empty());
}

TEST(Checkpoint, ShardsWithAnIndexAndReplacesAnEarlierLayout) {
  TempDir dir;
  const Model model = make_random_model(untied_config(), 9);
  const uint64_t embedding_bytes = 50 * 64 * 4;
  save_model(model, dir.path(), at::kFloat, embedding_bytes + 100);

  const io::Json index = io::read_json_file(dir / "model.safetensors.index.json");
  std::set<std::string> shard_files;
  uint64_t total = 0;
  for (const auto& [name, shard] : index["weight_map"].items()) shard_files.insert(shard.get<std::string>());
  for (const auto& shard : shard_files) {
    EXPECT_TRUE(fs::exists(dir / shard)) << shard;
    for (const auto& [name, tensor] : stored_tensors(dir / shard)) {
      EXPECT_EQ(index["weight_map"][name], shard);
      total += tensor.numel() * tensor.element_size();
    }
  }
  ASSERT_GE(shard_files.size(), 3u);
  std::set<std::string> expected_files;
  for (size_t i = 1; i <= shard_files.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i, shard_files.size());
    expected_files.insert(name);
  }
  EXPECT_EQ(shard_files, expected_files);
  EXPECT_EQ(index["weight_map"].size(), 2 + 2 * 12 + 1u);
  EXPECT_EQ(index["metadata"]["total_size"], total);
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));

  const Model loaded = load_model(dir.path());
  expect_same_weights(loaded, model);
  EXPECT_EQ(loaded.storage.size(), shard_files.size());

  save_model(model, dir.path(), at::kFloat);  // one file now: the shards must not linger
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir.path())) files.insert(entry.path().filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"config.json", "model.safetensors"}));
  expect_same_weights(load_model(dir.path()), model);
}

TEST(Checkpoint, IgnoresWhatTransformersIgnores) {
  TempDir dir;
  const Model model = make_random_model(tiny_qwen2_config(50), 10);
  save_model(model, dir.path(), at::kFloat);
  Tensors tensors = stored_tensors(dir / "model.safetensors");
  tensors.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({8}));
  tensors.emplace_back("lm_head.weight", at::zeros({50, 64}));  // tied: transformers uses the embeddings
  io::write_safetensors(dir / "model.safetensors", tensors);
  const Model loaded = load_model(dir.path());
  EXPECT_TRUE(at::equal(loaded.lm_head, model.embed_tokens));
}

// A saved checkpoint the bad-input tests break in one way each.
class BrokenCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override { save_model(make_random_model(untied_config(), 11), dir.path(), at::kFloat); }

  fs::path weights() const { return dir / "model.safetensors"; }
  void edit_config(const std::function<void(io::Json&)>& edit) {
    io::Json config = io::read_json_file(dir / "config.json");
    edit(config);
    io::write_json_file(dir / "config.json", config);
  }
  void edit_weights(const std::function<void(Tensors&)>& edit) {
    Tensors tensors = stored_tensors(weights());
    edit(tensors);
    io::write_safetensors(weights(), tensors);
  }
  // load_model must throw an Error that starts with the file and contains the problem.
  void expect_load_error(const fs::path& file, const std::string& problem, const LoadOptions& options = {}) {
    const std::string message = error_of([&] { load_model(dir.path(), options); });
    EXPECT_EQ(message.rfind(file.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << "expected '" << problem << "' in: " << message;
  }

  TempDir dir;
};

TEST_F(BrokenCheckpoint, MissingConfig) {
  fs::remove(dir / "config.json");
  expect_load_error(dir / "config.json", "no such file");
}

TEST_F(BrokenCheckpoint, NotADirectory) {
  const std::string message = error_of([&] { load_model(dir / "nowhere"); });
  EXPECT_EQ(message, (dir / "nowhere").string() + ": no such checkpoint directory");
}

TEST_F(BrokenCheckpoint, UnknownModelType) {
  edit_config([](io::Json& config) { config["model_type"] = "gemma"; });
  expect_load_error(dir / "config.json", "unsupported model_type 'gemma'");
}

TEST_F(BrokenCheckpoint, UnsupportedRopeScaling) {
  edit_config([](io::Json& config) { config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; });
  expect_load_error(dir / "config.json", "rope_scaling");
}

TEST_F(BrokenCheckpoint, NoWeights) {
  fs::remove(weights());
  expect_load_error(dir.path(), "no model.safetensors or model.safetensors.index.json");
}

TEST_F(BrokenCheckpoint, MissingShardInIndex) {
  save_model(make_random_model(untied_config(), 11), dir.path(), at::kFloat, 20000);
  const io::Json index = io::read_json_file(dir / "model.safetensors.index.json");
  const fs::path shard = dir / index["weight_map"]["model.norm.weight"].get<std::string>();
  fs::remove(shard);
  expect_load_error(shard, "shard listed in model.safetensors.index.json does not exist");
}

TEST_F(BrokenCheckpoint, IndexNamesATensorTheShardLacks) {
  save_model(make_random_model(untied_config(), 11), dir.path(), at::kFloat, 20000);
  io::Json index = io::read_json_file(dir / "model.safetensors.index.json");
  const std::string first = index["weight_map"]["model.embed_tokens.weight"];
  ASSERT_NE(index["weight_map"]["lm_head.weight"], first);
  index["weight_map"]["lm_head.weight"] = first;
  io::write_json_file(dir / "model.safetensors.index.json", index);
  expect_load_error(dir / first, "tensor 'lm_head.weight', listed in model.safetensors.index.json for this shard, is not in it");
}

TEST_F(BrokenCheckpoint, TruncatedShard) {
  const std::string bytes = io::read_file(weights());
  io::write_file_atomically(weights(), bytes.substr(0, bytes.size() - 1000));
  expect_load_error(weights(), "beyond the data section");
}

TEST_F(BrokenCheckpoint, MissingTensor) {
  edit_weights([](Tensors& tensors) {
    tensors.erase(std::find_if(tensors.begin(), tensors.end(), [](auto& t) { return t.first == "model.layers.1.self_attn.k_proj.bias"; }));
  });
  expect_load_error(weights(), "missing tensor 'model.layers.1.self_attn.k_proj.bias'");
}

TEST_F(BrokenCheckpoint, ExtraTensor) {
  edit_weights([](Tensors& tensors) { tensors.emplace_back("model.layers.2.mlp.up_proj.weight", at::ones({176, 64})); });
  expect_load_error(weights(), "unexpected tensor 'model.layers.2.mlp.up_proj.weight' (not part of a qwen2 model with 2 layers)");
}

TEST_F(BrokenCheckpoint, ShapeMismatchWithConfig) {
  edit_config([](io::Json& config) { config["intermediate_size"] = 200; });
  expect_load_error(weights(), "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [176, 64] but config.json implies [200, 64]");
}

TEST_F(BrokenCheckpoint, IntegerWeights) {
  edit_weights([](Tensors& tensors) { tensors.front().second = tensors.front().second.to(at::kInt); });
  expect_load_error(weights(), "has dtype I32; weights must be floating point");
}

TEST_F(BrokenCheckpoint, NonFiniteWeightsWhenChecked) {
  edit_weights([](Tensors& tensors) {
    for (auto& [name, tensor] : tensors)
      if (name == "model.layers.0.post_attention_layernorm.weight") tensor[5] = std::numeric_limits<float>::quiet_NaN();
  });
  EXPECT_NO_THROW(load_model(dir.path()));
  expect_load_error(weights(), "tensor 'model.layers.0.post_attention_layernorm.weight' contains NaN or infinite values",
                    {at::kFloat, at::kCPU, /*check_finite=*/true});
}

TEST_F(BrokenCheckpoint, OverflowToInfinityOnConversionWhenChecked) {
  edit_weights([](Tensors& tensors) { tensors.back().second[0][0] = 70000.0; });  // beyond fp16's range
  expect_load_error(weights(), "contains NaN or infinite values (after conversion to Half)", {at::kHalf, at::kCPU, true});
}

TEST_F(BrokenCheckpoint, ABillionLayersAreRefusedBeforeAnythingIsAllocated) {
  // Allocating 1e9 empty layers alone would take about 500 GB; the weights hold 2.
  edit_config([](io::Json& config) { config["num_hidden_layers"] = 1000000000; });
  expect_load_error(dir / "config.json",
                    "num_hidden_layers is 1000000000, but " + weights().string() + " holds weights for 2 layers");
}

}  // namespace
}  // namespace qtalign::model
