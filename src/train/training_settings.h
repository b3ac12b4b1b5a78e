#pragma once
// Every hyperparameter of a LoRA training run, declared once: the adapter, the optimizer and its
// schedule, the data split and the cutoff, validation and checkpoint intervals, the prompt template
// and the seed (SPEC §5's defaults). Its JSON form (keys: the field names) is what study settings
// and plans record; its option names are `qtalign train`'s.
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "io/json_file.h"
#include "io/options.h"
#include "model/lora.h"
#include "train/training_data.h"

namespace qtalign::train {

// pass_positions value: default_pass_positions(model), scaled to the model's shape.
constexpr int64_t kModelScaledPassPositions = -1;

struct TrainingSettings {
  int64_t lora_r = 8;
  double lora_alpha = 16.0;   // the adapter's scale is alpha / r
  double lora_dropout = 0.1;  // dropout on the LoRA input
  std::vector<std::string> lora_targets = {"q_proj", "v_proj"};  // among q/k/v/o/gate/up/down_proj
  double lr = 5e-5;           // peak learning rate of the cosine schedule
  int64_t epochs = 3;
  int64_t micro_batch = 4;    // examples per forward/backward pass, per process
  int64_t grad_accum = 4;     // micro-batches per optimizer step, per process
  // A process runs its micro-batches of a step together in forward passes of up to this many padded
  // token positions: faster, more activation memory, same results. 0 = one micro-batch per pass.
  int64_t pass_positions = kModelScaledPassPositions;
  double warmup_ratio = 0.1;  // fraction of the steps with linear warmup
  double weight_decay = 0.0;  // AdamW's decoupled weight decay
  double max_grad_norm = 1.0; // global gradient-norm clipping (0 = none)
  int64_t cutoff = 2048;      // maximum tokens per example (prompt + target)
  double val_ratio = 0.05;    // fraction of the examples held out for validation
  int64_t eval_every = 50;    // validation every N steps (and at the end); 0 = only at the end
  int64_t save_every = 100;   // checkpoint every N steps (and at the end); 0 = only at the end
  PromptTemplate prompt_template = PromptTemplate::plain;
  uint64_t seed = 0;          // adapter init, validation split, example order and dropout masks
};

// One setting's names: its JSON key, its `qtalign train` option, and what it means (the option's help).
struct SettingNames {
  const char* key;
  const char* option;
  const char* help;
};

// Calls visit(names, field) for every field of `settings` (const or not), in declaration order: the
// one list that the JSON form, the command line and the command-line options are made from.
template <class Settings, class Visit>
void for_each_setting(Settings& settings, Visit&& visit);

// Throws Error naming the option and the value when a setting is out of its range: a float that is
// not finite, lr <= 0, dropout outside [0, 1), warmup_ratio outside [0, 1], a negative weight_decay
// or max_grad_norm, val_ratio outside [0, 1), a count below its minimum, or an unknown LoRA target.
void validate(const TrainingSettings& settings);

// Every setting, by its field name (targets as an array, the template by name).
io::Json to_json(const TrainingSettings& settings);

// `defaults` with the settings `json` (an object) holds; throws Error naming `file` and the key for
// an unknown key or a value of the wrong type. Ranges are validate's.
TrainingSettings training_settings_from_json(const io::Json& json, const std::filesystem::path& file,
                                             TrainingSettings defaults);

// The `qtalign train` options asking for `settings`, those equal to the defaults left out.
std::vector<std::string> setting_arguments(const TrainingSettings& settings);

// The text --targets takes for `targets`: the module names joined by commas.
std::string lora_targets_text(const std::vector<std::string>& targets);

// Whose names the settings' options take: `train`'s, or the study commands', whose --seed and
// --targets are their own (the LoRA modules are --lora-targets, the seed is left to them).
enum class SettingOptionNames { train, study };

// Calls visit(info, field) for every setting as a listed option (io/options.h), its default shown,
// the targets and the template as views that parse and name them.
template <class Settings, class Visit>
void for_each_setting_option(Settings& settings, SettingOptionNames names, Visit&& visit) {
  for_each_setting(settings, [&](const SettingNames& setting, auto& field) {
    const bool study = names == SettingOptionNames::study;
    const std::string key = setting.key;
    if (study && key == "seed") return;
    const io::OptionInfo info = io::option(study && key == "lora_targets" ? "--lora-targets" : setting.option,
                                           setting.help).shown();
    using Field = std::remove_const_t<std::remove_reference_t<decltype(field)>>;
    if constexpr (std::is_same_v<Field, std::vector<std::string>>)
      visit(info, io::parsed(field, model::parse_lora_targets, lora_targets_text));
    else if constexpr (std::is_same_v<Field, PromptTemplate>)
      visit(info, io::parsed(field, parse_prompt_template, prompt_template_name));
    else
      visit(info, field);
  });
}

// `qtalign train`'s options of the settings, in their order (for io::option_words).
template <class Settings, class Visit, io::IfSpec<Settings, TrainingSettings> = 0>
void for_each_option(Settings& settings, Visit&& visit) {
  for_each_setting_option(settings, SettingOptionNames::train, visit);
}

// The adapter the settings ask for, naming `base_model` as its base in adapter_config.json.
model::LoraConfig lora_config(const TrainingSettings& settings, const std::string& base_model);

template <class Settings, class Visit>
void for_each_setting(Settings& settings, Visit&& visit) {
  visit(SettingNames{"lora_r", "--lora-r", "LoRA rank"}, settings.lora_r);
  visit(SettingNames{"lora_alpha", "--lora-alpha", "LoRA alpha (scale = alpha / r)"}, settings.lora_alpha);
  visit(SettingNames{"lora_dropout", "--lora-dropout", "dropout on the LoRA input"}, settings.lora_dropout);
  visit(SettingNames{"lora_targets", "--targets", "modules to adapt: q/k/v/o/gate/up/down_proj, comma-separated"},
        settings.lora_targets);
  visit(SettingNames{"lr", "--lr", "peak learning rate (AdamW)"}, settings.lr);
  visit(SettingNames{"epochs", "--epochs", "passes over the training examples"}, settings.epochs);
  visit(SettingNames{"micro_batch", "--batch", "examples per micro-batch (per process)"}, settings.micro_batch);
  visit(SettingNames{"grad_accum", "--grad-accum", "micro-batches per optimizer step (per process)"},
        settings.grad_accum);
  visit(SettingNames{"pass_positions", "--pass-positions",
                     "run a step's micro-batches together in forward passes of up to N token positions: faster, "
                     "more memory, same results (0 = one at a time; -1 = 2048 on the 0.5B shape, fewer in "
                     "proportion to layers x hidden)"},
        settings.pass_positions);
  visit(SettingNames{"warmup_ratio", "--warmup-ratio", "fraction of steps with linear warmup"}, settings.warmup_ratio);
  visit(SettingNames{"weight_decay", "--weight-decay", "AdamW decoupled weight decay"}, settings.weight_decay);
  visit(SettingNames{"max_grad_norm", "--max-grad-norm", "gradient-norm clipping (0 = none)"}, settings.max_grad_norm);
  visit(SettingNames{"cutoff", "--cutoff", "maximum tokens per example (prompt + target)"}, settings.cutoff);
  visit(SettingNames{"val_ratio", "--val-ratio", "fraction of examples held out for validation"}, settings.val_ratio);
  visit(SettingNames{"eval_every", "--eval-every", "validation every N steps (0 = at the end only)"},
        settings.eval_every);
  visit(SettingNames{"save_every", "--save-every", "checkpoint every N steps (0 = at the end only)"},
        settings.save_every);
  visit(SettingNames{"prompt_template", "--template", "prompt template: plain or chatml"}, settings.prompt_template);
  visit(SettingNames{"seed", "--seed", "seed of the adapter init, data order, dropout, split"}, settings.seed);
}

}  // namespace qtalign::train
