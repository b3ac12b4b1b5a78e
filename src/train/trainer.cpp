#include "train/trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "io/error.h"
#include "io/progress.h"
#include "model/dtype.h"
#include "model/lora.h"
#include "model/seed_mix.h"
#include "train/adamw.h"
#include "train/batching.h"
#include "train/lr_schedule.h"
#include "train/training_checkpoint.h"
#include "train/training_log.h"

namespace qtalign::train {
namespace {

using Clock = std::chrono::steady_clock;

// The seed of a micro-batch's dropout masks, from (seed, step, micro-batch): its masks do not depend
// on which process runs the micro-batch, which micro-batches share its forward pass, or interruptions.
uint64_t dropout_seed(uint64_t seed, int64_t step, int64_t micro_batch) {
  return model::mix_seed(model::mix_seed(seed ^ model::mix_seed(uint64_t(step))) + uint64_t(micro_batch));
}

std::string data_digest(const std::vector<TokenizedExample>& train_set, const std::vector<TokenizedExample>& validation_set) {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over every id and prompt length
  auto mix = [&](int64_t value) {
    for (int byte = 0; byte < 8; ++byte) {
      hash ^= (uint64_t(value) >> (8 * byte)) & 0xff;
      hash *= 1099511628211ULL;
    }
  };
  for (const auto* set : {&train_set, &validation_set}) {
    mix(static_cast<int64_t>(set->size()));
    for (const TokenizedExample& example : *set) {
      mix(example.prompt_length);
      mix(static_cast<int64_t>(example.input_ids.size()));
      for (int64_t id : example.input_ids) mix(id);
    }
  }
  return fmt::format("{:016x}", hash);
}

AdamWOptions adamw_options(const TrainingSettings& settings) {
  AdamWOptions adamw;
  adamw.weight_decay = settings.weight_decay;
  return adamw;
}

io::Json run_settings(const model::Model& model, const model::LoraConfig& lora, const TrainingSettings& settings,
                      const BatchLayout& layout, const std::vector<TokenizedExample>& train_set,
                      const std::vector<TokenizedExample>& validation_set) {
  const AdamWOptions adamw = adamw_options(settings);
  return {
      {"seed", settings.seed},
      {"epochs", settings.epochs},
      {"micro_batch", settings.micro_batch},
      {"global_batch", layout.global_batch()},
      {"lr", settings.lr},
      {"warmup_ratio", settings.warmup_ratio},
      {"max_grad_norm", settings.max_grad_norm},
      {"adamw", {adamw.beta1, adamw.beta2, adamw.eps, adamw.weight_decay}},
      {"eval_every", settings.eval_every},
      {"lora", model::lora_config_to_json(lora)},
      {"model_dtype", model::dtype_name(model.dtype())},
      {"model_quantization", model::describe_quantization(model.quantization)},
      {"train_examples", train_set.size()},
      {"validation_examples", validation_set.size()},
      {"data_digest", data_digest(train_set, validation_set)},
  };
}

std::vector<at::Tensor> lora_parameters(const model::Model& model) {
  std::vector<at::Tensor> parameters;
  for (const model::NamedLora& adapter : model::attached_lora(model)) {
    parameters.push_back(adapter.weights->a);
    parameters.push_back(adapter.weights->b);
  }
  return parameters;
}

std::vector<std::pair<std::string, at::Tensor>> adapter_tensors(const model::Model& model) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const model::NamedLora& adapter : model::attached_lora(model)) {
    tensors.emplace_back(model::peft_tensor_name(adapter.module, 'A'), adapter.weights->a);
    tensors.emplace_back(model::peft_tensor_name(adapter.module, 'B'), adapter.weights->b);
  }
  return tensors;
}

void restore_adapter(const model::Model& model, const std::vector<std::pair<std::string, at::Tensor>>& saved,
                     const std::filesystem::path& file) {
  const std::map<std::string, at::Tensor> by_name(saved.begin(), saved.end());
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : adapter_tensors(model)) {
    const auto found = by_name.find(name);
    if (found == by_name.end()) fail_at(file, "missing adapter tensor " + name);
    if (found->second.sizes() != tensor.sizes()) fail_at(file, "adapter tensor " + name + " has another shape");
    tensor.copy_(found->second);
  }
}

