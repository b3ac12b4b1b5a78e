// The forward pass against llama.cpp, an implementation independent of qtalign and of
// tests/reference/hf_reference.py: tests/model/llamacpp/ holds llama.cpp's fp32 logits for real
// prompts on small random checkpoints (README.md there says what was run and why the stored part of
// the logits is enough). Each checkpoint is regenerated from its recipe with hf_reference.py
// make-checkpoint; qtalign's logits must agree within 1e-4 of the logit scale with the same argmax
// at every position, for single prompts, a left-padded batch, and a batch continued on a prefix cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/transformer.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace qtalign::model {
namespace {

namespace fs = std::filesystem;
using io::Json;

// fp32 against fp32, relative to the largest |logit| of the prompt.
constexpr double kRelativeTolerance = 1e-4;

fs::path golden_dir() { return testing::source_dir() / "tests/model/llamacpp"; }

const Json& goldens() {
  static const Json json = io::read_json_file(golden_dir() / "goldens.json");
  return json;
}

const Json& find_case(const std::string& name) {
  for (const Json& entry : goldens().at("cases"))
    if (entry.at("name") == name) return entry;
  throw std::runtime_error("no case " + name + " in goldens.json");
}

// llama.cpp's record of one prompt.
struct Golden {
  at::Tensor input_ids;      // [tokens]
  at::Tensor subset_logits;  // [tokens, subset]
  at::Tensor top_ids;        // [tokens, 8], best first
  at::Tensor top_logits;
  at::Tensor logsumexp;      // [tokens], over the whole vocabulary
  double scale;              // largest |logit| over the prompt
};

// Agreement of our logits with llama.cpp's, accumulated over positions.
struct Agreement {
  double max_relative_diff = 0;
  int64_t positions = 0;
  int64_t argmax_equal = 0;

  // `ours` [tokens, vocab] are our logits for golden positions [first, first + tokens).
  void add(const at::Tensor& ours, const Golden& golden, const at::Tensor& subset, int64_t first) {
    const int64_t tokens = ours.size(0);
    const auto slice = [&](const at::Tensor& t) { return t.narrow(0, first, tokens).to(at::kDouble); };
    const at::Tensor logits = ours.to(at::kDouble);
    const at::Tensor top_ids = golden.top_ids.narrow(0, first, tokens);
    const double diff = std::max({(logits.index_select(1, subset) - slice(golden.subset_logits)).abs().max().item<double>(),
                                  (logits.gather(1, top_ids) - slice(golden.top_logits)).abs().max().item<double>(),
                                  (logits.logsumexp(-1) - slice(golden.logsumexp)).abs().max().item<double>()});
    max_relative_diff = std::max(max_relative_diff, diff / golden.scale);
    positions += tokens;
    argmax_equal += (logits.argmax(-1) == top_ids.select(1, 0)).sum().item<int64_t>();
  }
};

std::ostream& operator<<(std::ostream& out, const Agreement& a) {
  return out << "max |diff| / logit scale " << a.max_relative_diff << ", argmax equal at " << a.argmax_equal << "/"
             << a.positions << " positions";
}

at::Tensor left_padded(const std::vector<at::Tensor>& rows, int64_t width, bool mask) {
  at::Tensor out = at::zeros({static_cast<int64_t>(rows.size()), width}, at::kLong);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t length = rows[r].size(0);
    out[r].narrow(0, width - length, length).copy_(mask ? at::ones({length}, at::kLong) : rows[r]);
  }
  return out;
}

// `name`'s checkpoint, regenerated from its recipe in goldens.json once per test program (the tests of
// a family share it; each Python run costs seconds).
const fs::path& make_checkpoint(const std::string& name) {
  static const testing::TempDir dir;
  static std::map<std::string, fs::path> made;
  if (const auto found = made.find(name); found != made.end()) return found->second;
  const fs::path checkpoint = dir / name;
  std::string command = testing::python() + " " +
                        testing::shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) +
                        " make-checkpoint --out " + testing::shell_quote(checkpoint.string());
  for (const Json& argument : find_case(name).at("make_checkpoint"))
    command += " " + testing::shell_quote(argument.get<std::string>());
  const testing::CommandResult result = testing::run_command(command);
  if (result.exit_code != 0) throw std::runtime_error("make-checkpoint failed for " + name + ": " + result.output);
  return made.emplace(name, checkpoint).first->second;
}

