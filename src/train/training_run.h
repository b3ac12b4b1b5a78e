#pragma once
// One LoRA training run as a library call: a typed specification in (the base model, the examples,
// the output directory, the settings, the compute settings), a typed summary out. It does all that
// `qtalign train` does: checks the settings and the inputs before any expensive step, holds the
// output directory, reads and tokenizes the examples, holds out the validation split, trains
// (trainer.h, with its outputs), and writes provenance.json beside the adapter.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "model/compute_settings.h"
#include "train/training_log.h"
#include "train/training_settings.h"

namespace qtalign::train {

struct TrainingSpec {
  std::filesystem::path model_dir;  // the base checkpoint, with its tokenizer.json
  std::filesystem::path data_file;  // question-translation examples (JSON array or JSONL)
  std::filesystem::path out_dir;    // the adapter directory
  TrainingSettings settings;
  bool resume = false;        // continue from the checkpoint in out_dir when there is one
  bool hash_weights = false;  // fingerprint the base weights by their full content in provenance.json
  model::ComputeSettings compute;
};

// Every option of `qtalign train`, in its order, with the field of `spec` (const or not) each reads and
// writes; --dist-timeout and the runtime options (--threads on) are the command's own.
template <class Spec, class Visit, io::IfSpec<Spec, TrainingSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  using io::option;
  visit(option("--model", "base model checkpoint directory").mandatory(), spec.model_dir);
  visit(option("--data", "training examples (JSON array or JSONL)").mandatory(), spec.data_file);
  visit(option("--out", "output adapter directory").mandatory(), spec.out_dir);
  for_each_setting_option(spec.settings, SettingOptionNames::train, visit);
  visit(option("--resume", "continue from the checkpoint in --out"), spec.resume);
  visit(option("--hash-weights",
               "fingerprint the base weights by their full content in provenance.json (default: headers and sizes)"),
        spec.hash_weights);
  visit(option("--dist-timeout", ""), io::CommandOwned{});
  visit(option("--threads", ""), io::CommandOwned{});
}

// Receives what an interrupted run's user should do to continue it; `qtalign train` says it on Ctrl-C.
using InterruptHint = std::function<void(const std::string&)>;

// Trains the adapter `spec` asks for on `group`'s processes (only rank 0 writes) and returns the
// summary of its whole log: a resumed run returns what the uninterrupted run returns. Throws Error,
// before loading any weight, for invalid settings, an output directory that cannot be one or that
// another run holds, a cutoff beyond the model's context, an unreadable example file or a tokenizer
// that does not fit the model; later for data without a trainable example and whatever train_lora
// refuses. Rank 0 reports progress on stderr; `hint` (when set) hears how to continue after an interruption.
TrainingSummary run(const TrainingSpec& spec, distributed::ProcessGroup& group, const InterruptHint& hint = {});

// The spec as the `qtalign train` command line that asks for it, {"train", "--model", ...}: the listed
// options (for_each_option) not at their defaults, in the list's order, then the compute options.
std::vector<std::string> command_line(const TrainingSpec& spec);

// What `qtalign train --help` says of a run: the examples, the outputs, data-parallel processes.
extern const char* const kTrainingHelp;

}  // namespace qtalign::train
