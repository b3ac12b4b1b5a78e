#include "model/lora.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"

namespace qtalign::model {
namespace {

using testing::error_of;

constexpr int64_t kVocab = 97;

LoraConfig small_config() {
  LoraConfig config;
  config.r = 4;
  config.alpha = 8;
  config.dropout = 0.1;
  config.base_model_name_or_path = "tiny";
  return config;
}

at::Tensor sample_ids() {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
  return at::randint(kVocab, {2, 9}, generator, at::kLong);
}

at::Tensor all_logits(const Model& model, const at::Tensor& ids) {
  at::NoGradGuard no_grad;
  return logits(model, forward(model, {ids}).final_hidden);
}

// Gives every attached B random values, so the adapter changes the model's output.
void randomize_b(Model& model, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (const NamedLora& adapter : attached_lora(model))
    adapter.weights->b = at::empty(adapter.weights->b.sizes(), at::kFloat).normal_(0.0, 0.05, generator);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(Lora, FreshAdapterIsInitialisedAsPeftDoes) {
  Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
  attach_new_lora(model, small_config(), 3);
  const std::vector<NamedLora> adapters = attached_lora(model);
  std::vector<std::string> names;
  for (const NamedLora& adapter : adapters) names.push_back(adapter.module);
  EXPECT_EQ(names, (std::vector<std::string>{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                             "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"}));
  for (const NamedLora& adapter : adapters) {
    const LoraWeights& lora = *adapter.weights;
    EXPECT_EQ(lora.a.sizes(), (std::vector<int64_t>{4, 64}));
    EXPECT_EQ(lora.a.scalar_type(), at::kFloat);
    EXPECT_EQ(lora.b.scalar_type(), at::kFloat);
    EXPECT_EQ(lora.b.abs().max().item<double>(), 0.0);
    EXPECT_DOUBLE_EQ(lora.scale, 2.0);
    EXPECT_DOUBLE_EQ(lora.dropout, 0.1);
    // kaiming_uniform(a=sqrt(5)) on [r, in] is U(-1/sqrt(in), 1/sqrt(in)): std bound/sqrt(3).
    const double bound = 1.0 / 8.0;
    EXPECT_LE(lora.a.abs().max().item<double>(), bound);
    EXPECT_GT(lora.a.abs().max().item<double>(), 0.9 * bound);
    EXPECT_NEAR(lora.a.std().item<double>(), bound / std::sqrt(3.0), 0.01);
  }
  EXPECT_EQ(adapters[2].weights->b.sizes(), (std::vector<int64_t>{64, 4}));  // q_proj: 4 heads x 16
  EXPECT_EQ(adapters[1].weights->b.sizes(), (std::vector<int64_t>{32, 4}));  // v_proj: 2 KV heads x 16

  Model same = make_random_model(tiny_qwen2_config(kVocab), 1);
  attach_new_lora(same, small_config(), 3);
  EXPECT_TRUE(at::equal(attached_lora(same)[0].weights->a, adapters[0].weights->a));
  Model other = make_random_model(tiny_qwen2_config(kVocab), 1);
  attach_new_lora(other, small_config(), 4);
  EXPECT_FALSE(at::equal(attached_lora(other)[0].weights->a, adapters[0].weights->a));
  EXPECT_THROW(attach_new_lora(model, small_config(), 3), Error);
}

TEST(Lora, FreshAdapterLeavesLogitsUnchanged) {
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    Model model = make_random_model(tiny_qwen2_config(kVocab), 1, dtype);
    const at::Tensor ids = sample_ids();
    const at::Tensor before = all_logits(model, ids);
    LoraConfig config = small_config();
    config.target_modules = parse_lora_targets("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
    attach_new_lora(model, config, 5);
    EXPECT_EQ(attached_lora(model).size(), 14u);
    EXPECT_TRUE(at::equal(all_logits(model, ids), before)) << c10::toString(dtype);
  }
}

TEST(Lora, MergedWeightsComputeWhatTheAttachedAdapterComputes) {
  Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
  const at::Tensor ids = sample_ids();
  const at::Tensor base = all_logits(model, ids);
  LoraConfig config = small_config();
  config.target_modules = {"q_proj", "v_proj", "down_proj"};
  attach_new_lora(model, config, 5);
  randomize_b(model, 6);
  const at::Tensor adapted = all_logits(model, ids);
  EXPECT_GT(max_abs_diff(adapted, base), 1e-3);  // the adapter matters
  merge_lora(model);
  EXPECT_TRUE(attached_lora(model).empty());
  EXPECT_LE(max_abs_diff(all_logits(model, ids), adapted), 1e-4);
}

TEST(Lora, SavesThePeftLayout) {
  Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
  attach_new_lora(model, small_config(), 3);
  randomize_b(model, 6);
  testing::TempDir dir;
  save_lora_adapter(model, small_config(), dir.path());

  const auto file = io::SafetensorsFile::open(dir / "adapter_model.safetensors");
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const io::TensorRecord& record : file->header().tensors) {
    shapes[record.name] = record.shape;
    EXPECT_EQ(record.dtype, at::kFloat) << record.name;
  }
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {4, 64}},
      {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {64, 4}},
      {"base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", {4, 64}},
      {"base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", {32, 4}},
      {"base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", {4, 64}},
      {"base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight", {64, 4}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", {4, 64}},
      {"base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", {32, 4}},
  };
  EXPECT_EQ(shapes, expected);
  EXPECT_EQ(file->header().metadata.at("format"), "pt");
  EXPECT_TRUE(at::equal(file->tensor("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"),
                        attached_lora(model)[3].weights->b));

