#include "train/training_run.h"

#include <fmt/format.h>

#include <cstdio>
#include <optional>

#include "data/question_translation.h"
#include "io/error.h"
#include "io/output_lock.h"
#include "io/progress.h"
#include "io/provenance.h"
#include "model/config.h"
#include "model/dtype.h"
#include "model/loaded_model.h"
#include "train/trainer.h"

namespace qtalign::train {
namespace {

namespace fs = std::filesystem;

// Where the adapter came from, beside it (PEFT's adapter_config.json keeps only its own fields).
constexpr const char* kProvenanceFile = "provenance.json";

struct PreparedData {
  std::vector<TokenizedExample> train_set;
  std::vector<TokenizedExample> validation_set;
  int64_t truncated = 0;  // cut to the cutoff
  int64_t dropped = 0;    // no target token within the cutoff
};

// Refuses a cutoff the model cannot attend over, from config.json alone.
void check_cutoff(const TrainingSpec& spec) {
  const fs::path config_file = spec.model_dir / "config.json";
  const model::ModelConfig config = model::read_model_config(config_file);
  if (config.max_position_embeddings > 0 && spec.settings.cutoff > config.max_position_embeddings)
    throw Error(fmt::format("--cutoff {} exceeds the model's context of {} tokens ({})", spec.settings.cutoff,
                            config.max_position_embeddings, config_file.string()));
}

// The examples tokenized in the settings' template, cut to the cutoff, split into training and
// validation sets by the seeded split.
PreparedData prepare_data(const std::vector<data::QuestionTranslationExample>& examples,
                          const model::LoadedModel& loaded, const TrainingSpec& spec, bool report) {
  const TrainingSettings& settings = spec.settings;
  const size_t max_text_bytes = text_bytes_for_tokens(loaded.tokenizer, settings.cutoff);
  const model::ModelConfig& config = loaded.model.config;
  const std::optional<int64_t> eos = config.eos_token_id ? config.eos_token_id : loaded.tokenizer.eos_id();
  const std::vector<int64_t> held_out =
      validation_indices(static_cast<int64_t>(examples.size()), settings.val_ratio, settings.seed);

  PreparedData prepared;
  std::optional<io::Progress> progress;
  if (report) progress.emplace("tokenize", static_cast<int64_t>(examples.size()), "examples");
  size_t next_held_out = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const bool validation = next_held_out < held_out.size() && held_out[next_held_out] == int64_t(i);
    if (validation) ++next_held_out;
    const TextExample text{examples[i].input, examples[i].target};
    TokenizedExample tokenized =
        tokenize_example(loaded.tokenizer, settings.prompt_template, text, eos, max_text_bytes);
    if (cut_to_length(tokenized, settings.cutoff)) ++prepared.truncated;
    if (progress) progress->advance();
    if (tokenized.target_tokens() == 0) {
      ++prepared.dropped;
      continue;
    }
    (validation ? prepared.validation_set : prepared.train_set).push_back(std::move(tokenized));
  }
  if (progress) progress->finish();
  if (prepared.train_set.empty())
    fail_at(spec.data_file,
            fmt::format("no training examples with target tokens within --cutoff {}", settings.cutoff));
  return prepared;
}

// How to continue after an interruption: from the checkpoint when there is one or will be, else anew.
std::string interrupt_hint(const TrainingSpec& spec) {
  const std::string rerun = spec.resume ? "rerun the same command" : "rerun the same command with --resume";
  const std::string out = spec.out_dir.string();
  if (fs::exists(training_checkpoint_path(spec.out_dir)))
    return rerun + " to continue from the last checkpoint in " + out;
  if (spec.settings.save_every == 0)
    return "rerun the same command to start over: with --save-every 0 the only checkpoint is the final one";
  return fmt::format("{} to continue from the last checkpoint in {} (one every {} steps: before step {} there is "
                     "none yet, and the rerun starts over)",
                     rerun, out, spec.settings.save_every, spec.settings.save_every);
}

// The run's record (io::run_provenance), the loaded model's (base_model, tokenizer, runtime), the
// examples' file and the processes.
io::Json provenance(const TrainingSpec& spec, const model::LoadedModel& loaded, int processes) {
  io::Json record = io::run_provenance(spec.compute.device);
  record["base_model"] = loaded.provenance["model"];
  record["tokenizer"] = loaded.provenance["tokenizer"];
  record["runtime"] = loaded.provenance["runtime"];
  record["data"] = {{"path", model::canonical_path(spec.data_file)}, {"sha1", io::file_sha1(spec.data_file)}};
  record["dtype"] = model::dtype_name(spec.compute.dtype);
  record["processes"] = processes;
  return record;
}

void report_data(const PreparedData& data, const TrainingSpec& spec, int processes) {
  std::fprintf(stderr,
               "train: %zu training and %zu validation examples (%lld cut to --cutoff %lld, %lld dropped: no target "
               "token within it); %d process(es), %s on %s\n",
               data.train_set.size(), data.validation_set.size(), static_cast<long long>(data.truncated),
               static_cast<long long>(spec.settings.cutoff), static_cast<long long>(data.dropped), processes,
               model::dtype_name(spec.compute.dtype).c_str(), spec.compute.device.str().c_str());
}

}  // namespace