// Sums every parameter's gradient over the group in one collective.
void all_reduce_gradients(const std::vector<at::Tensor>& parameters, distributed::ProcessGroup& group) {
  if (group.world_size() == 1) return;
  std::vector<at::Tensor> flat;
  for (const at::Tensor& parameter : parameters)
    flat.push_back(parameter.grad().defined() ? parameter.grad().reshape(-1) : at::zeros({parameter.numel()}, parameter.options()));
  at::Tensor buffer = at::cat(flat);
  group.all_reduce_sum(buffer);
  int64_t offset = 0;
  for (const at::Tensor& parameter : parameters) {
    const_cast<at::Tensor&>(parameter).mutable_grad() = buffer.narrow(0, offset, parameter.numel()).view(parameter.sizes());
    offset += parameter.numel();
  }
}

// The global gradient norm, then the gradients scaled by min(1, max_norm / (norm + 1e-6)), as
// torch.nn.utils.clip_grad_norm_ computes them.
double clip_gradients(const std::vector<at::Tensor>& parameters, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const at::Tensor& parameter : parameters) norms.push_back(parameter.grad().norm());
  const at::Tensor total = at::stack(norms).norm();
  if (max_norm > 0) {
    const at::Tensor coefficient = (max_norm / (total + 1e-6)).clamp_max(1.0);
    for (const at::Tensor& parameter : parameters) parameter.grad().mul_(coefficient);
  }
  return total.item<double>();
}

int64_t target_tokens(const std::vector<TokenizedExample>& examples, const std::vector<int64_t>& indices) {
  int64_t count = 0;
  for (int64_t index : indices) count += examples[index].target_tokens();
  return count;
}

int64_t total_tokens(const std::vector<TokenizedExample>& examples, const std::vector<int64_t>& indices) {
  int64_t count = 0;
  for (int64_t index : indices) count += static_cast<int64_t>(examples[index].input_ids.size());
  return count;
}

// What every step of a run reads: the settings, the data, the batch layout over the processes and
// the learning-rate schedule's length.
struct Schedule {
  const TrainingSettings& settings;
  const std::vector<TokenizedExample>& train_set;
  BatchLayout layout;
  int64_t pass_positions = 0;  // resolved from kModelScaledPassPositions
  int64_t total_steps = 0;
  int64_t warmup_steps = 0;
};

Schedule make_schedule(const model::ModelConfig& config, const TrainingSettings& settings,
                       const std::vector<TokenizedExample>& train_set, int64_t world_size) {
  const BatchLayout layout{static_cast<int64_t>(train_set.size()), settings.micro_batch, settings.grad_accum,
                           world_size, settings.seed};
  const int64_t total_steps = layout.steps_per_epoch() * settings.epochs;
  return {settings,
          train_set,
          layout,
          settings.pass_positions == kModelScaledPassPositions ? default_pass_positions(config) : settings.pass_positions,
          total_steps,
          warmup_steps_for_ratio(settings.warmup_ratio, total_steps)};
}

// Loads the checkpoint at `checkpoint_file` into `state`, the model's adapter and the optimizer when
// there is one, and says whether it did; throws Error when one is there without `resume`, or it
// belongs to another run (its settings differ from state.settings) or is beyond `total_steps`.
bool resume_from(const std::filesystem::path& checkpoint_file, bool resume, int64_t total_steps,
                 const model::Model& model, AdamW& optimizer, TrainingCheckpoint& state) {
  if (!std::filesystem::exists(checkpoint_file)) return false;
  if (!resume)
    fail_at(checkpoint_file, "a training checkpoint is already there: pass --resume to continue it, or choose another --out");
  const io::Json expected_settings = state.settings;
  state = load_training_checkpoint(checkpoint_file);
  check_resume_settings(state.settings, expected_settings, checkpoint_file);
  if (state.step > total_steps) fail_at(checkpoint_file, "checkpoint is beyond the last step of this run");
  restore_adapter(model, state.adapter, checkpoint_file);
  try {
    optimizer.load_state(state.optimizer, state.step);
  } catch (const Error& e) {
    fail_at(checkpoint_file, e.what());
  }
  return true;
}

// What one optimizer step did.
struct StepResult {
  double loss = 0.0;       // mean cross-entropy per target token over the step's micro-batches
  double grad_norm = 0.0;  // before clipping
  double lr = 0.0;
  int64_t tokens = 0;      // tokens of the step's micro-batches, on every process
};