  const io::Json config = io::read_json_file(dir / "adapter_config.json");
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["task_type"], "CAUSAL_LM");
  EXPECT_EQ(config["r"], 4);
  EXPECT_TRUE(config["lora_alpha"].is_number_integer());
  EXPECT_EQ(config["lora_alpha"], 8);
  EXPECT_DOUBLE_EQ(config["lora_dropout"].get<double>(), 0.1);
  EXPECT_EQ(config["target_modules"], (io::Json{"q_proj", "v_proj"}));
  EXPECT_EQ(config["base_model_name_or_path"], "tiny");
  EXPECT_EQ(config["bias"], "none");
  EXPECT_EQ(config["fan_in_fan_out"], false);
  EXPECT_EQ(config["inference_mode"], true);
  EXPECT_EQ(config["use_dora"], false);
  EXPECT_EQ(config["use_rslora"], false);
}

TEST(Lora, LoadsWhatItSaves) {
  Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
  LoraConfig config = small_config();
  config.target_modules = {"o_proj", "up_proj"};
  attach_new_lora(model, config, 3);
  randomize_b(model, 6);
  const at::Tensor ids = sample_ids();
  const at::Tensor adapted = all_logits(model, ids);
  testing::TempDir dir;
  save_lora_adapter(model, config, dir.path());

  Model fresh = make_random_model(tiny_qwen2_config(kVocab), 1);
  const LoraConfig loaded = load_lora_adapter(fresh, dir.path());
  EXPECT_EQ(loaded.r, 4);
  EXPECT_DOUBLE_EQ(loaded.alpha, 8.0);
  EXPECT_EQ(loaded.target_modules, config.target_modules);
  ASSERT_EQ(attached_lora(fresh).size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(attached_lora(fresh)[i].module, attached_lora(model)[i].module);
    EXPECT_TRUE(at::equal(attached_lora(fresh)[i].weights->a, attached_lora(model)[i].weights->a));
    EXPECT_TRUE(at::equal(attached_lora(fresh)[i].weights->b, attached_lora(model)[i].weights->b));
  }
  EXPECT_TRUE(at::equal(all_logits(fresh, ids), adapted));
  EXPECT_NE(error_of([&] { load_lora_adapter(fresh, dir.path()); }).find("already"), std::string::npos);
}