// llama.cpp's logits of every prompt of `name`, and the vocabulary subset they were kept at.
std::vector<Golden> read_goldens(const std::string& name, at::Tensor& subset) {
  const auto file = io::SafetensorsFile::open(golden_dir() / (name + ".safetensors"));
  subset = file->tensor("subset_ids");
  std::vector<Golden> golden;
  for (size_t i = 0; i < goldens().at("prompts").size(); ++i) {
    const std::string p = std::to_string(i) + ".";
    golden.push_back({file->tensor(p + "input_ids"), file->tensor(p + "subset_logits"), file->tensor(p + "top_ids"),
                      file->tensor(p + "top_logits"), file->tensor(p + "logsumexp"),
                      file->tensor(p + "scale").max().item<double>()});
  }
  return golden;
}

// Each prompt run alone, compared with llama.cpp.
Agreement one_prompt_at_a_time(const Model& model, const std::vector<Golden>& golden, const at::Tensor& subset) {
  Agreement agreement;
  for (const Golden& g : golden)
    agreement.add(logits(model, forward(model, {g.input_ids.unsqueeze(0)}).final_hidden)[0], g, subset, 0);
  return agreement;
}

using LlamaCppGolden = ::testing::TestWithParam<std::string>;

TEST_P(LlamaCppGolden, LogitsMatchLlamaCpp) {
  const std::string name = GetParam();
  const Json& spec = find_case(name);
  const fs::path checkpoint = make_checkpoint(name);
  at::Tensor subset;
  const std::vector<Golden> golden = read_goldens(name, subset);
  const std::vector<std::string> prompts = goldens().at("prompts").get<std::vector<std::string>>();

  // The ids were made by transformers.js (special tokens added, cut at 72); ours must agree.
  const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_file(
      testing::source_dir() / "tools/npm/node_modules" / spec.at("tokenizer").get<std::string>() / "tokenizer.json");
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> ids = tokenizer.encode(prompts[i], true);
    const auto expected = golden[i].input_ids;
    ids.resize(std::min<size_t>(ids.size(), expected.size(0)));
    EXPECT_EQ(ids, std::vector<int64_t>(expected.data_ptr<int64_t>(), expected.data_ptr<int64_t>() + expected.numel()))
        << "prompt " << i;
  }

  const Model model = load_model(checkpoint, {at::kFloat});
  const auto report = [&](const std::string& what, const Agreement& agreement) {
    std::cout << "[llamacpp] " << name << " " << what << ": " << agreement << std::endl;
    EXPECT_LE(agreement.max_relative_diff, kRelativeTolerance) << what;
    EXPECT_EQ(agreement.argmax_equal, agreement.positions) << what;
  };

  report("one prompt at a time", one_prompt_at_a_time(model, golden, subset));

  std::vector<at::Tensor> rows;
  int64_t width = 0;
  for (const Golden& g : golden) {
    rows.push_back(g.input_ids);
    width = std::max(width, g.input_ids.size(0));
  }
  const at::Tensor batch_logits =
      logits(model, forward(model, {left_padded(rows, width, false), left_padded(rows, width, true)}).final_hidden);
  Agreement padded;
  for (size_t r = 0; r < golden.size(); ++r) {
    const int64_t length = golden[r].input_ids.size(0);
    padded.add(batch_logits[r].narrow(0, width - length, length), golden[r], subset, 0);
  }
  report("left-padded batch of all prompts", padded);

  // The prompts share their first tokens: a batch-1 prefix run whose cache serves a left-padded batch
  // of the different continuations, as eval does with a shared demonstration block.
  int64_t shared = golden[0].input_ids.size(0);
  for (const Golden& g : golden) {
    const at::Tensor& first = golden[0].input_ids;
    int64_t same = 0;
    while (same < std::min(first.size(0), g.input_ids.size(0)) &&
           first[same].item<int64_t>() == g.input_ids[same].item<int64_t>())
      ++same;
    shared = std::min(shared, same);
  }
  ASSERT_GE(shared, 8) << "the prompts should share a prefix";
  ForwardOptions keep;
  keep.return_cache = true;
  const ForwardOutput prefix = forward(model, {golden[0].input_ids.narrow(0, 0, shared).unsqueeze(0)}, keep);
  Agreement cached;
  cached.add(logits(model, prefix.final_hidden)[0], golden[0], subset, 0);
  std::vector<at::Tensor> continuations;
  int64_t continuation_width = 0;
  for (const Golden& g : golden) {
    continuations.push_back(g.input_ids.narrow(0, shared, g.input_ids.size(0) - shared));
    continuation_width = std::max(continuation_width, continuations.back().size(0));
  }
  const at::Tensor continued =
      logits(model, forward(model, {left_padded(continuations, continuation_width, false),
                                    left_padded(continuations, continuation_width, true), &prefix.cache})
                        .final_hidden);
  for (size_t r = 0; r < golden.size(); ++r) {
    const int64_t length = continuations[r].size(0);
    cached.add(continued[r].narrow(0, continuation_width - length, length), golden[r], subset, shared);
  }
  report("prefix cache + left-padded continuations", cached);
}