TrainingSummary run(const TrainingSpec& spec, distributed::ProcessGroup& group, const InterruptHint& hint) {
  validate(spec.settings);
  io::check_output_directory(spec.out_dir);
  const bool report = group.is_main();
  // Only rank 0 writes, so only it holds the directory.
  std::optional<io::OutputLock> lock;
  if (report) lock.emplace(spec.out_dir);
  if (hint) hint(interrupt_hint(spec));
  check_cutoff(spec);
  const std::vector<data::QuestionTranslationExample> examples = data::read_examples(spec.data_file);
  model::ModelSource source{spec.model_dir};
  source.hash_weights = spec.hash_weights;
  model::LoadedModel loaded = model::load_model_with_tokenizer(source, spec.compute);
  const PreparedData data = prepare_data(examples, loaded, spec, report);
  if (report) report_data(data, spec, group.world_size());

  TrainingOutput output;
  output.dir = spec.out_dir;
  output.base_model = spec.model_dir.string();
  output.resume = spec.resume;
  const TrainingSummary summary =
      train_lora(loaded.model, spec.settings, data.train_set, data.validation_set, output, group);
  if (report) io::write_json_file(spec.out_dir / kProvenanceFile, provenance(spec, loaded, group.world_size()));
  return summary;
}

std::vector<std::string> command_line(const TrainingSpec& spec) {
  std::vector<std::string> line = io::option_words(spec);
  line.insert(line.begin(), "train");
  const std::vector<std::string> compute = model::compute_arguments(spec.compute);
  line.insert(line.end(), compute.begin(), compute.end());
  return line;
}

const char* const kTrainingHelp = R"(LoRA-tune a model on question-translation examples (JSON array or JSONL
with "input" and "target" or "answer"), writing a PEFT adapter directory to --out: adapter_config.json +
adapter_model.safetensors (the best by validation loss; final/ holds the last one), training_log.jsonl,
loss.png/.svg, checkpoint.safetensors (resume with --resume) and provenance.json (command line,
versions, hardware, base weights fingerprint, data hash).

Data-parallel over several processes (torchrun-style: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT):
  qtalign launch -n 2 -- train --model M --data D --out A                       (one machine)
  RANK=r WORLD_SIZE=n MASTER_ADDR=host0 MASTER_PORT=29500 qtalign train ...     (each process)
Gradients are summed over processes (Gloo on CPU, NCCL on CUDA), data is sharded by rank, only rank
0 writes; a process that dies or stalls for --dist-timeout seconds makes the others fail. Each process runs --batch x --grad-accum examples per step: the global batch is that times the
number of processes.)";

}  // namespace qtalign::train