// The adapter as an independent PEFT-semantics implementation applies it (tests/reference).
TEST(Lora, MatchesThePeftReference) {
  testing::TempDir dir;
  Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
  save_model(model, dir / "model", at::kFloat);
  LoraConfig config = small_config();
  config.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  config.alpha = 16;
  attach_new_lora(model, config, 3);
  randomize_b(model, 6);
  save_lora_adapter(model, config, dir / "adapter");
  const at::Tensor ids = sample_ids();
  io::write_safetensors(dir / "inputs.safetensors", {{"case.input_ids", ids}});
  const testing::CommandResult result = testing::run_command(
      testing::python() + " " + testing::shell_quote((testing::source_dir() / "tests/reference/peft_reference.py").string()) +
      " forward --model " + testing::shell_quote((dir / "model").string()) + " --adapter " +
      testing::shell_quote((dir / "adapter").string()) + " --inputs " +
      testing::shell_quote((dir / "inputs.safetensors").string()) + " --output " +
      testing::shell_quote((dir / "outputs.safetensors").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const at::Tensor reference = io::SafetensorsFile::open(dir / "outputs.safetensors")->tensor("case.logits");
  const at::Tensor base = all_logits(make_random_model(tiny_qwen2_config(kVocab), 1), ids);
  const at::Tensor ours = all_logits(model, ids);
  EXPECT_LE(max_abs_diff(ours, reference), 1e-4);
  EXPECT_GT(max_abs_diff(ours, base), 1e-3);
}

class LoraFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
    attach_new_lora(model, small_config(), 3);
    save_lora_adapter(model, small_config(), dir_.path());
    config_ = io::read_json_file(dir_ / "adapter_config.json");
    for (const NamedLora& adapter : attached_lora(model)) {
      tensors_.emplace_back(peft_tensor_name(adapter.module, 'A'), adapter.weights->a);
      tensors_.emplace_back(peft_tensor_name(adapter.module, 'B'), adapter.weights->b);
    }
  }

  // The Error message loading the adapter directory (as modified) into a fresh model gives.
  std::string load_error() {
    io::write_json_file(dir_ / "adapter_config.json", config_);
    io::write_safetensors(dir_ / "adapter_model.safetensors", tensors_);
    Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
    return error_of([&] { load_lora_adapter(model, dir_.path()); });
  }

  testing::TempDir dir_;
  io::Json config_;
  std::vector<std::pair<std::string, at::Tensor>> tensors_;
};