// Runs this process's micro-batches of `step` forward and backward (rank r takes micro-batches r,
// r + world size, ...), sums gradients and loss over the group, clips and steps the optimizer;
// throws Error for a non-finite loss.
StepResult optimizer_step(model::Model& model, const Schedule& schedule, int64_t step,
                          const std::vector<at::Tensor>& parameters, AdamW& optimizer,
                          distributed::ProcessGroup& group) {
  const TrainingSettings& settings = schedule.settings;
  const std::vector<TokenizedExample>& train_set = schedule.train_set;
  const std::vector<std::vector<int64_t>> micro_batches = step_micro_batches(schedule.layout, train_set, step);
  StepResult result;
  int64_t step_targets = 0;
  for (const auto& indices : micro_batches) {
    step_targets += target_tokens(train_set, indices);
    result.tokens += total_tokens(train_set, indices);
  }
  double local_loss_sum = 0.0;
  std::vector<size_t> own;
  for (size_t j = group.rank(); j < micro_batches.size(); j += group.world_size()) own.push_back(j);
  for (const std::vector<size_t>& pass : group_passes(micro_batches, own, train_set, schedule.pass_positions)) {
    std::vector<std::vector<int64_t>> members;
    std::vector<uint64_t> seeds;
    for (const size_t j : pass) {
      members.push_back(micro_batches[j]);
      seeds.push_back(dropout_seed(settings.seed, step, static_cast<int64_t>(j)));
    }
    const Batch batch = collate_pass(train_set, members, model.device());
    const at::Tensor loss_sum = summed_target_loss(model, batch, /*training=*/true, seeds);
    if (step_targets > 0) (loss_sum / double(step_targets)).backward();
    local_loss_sum += loss_sum.item<double>();
  }
  all_reduce_gradients(parameters, group);
  at::Tensor loss_total = at::tensor({local_loss_sum}, at::kDouble).to(model.device());
  group.all_reduce_sum(loss_total);
  result.loss = step_targets > 0 ? loss_total.item<double>() / double(step_targets) : 0.0;
  if (!std::isfinite(result.loss))
    throw Error(fmt::format("training loss became {} at step {} (try a lower --lr)", result.loss, step + 1));
  result.grad_norm = clip_gradients(parameters, settings.max_grad_norm);
  result.lr = cosine_with_warmup_lr(settings.lr, step, schedule.warmup_steps, schedule.total_steps);
  optimizer.step(result.lr);
  for (const at::Tensor& parameter : parameters) const_cast<at::Tensor&>(parameter).mutable_grad().reset();
  return result;
}

}  // namespace

int64_t default_pass_positions(const model::ModelConfig& config) {
  const double reference = 24.0 * 1024.0;  // Qwen1.5-0.5B: layers x hidden
  return static_cast<int64_t>(2048.0 * reference / double(std::max<int64_t>(1, config.num_hidden_layers * config.hidden_size)));
}

std::filesystem::path training_checkpoint_path(const std::filesystem::path& output_dir) {
  return output_dir / "checkpoint.safetensors";
}

double validation_loss(const model::Model& model, const std::vector<TokenizedExample>& examples, int64_t micro_batch,
                       distributed::ProcessGroup& group) {
  at::NoGradGuard no_grad;
  std::vector<int64_t> order(examples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return examples[a].input_ids.size() != examples[b].input_ids.size()
               ? examples[a].input_ids.size() > examples[b].input_ids.size()
               : a < b;
  });
  double loss_sum = 0.0;
  int64_t tokens = 0;
  int64_t piece = 0;
  for (size_t start = 0; start < order.size(); start += micro_batch, ++piece) {
    if (piece % group.world_size() != group.rank()) continue;
    const std::vector<int64_t> indices(order.begin() + start,
                                       order.begin() + std::min(order.size(), start + size_t(micro_batch)));
    const Batch batch = collate_pass(examples, {indices}, model.device());
    loss_sum += summed_target_loss(model, batch, /*training=*/false).item<double>();
    tokens += batch.loss_targets.numel();
  }
  at::Tensor totals = at::tensor({loss_sum, double(tokens)}, at::kDouble).to(model.device());
  group.all_reduce_sum(totals);
  totals = totals.cpu();
  const double count = totals[1].item<double>();
  return count > 0 ? totals[0].item<double>() / count : std::nan("");
}

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The training log's record of one optimizer step (`done` steps done).
io::Json step_record(const StepResult& result, int64_t done, const Schedule& schedule, double step_seconds,
                     Clock::time_point start_time) {
  return {
      {"step", done},
      {"epoch", double(done) / double(schedule.layout.steps_per_epoch())},
      {"lr", result.lr},
      {"loss", result.loss},
      {"grad_norm", result.grad_norm},
      {"tokens_per_second", double(result.tokens) / std::max(step_seconds, 1e-9)},
      {"elapsed_seconds", seconds_since(start_time)},
  };
}