// tests/reference/hf_reference.py (our transformers-semantics reference, which other tests trust) agrees
// with llama.cpp too, on a left-padded batch of all prompts: the two references check each other.
TEST_P(LlamaCppGolden, ReferenceMatchesLlamaCpp) {
  const std::string name = GetParam();
  testing::TempDir dir;
  at::Tensor subset;
  const std::vector<Golden> golden = read_goldens(name, subset);
  std::vector<at::Tensor> rows;
  int64_t width = 0;
  for (const Golden& g : golden) {
    rows.push_back(g.input_ids);
    width = std::max(width, g.input_ids.size(0));
  }
  io::write_safetensors(dir / "inputs.safetensors", {{"all.input_ids", left_padded(rows, width, false)},
                                                     {"all.attention_mask", left_padded(rows, width, true)}});
  const fs::path checkpoint = make_checkpoint(name);
  const testing::CommandResult run = testing::run_command(
      testing::python() + " " +
      testing::shell_quote((testing::source_dir() / "tests/reference/hf_reference.py").string()) + " forward --model " +
      testing::shell_quote(checkpoint.string()) + " --inputs " + testing::shell_quote((dir / "inputs.safetensors").string()) +
      " --output " + testing::shell_quote((dir / "outputs.safetensors").string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const at::Tensor reference = io::SafetensorsFile::open(dir / "outputs.safetensors")->tensor("all.logits");
  Agreement agreement;
  for (size_t r = 0; r < golden.size(); ++r) {
    const int64_t length = golden[r].input_ids.size(0);
    agreement.add(reference[r].narrow(0, width - length, length), golden[r], subset, 0);
  }
  std::cout << "[llamacpp] " << name << " hf_reference.py, left-padded batch: " << agreement << std::endl;
  EXPECT_LE(agreement.max_relative_diff, kRelativeTolerance);
  EXPECT_EQ(agreement.argmax_equal, agreement.positions);
}

// The goldens are sharp enough to see a small change of the model: RoPE's base doubled moves the
// logits far beyond the tolerance.
TEST(LlamaCppGoldens, SeeARopeBaseChange) {
  Model model = load_model(make_checkpoint("llama"), {at::kFloat});
  model.config.rope_theta *= 2;
  at::Tensor subset;
  const Agreement agreement = one_prompt_at_a_time(model, read_goldens("llama", subset), subset);
  std::cout << "[llamacpp] llama with rope_theta doubled: " << agreement << std::endl;
  EXPECT_GT(agreement.max_relative_diff, 100 * kRelativeTolerance);
}

// ... and so do Gemma 2's sliding window and attention soft-capping: without either, the logits leave
// llama.cpp's.
TEST(LlamaCppGoldens, SeeGemmaSlidingWindowAndSoftCapping) {
  const Model loaded = load_model(make_checkpoint("gemma2"), {at::kFloat});
  at::Tensor subset;
  const std::vector<Golden> golden = read_goldens("gemma2", subset);
  Model unwindowed = loaded;
  unwindowed.config.sliding_window.reset();
  Model uncapped = loaded;
  uncapped.config.attn_logit_softcapping.reset();
  for (const auto& [what, model] : {std::pair<std::string, const Model*>{"no sliding window", &unwindowed},
                                    {"no attention soft-capping", &uncapped}}) {
    const Agreement agreement = one_prompt_at_a_time(*model, golden, subset);
    std::cout << "[llamacpp] gemma2 with " << what << ": " << agreement << std::endl;
    EXPECT_GT(agreement.max_relative_diff, 100 * kRelativeTolerance) << what;
  }
}

// Every case of goldens.json is listed here, so that a case cannot silently go untested.
const std::vector<std::string> kCases = {"qwen2", "llama", "mistral", "llama_rope_llama3", "qwen3", "gemma2", "gemma3_text"};

TEST(LlamaCppGoldens, EveryCaseOfTheDataIsTested) {
  std::vector<std::string> names;
  for (const Json& entry : goldens().at("cases")) names.push_back(entry.at("name").get<std::string>());
  EXPECT_EQ(names, kCases);
}

INSTANTIATE_TEST_SUITE_P(Families, LlamaCppGolden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace qtalign::model