TEST_F(LoraFiles, RejectsAnotherRank) {
  config_["r"] = 8;
  const std::string message = load_error();
  EXPECT_NE(message.find("adapter_model.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("shape [4, 64], expected [8, 64]"), std::string::npos) << message;
}

TEST_F(LoraFiles, RejectsAShapeThatDoesNotFitTheLayer) {
  tensors_[1].second = at::zeros({48, 4});
  const std::string message = load_error();
  EXPECT_NE(message.find("lora_B.weight' has shape [48, 4], expected [64, 4]"), std::string::npos) << message;
}

TEST_F(LoraFiles, RejectsAnotherPeftType) {
  config_["peft_type"] = "PREFIX_TUNING";
  const std::string message = load_error();
  EXPECT_NE(message.find("adapter_config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("PREFIX_TUNING"), std::string::npos) << message;
}

TEST_F(LoraFiles, RejectsUnsupportedOptions) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, io::Json>>{
           {"use_dora", true}, {"fan_in_fan_out", true}, {"bias", "all"}, {"layers_to_transform", {0}},
           {"rank_pattern", {{"q_proj", 2}}}, {"modules_to_save", {"lm_head"}}}) {
    const io::Json saved = config_;
    config_[key] = value;
    const std::string message = load_error();
    EXPECT_NE(message.find("adapter_config.json"), std::string::npos) << key << ": " << message;
    EXPECT_NE(message.find("not supported"), std::string::npos) << key << ": " << message;
    config_ = saved;
  }
}

TEST_F(LoraFiles, RejectsTensorsOfUntargetedModules) {
  config_["target_modules"] = {"q_proj"};
  const std::string message = load_error();
  EXPECT_NE(message.find("v_proj', which target_modules"), std::string::npos) << message;
}

TEST_F(LoraFiles, RejectsModulesTheModelLacks) {
  tensors_.emplace_back("base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", at::zeros({4, 64}));
  const std::string message = load_error();
  EXPECT_NE(message.find("model.layers.7.self_attn.q_proj', which the model does not have"), std::string::npos)
      << message;
}

TEST_F(LoraFiles, RejectsAMissingMatrix) {
  tensors_.pop_back();
  const std::string message = load_error();
  EXPECT_NE(message.find("no lora_A/lora_B tensors for targeted module 'model.layers.1.self_attn.v_proj'"),
            std::string::npos)
      << message;
}

TEST_F(LoraFiles, RejectsOtherTensors) {
  tensors_.emplace_back("base_model.model.model.layers.0.self_attn.q_proj.bias", at::zeros({64}));
  const std::string message = load_error();
  EXPECT_NE(message.find("is not a LoRA A/B weight"), std::string::npos) << message;
}

TEST_F(LoraFiles, RejectsTargetsMatchingNothing) {
  config_["target_modules"] = {"query_key_value"};
  tensors_.clear();
  const std::string message = load_error();
  EXPECT_NE(message.find("match none of the model's linear layers"), std::string::npos) << message;
}

TEST_F(LoraFiles, NamesMissingFiles) {
  Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
  std::filesystem::remove(dir_ / "adapter_config.json");
  std::string message = error_of([&] { load_lora_adapter(model, dir_.path()); });
  EXPECT_NE(message.find("adapter_config.json: no such file (not a PEFT adapter directory?)"), std::string::npos)
      << message;
  message = error_of([&] { load_lora_adapter(model, dir_ / "nowhere"); });
  EXPECT_NE(message.find("nowhere: no such adapter directory"), std::string::npos) << message;
}

// The next four came from adapter_fuzz (hostile adapter directories): each crashed, hung or hit
// undefined behaviour before it was an Error.
TEST_F(LoraFiles, RejectsAVeryLongTensorNameWithoutOverflowingTheStack) {
  std::string module = "model.";
  for (int i = 0; i < 100000; ++i) module += "a.";
  tensors_.emplace_back(peft_tensor_name(module + "q_proj", 'A'), at::zeros({4, 64}));
  const std::string message = load_error();
  EXPECT_NE(message.find("a.a.q_proj', which the model does not have"), std::string::npos) << message.substr(0, 200);
}

TEST_F(LoraFiles, RejectsATargetPatternThatBacktracksWithoutEnd) {
  config_["target_modules"] = "(.*.*)*(.*.*)*(.*.*)*(.*.*)*(.*.*)*[XY]";
  const std::string message = load_error();
  EXPECT_NE(message.find("adapter_config.json: target_modules '(.*.*)*"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot be matched against 'model.layers.0.self_attn.q_proj'"), std::string::npos) << message;
}

TEST_F(LoraFiles, RejectsAnInvalidTargetPattern) {
  config_["target_modules"] = "(q|v_proj";
  const std::string message = load_error();
  EXPECT_NE(message.find("adapter_config.json: target_modules '(q|v_proj' is not a valid regular expression"),
            std::string::npos)
      << message;
}

TEST_F(LoraFiles, RejectsARankThatIsNoInteger) {
  config_["r"] = 1e300;
  const std::string message = load_error();
  EXPECT_NE(message.find("adapter_config.json: field 'r' must be an integer"), std::string::npos) << message;
}

TEST_F(LoraFiles, RejectsADeeplyNestedOptionWithoutOverflowingTheStack) {
  const std::string depth(300000, '[');
  const std::string close(300000, ']');
  config_.erase("use_dora");
  std::string text = config_.dump();
  text.insert(1, "\"use_dora\": " + depth + close + ", ");
  io::write_file_atomically(dir_ / "adapter_config.json", text);
  io::write_safetensors(dir_ / "adapter_model.safetensors", tensors_);
  Model model = make_random_model(tiny_qwen2_config(kVocab), 1);
  const std::string message = error_of([&] { load_lora_adapter(model, dir_.path()); });
  EXPECT_NE(message.find("adapter_config.json: field 'use_dora' has the wrong type (array)"), std::string::npos)
      << message;
}

TEST(LoraTargets, ParsesModuleLists) {
  EXPECT_EQ(parse_lora_targets("q_proj,v_proj,q_proj"), (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_THROW(parse_lora_targets("q_proj,attn"), Error);
  EXPECT_THROW(parse_lora_targets(""), Error);
}

TEST(LoraTargets, MatchesAsPeftDoes) {
  LoraConfig config;
  config.target_modules = {"q_proj"};
  EXPECT_TRUE(lora_targets_module(config, "model.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(lora_targets_module(config, "model.layers.0.self_attn.xq_proj"));
  EXPECT_FALSE(lora_targets_module(config, "model.layers.0.self_attn.v_proj"));
  config.target_regex = R"(.*\.1\.self_attn\.(q|v)_proj)";
  EXPECT_TRUE(lora_targets_module(config, "model.layers.1.self_attn.v_proj"));
  EXPECT_FALSE(lora_targets_module(config, "model.layers.0.self_attn.v_proj"));
  config.target_regex = R"(self_attn\.(q|v)_proj)";  // a full match, not a search
  EXPECT_FALSE(lora_targets_module(config, "model.layers.1.self_attn.v_proj"));
  config.target_regex = R"(model\.layers\.\d+\.mlp\.(?:gate|up)_proj)";  // Python syntax
  EXPECT_TRUE(lora_targets_module(config, "model.layers.12.mlp.up_proj"));
}

}  // namespace
}  // namespace qtalign::model
