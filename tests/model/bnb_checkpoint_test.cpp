// 4-bit models against tests/reference/bnb_reference.py, an independent torch implementation of
// bitsandbytes' quantize_4bit and of transformers' bitsandbytes checkpoint layout: the codes qtalign
// makes at load time equal the reference's bit for bit, its NF4/FP4 logits equal the logits of the
// reference's dequantized weights, and checkpoints the reference writes in the "-bnb-4bit" layout
// (with and without double quantization) load and compute the same. Double quantization at load time
// (--double-quant) gives the reference's nested absmax values bit for bit.
#include "model/bnb_checkpoint.h"

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <iostream>

#include "io/error.h"
#include "io/json_file.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

namespace fs = std::filesystem;

// A tiny fp32 checkpoint and the reference's two quantized versions of it.
struct Prepared {
  testing::TempDir dir;
  fs::path original() const { return dir / "original"; }
  fs::path dequantized() const { return dir / "dequantized"; }
  fs::path bnb() const { return dir / "bnb"; }
};

void prepare(const Prepared& prepared, const std::string& type, int64_t blocksize, bool double_quant) {
  const Model model = make_random_model(tiny_qwen2_config(97), 11);
  save_model(model, prepared.original(), at::kFloat);
  const testing::CommandResult run = testing::run_command(
      testing::python() + " " + testing::shell_quote((testing::source_dir() / "tests/reference/bnb_reference.py").string()) +
      " quantize --model " + testing::shell_quote(prepared.original().string()) + " --quant-type " + type +
      " --blocksize " + std::to_string(blocksize) + " --dequantized " +
      testing::shell_quote(prepared.dequantized().string()) + " --bnb " + testing::shell_quote(prepared.bnb().string()) +
      (double_quant ? " --double-quant" : "") + " 2>&1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
}

at::Tensor logits_of(const Model& model) {
  const at::Tensor ids = at::arange(3, 3 + 2 * 9, at::kLong).remainder(97).view({2, 9});
  return logits(model, forward(model, {ids, at::Tensor(), nullptr}).final_hidden);
}

Model load(const fs::path& directory, std::optional<QuantType> type = std::nullopt, int64_t blocksize = 64,
           bool double_quant = false) {
  LoadOptions options;
  options.quantization.type = type;
  options.quantization.blocksize = blocksize;
  options.quantization.double_quant = double_quant;
  return load_model(directory, options);
}

void expect_same_codes(const Model& a, const Model& b) {
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const Linear* first[] = {&a.layers[i].q_proj, &a.layers[i].k_proj, &a.layers[i].v_proj, &a.layers[i].o_proj,
                             &a.layers[i].gate_proj, &a.layers[i].up_proj, &a.layers[i].down_proj};
    const Linear* second[] = {&b.layers[i].q_proj, &b.layers[i].k_proj, &b.layers[i].v_proj, &b.layers[i].o_proj,
                              &b.layers[i].gate_proj, &b.layers[i].up_proj, &b.layers[i].down_proj};
    for (size_t j = 0; j < 7; ++j) {
      ASSERT_TRUE(first[j]->quantized && second[j]->quantized);
      EXPECT_TRUE(at::equal(first[j]->quantized->codes, second[j]->quantized->codes)) << "layer " << i << " linear " << j;
      EXPECT_TRUE(at::equal(first[j]->quantized->absmax, second[j]->quantized->absmax)) << "layer " << i << " linear " << j;
    }
  }
}

void check_variant(const std::string& type_name, int64_t blocksize) {
  Prepared prepared;
  prepare(prepared, type_name, blocksize, false);
  const QuantType type = parse_quant_type(type_name);
  const Model quantized = load(prepared.original(), type, blocksize);
  EXPECT_EQ(describe_quantization(quantized.quantization),
            type_name + " (blocksize " + std::to_string(blocksize) + ")");
  EXPECT_FALSE(quantized.layers[0].q_proj.weight.defined());
  EXPECT_TRUE(quantized.embed_tokens.defined() && quantized.norm.defined());
  const Model reference = load(prepared.dequantized());
  const at::Tensor ours = logits_of(quantized);
  const double difference = (ours - logits_of(reference)).abs().max().item<double>();
  std::cout << "[quantized] " << type_name << " logits vs reference dequantized weights: max |diff| " << difference
            << "; vs the original weights " << (ours - logits_of(load(prepared.original()))).abs().max().item<double>()
            << "\n";
  EXPECT_LE(difference, 1e-5);

  // The same model read from the checkpoint the reference saved in transformers' bitsandbytes layout.
  const Model stored = load(prepared.bnb());
  expect_same_codes(quantized, stored);
  EXPECT_EQ(stored.quantization.type, type);
  EXPECT_LE((logits_of(stored) - ours).abs().max().item<double>(), 1e-6);
}

TEST(QuantizedCheckpoint, Nf4MatchesTheReference) { check_variant("nf4", 64); }

TEST(QuantizedCheckpoint, Fp4WithBlocksize128MatchesTheReference) { check_variant("fp4", 128); }

TEST(QuantizedCheckpoint, ReadsDoubleQuantizedBnbCheckpoints) {
  Prepared prepared;
  prepare(prepared, "nf4", 64, true);
  const Model stored = load(prepared.bnb());
  EXPECT_EQ(describe_quantization(stored.quantization), "nf4 (blocksize 64, double quant)");
  const double difference = (logits_of(stored) - logits_of(load(prepared.dequantized()))).abs().max().item<double>();
  EXPECT_LE(difference, 1e-5);
  // --quantize nf4 on an nf4 checkpoint keeps it as stored; fp4 is refused.
  EXPECT_TRUE(at::equal(logits_of(load(prepared.bnb(), QuantType::nf4)), logits_of(stored)));
  const std::string message = testing::error_of([&] { load(prepared.bnb(), QuantType::fp4); });
  EXPECT_NE(message.find("stored nf4-quantized"), std::string::npos) << message;
}