// Advances the progress line by one step, showing its record's losses and learning rate and `rate` tokens/s.
void show_step(io::Progress& progress, const io::Json& record, double rate) {
  std::string status = fmt::format("loss {:.4f}", record["loss"].get<double>());
  if (record.contains("val_loss")) status += fmt::format(" val {:.4f}", record["val_loss"].get<double>());
  progress.advance(1, status + fmt::format(" lr {:.2e} {:.0f} tok/s", record["lr"].get<double>(), rate));
}

}  // namespace

TrainingSummary train_lora(model::Model& model, const TrainingSettings& settings,
                           const std::vector<TokenizedExample>& train_set,
                           const std::vector<TokenizedExample>& validation_set, const TrainingOutput& output,
                           distributed::ProcessGroup& group) {
  validate(settings);
  const model::LoraConfig lora = lora_config(settings, output.base_model);
  const std::filesystem::path& output_dir = output.dir;
  if (train_set.empty()) throw Error("no training examples");
  const Schedule schedule = make_schedule(model.config, settings, train_set, group.world_size());
  check_training_can_learn(static_cast<int64_t>(train_set.size()), settings.micro_batch, group.world_size(), lora.alpha,
                           settings.lr, schedule.warmup_steps, schedule.total_steps);
  const bool writer = group.is_main();
  const std::filesystem::path checkpoint_file = training_checkpoint_path(output_dir);

  model::attach_new_lora(model, lora, settings.seed);
  const std::vector<at::Tensor> parameters = lora_parameters(model);
  for (const at::Tensor& parameter : parameters) const_cast<at::Tensor&>(parameter).requires_grad_(true);
  AdamW optimizer(parameters, adamw_options(settings));

  TrainingCheckpoint state;
  state.settings = run_settings(model, lora, settings, schedule.layout, train_set, validation_set);
  if (resume_from(checkpoint_file, output.resume, schedule.total_steps, model, optimizer, state) && writer &&
      output.show_progress)
    std::fprintf(stderr, "train: resuming from %s at step %lld of %lld\n", checkpoint_file.string().c_str(),
                 static_cast<long long>(state.step), static_cast<long long>(schedule.total_steps));
  if (writer) std::filesystem::create_directories(output_dir);
  TrainingLog log(writer ? output_dir / "training_log.jsonl" : std::filesystem::path(), state.log);

  auto save_checkpoint = [&](int64_t step) {
    state.step = step;
    state.log = log.records();
    state.adapter = adapter_tensors(model);
    state.optimizer = optimizer.state_tensors();
    save_training_checkpoint(state, checkpoint_file);
  };

  std::optional<io::Progress> progress;
  if (writer && output.show_progress) progress.emplace("train", schedule.total_steps - state.step, "steps");
  const Clock::time_point start_time = Clock::now();
  int64_t tokens_seen = 0;
  for (int64_t step = state.step; step < schedule.total_steps; ++step) {
    const Clock::time_point step_start = Clock::now();
    const StepResult result = optimizer_step(model, schedule, step, parameters, optimizer, group);
    const int64_t done = step + 1;
    const double step_seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
    tokens_seen += result.tokens;
    io::Json record = step_record(result, done, schedule, step_seconds, start_time);
    const bool last = done == schedule.total_steps;
    if (!validation_set.empty() && ((settings.eval_every > 0 && done % settings.eval_every == 0) || last)) {
      const double validation = validation_loss(model, validation_set, settings.micro_batch, group);
      record["val_loss"] = validation;
      if (!state.best_validation_loss || validation < *state.best_validation_loss) {
        state.best_validation_loss = validation;
        state.best_step = done;
        if (writer) model::save_lora_adapter(model, lora, output_dir);
      }
    }
    log.append(record);
    if (progress) show_step(*progress, record, double(tokens_seen) / std::max(1e-9, seconds_since(start_time)));
    if (writer && !last && settings.save_every > 0 && done % settings.save_every == 0) {
      save_checkpoint(done);
      plot_losses(log.records(), output_dir / "loss");
    }
  }
  if (progress) progress->finish();

  if (writer) {
    model::save_lora_adapter(model, lora, validation_set.empty() ? output_dir : output_dir / "final");
    plot_losses(log.records(), output_dir / "loss");
    save_checkpoint(schedule.total_steps);
  }
  for (const at::Tensor& parameter : parameters) const_cast<at::Tensor&>(parameter).requires_grad_(false);
  group.barrier();

  return summarize(log.records());
}

}  // namespace qtalign::train