// Quantized at load with double quantization: the same codes and (dequantized) absmax values as the
// checkpoint the reference double-quantized, its logits those of the reference's dequantized weights,
// and close to plain 4-bit's.
void check_double_quant(const std::string& type_name, int64_t blocksize) {
  Prepared prepared;
  prepare(prepared, type_name, blocksize, true);
  const QuantType type = parse_quant_type(type_name);
  const Model doubled = load(prepared.original(), type, blocksize, true);
  EXPECT_EQ(describe_quantization(doubled.quantization),
            type_name + " (blocksize " + std::to_string(blocksize) + ", double quant)");
  EXPECT_TRUE(doubled.layers[1].up_proj.quantized->double_quant);
  const Model stored = load(prepared.bnb());
  expect_same_codes(doubled, stored);
  // The reference's dynamic map, as it stored it, is qtalign's bit for bit.
  const auto file = io::SafetensorsFile::open(prepared.bnb() / "model.safetensors");
  const at::Tensor stored_map = file->tensor("model.layers.0.mlp.up_proj.weight.nested_quant_map");
  const std::array<float, 256>& map = dynamic_code_map();
  EXPECT_TRUE(at::equal(stored_map, at::tensor(at::ArrayRef<float>(map.data(), map.size()))));

  const at::Tensor ours = logits_of(doubled);
  const double difference = (ours - logits_of(load(prepared.dequantized()))).abs().max().item<double>();
  const double from_plain = (ours - logits_of(load(prepared.original(), type, blocksize))).abs().max().item<double>();
  const double plain_error =
      (logits_of(load(prepared.original(), type, blocksize)) - logits_of(load(prepared.original())))
          .abs().max().item<double>();
  std::cout << "[double quant] " << type_name << " blocksize " << blocksize << " logits vs reference " << difference
            << "; vs plain " << type_name << " " << from_plain << " (plain vs original " << plain_error << ")\n";
  EXPECT_LE(difference, 1e-5);
  EXPECT_LE(from_plain, 0.25 * plain_error);
}

// Blocksize 64: every weight's absmax values fit one nested block, the last partial. Blocksize 32:
// gate/up/down have 352, two nested blocks.
TEST(QuantizedCheckpoint, DoubleQuantAtLoadMatchesTheReferenceNf4) { check_double_quant("nf4", 64); }

TEST(QuantizedCheckpoint, DoubleQuantAtLoadMatchesTheReferenceFp4Blocksize32) { check_double_quant("fp4", 32); }

TEST(QuantizedCheckpoint, MergeAndSaveRefuseAQuantizedBase) {
  Prepared prepared;
  prepare(prepared, "nf4", 64, false);
  for (Model model : {load(prepared.original(), QuantType::nf4), load(prepared.bnb())}) {
    LoraConfig lora;
    attach_new_lora(model, lora, 1);
    const std::string merge = testing::error_of([&] { merge_lora(model); });
    EXPECT_NE(merge.find("cannot merge an adapter into a nf4-quantized base"), std::string::npos) << merge;
    const std::string save = testing::error_of([&] { save_model(model, prepared.dir / "saved", at::kFloat); });
    EXPECT_NE(save.find("nf4-quantized"), std::string::npos) << save;
  }
}

TEST(QuantizedCheckpoint, RefusesBadQuantizationEntries) {
  Prepared prepared;
  prepare(prepared, "nf4", 64, false);
  // A quant_map that is not the NF4 code book.
  {
    auto file = io::SafetensorsFile::open(prepared.bnb() / "model.safetensors");
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& record : file->header().tensors) {
      at::Tensor tensor = file->tensor(record.name).clone();
      if (record.name == "model.layers.1.mlp.up_proj.weight.quant_map") tensor[3] = 0.5f;
      tensors.emplace_back(record.name, tensor);
    }
    file.reset();
    io::write_safetensors(prepared.bnb() / "model.safetensors", tensors);
  }
  std::string message = testing::error_of([&] { load(prepared.bnb()); });
  EXPECT_NE(message.find("'model.layers.1.mlp.up_proj.weight.quant_map' is not bitsandbytes' nf4 code book"),
            std::string::npos)
      << message;
  // Other quantization methods are refused by name.
  io::Json config = io::read_json_file(prepared.bnb() / "config.json");
  config["quantization_config"]["quant_method"] = "gptq";
  io::write_json_file(prepared.bnb() / "config.json", config);
  message = testing::error_of([&] { load(prepared.bnb()); });
  EXPECT_NE(message.find("quant_method 'gptq' is not supported"), std::string::npos) << message;
  // NaN weights to be quantized are refused with the tensor's name and file.
  Model model = make_random_model(tiny_qwen2_config(97), 11);
  model.layers[1].k_proj.weight[2][5] = std::nanf("");
  save_model(model, prepared.dir / "nan", at::kFloat);
  message = testing::error_of([&] { load(prepared.dir / "nan", QuantType::nf4); });
  EXPECT_NE(message.find("model.safetensors: tensor 'model.layers.1.self_attn.k_proj.weight' contains NaN"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace qtalign::model
