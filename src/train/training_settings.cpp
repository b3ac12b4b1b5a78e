#include "train/training_settings.h"

#include <fmt/format.h>

#include <cmath>

#include "io/error.h"

namespace qtalign::train {
namespace {

io::Json json_value(int64_t value) { return value; }
io::Json json_value(uint64_t value) { return value; }
io::Json json_value(double value) { return value; }
io::Json json_value(const std::vector<std::string>& value) { return value; }
io::Json json_value(PromptTemplate value) { return prompt_template_name(value); }

std::string argument_text(int64_t value) { return std::to_string(value); }
// The shortest text that reads back as the same double.
std::string argument_text(double value) { return fmt::format("{}", value); }
std::string argument_text(const std::vector<std::string>& value) { return fmt::format("{}", fmt::join(value, ",")); }

// Reads one setting's JSON value into `field`, or says which kind of value it must be.
class ValueReader {
 public:
  ValueReader(const io::Json& value, const std::filesystem::path& file, const std::string& key)
      : value_(value), file_(file), key_(key) {}

  void operator()(int64_t& field) const {
    if (!value_.is_number_integer()) refuse("an integer");
    field = value_.get<int64_t>();
  }
  void operator()(uint64_t& field) const {
    if (!value_.is_number_unsigned()) refuse("a non-negative integer");
    field = value_.get<uint64_t>();
  }
  void operator()(double& field) const {
    if (!value_.is_number()) refuse("a number");
    field = value_.get<double>();
  }
  void operator()(std::vector<std::string>& field) const {
    if (!value_.is_array()) refuse("an array of module names");
    field.clear();
    for (const io::Json& name : value_) {
      if (!name.is_string()) refuse("an array of module names");
      field.push_back(name.get<std::string>());
    }
  }
  void operator()(PromptTemplate& field) const {
    if (!value_.is_string()) refuse("a string (plain or chatml)");
    try {
      field = parse_prompt_template(value_.get<std::string>());
    } catch (const Error& e) {
      fail_at(file_, fmt::format("training setting '{}': {}", key_, e.what()));
    }
  }

 private:
  [[noreturn]] void refuse(const std::string& kind) const {
    fail_at(file_, fmt::format("training setting '{}' must be {}, got {}", key_, kind, value_.dump()));
  }

  const io::Json& value_;
  const std::filesystem::path& file_;
  const std::string& key_;
};

void require(bool in_range, const char* option, const char* range, const std::string& value) {
  if (!in_range) throw Error(fmt::format("{} must be {}, got {}", option, range, value));
}

void require_finite(double value, bool in_range, const char* option, const char* range) {
  require(std::isfinite(value) && in_range, option, range, argument_text(value));
}

}  // namespace

void validate(const TrainingSettings& s) {
  require(s.lora_r > 0, "--lora-r", "positive", argument_text(s.lora_r));
  require_finite(s.lora_alpha, true, "--lora-alpha", "a finite number");
  require_finite(s.lora_dropout, s.lora_dropout >= 0 && s.lora_dropout < 1, "--lora-dropout", "in [0, 1)");
  const std::vector<std::string> targets = model::parse_lora_targets(argument_text(s.lora_targets));
  require(targets == s.lora_targets, "--targets", "a list of distinct module names", argument_text(s.lora_targets));
  require_finite(s.lr, s.lr > 0, "--lr", "positive and finite");
  require(s.epochs > 0, "--epochs", "positive", argument_text(s.epochs));
  require(s.micro_batch > 0, "--batch", "positive", argument_text(s.micro_batch));
  require(s.grad_accum > 0, "--grad-accum", "positive", argument_text(s.grad_accum));
  require(s.pass_positions >= 0 || s.pass_positions == kModelScaledPassPositions, "--pass-positions",
          "0 or more, or -1 (scaled to the model)", argument_text(s.pass_positions));
  require_finite(s.warmup_ratio, s.warmup_ratio >= 0 && s.warmup_ratio <= 1, "--warmup-ratio", "in [0, 1]");
  require_finite(s.weight_decay, s.weight_decay >= 0, "--weight-decay", "finite and not negative");
  require_finite(s.max_grad_norm, s.max_grad_norm >= 0, "--max-grad-norm", "finite and not negative (0 = no clipping)");
  require(s.cutoff >= 2, "--cutoff", "at least 2", argument_text(s.cutoff));
  require_finite(s.val_ratio, s.val_ratio >= 0 && s.val_ratio < 1, "--val-ratio", "in [0, 1)");
  require(s.eval_every >= 0, "--eval-every", "0 or more", argument_text(s.eval_every));
  require(s.save_every >= 0, "--save-every", "0 or more", argument_text(s.save_every));
}

io::Json to_json(const TrainingSettings& settings) {
  io::Json json = io::Json::object();
  for_each_setting(settings, [&](const SettingNames& names, const auto& field) { json[names.key] = json_value(field); });
  return json;
}

TrainingSettings training_settings_from_json(const io::Json& json, const std::filesystem::path& file,
                                             TrainingSettings defaults) {
  if (!json.is_object()) fail_at(file, "training settings must be a JSON object, got " + json.dump());
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    for_each_setting(defaults, [&](const SettingNames& names, auto& field) {
      if (key != names.key) return;
      known = true;
      ValueReader(value, file, key)(field);
    });
    if (!known) {
      std::vector<std::string> keys;
      for_each_setting(defaults, [&](const SettingNames& names, const auto&) { keys.emplace_back(names.key); });
      fail_at(file, fmt::format("unknown training setting '{}' (known: {})", key, fmt::join(keys, ", ")));
    }
  }
  return defaults;
}

std::string lora_targets_text(const std::vector<std::string>& targets) { return argument_text(targets); }

std::vector<std::string> setting_arguments(const TrainingSettings& settings) { return io::option_words(settings); }

model::LoraConfig lora_config(const TrainingSettings& settings, const std::string& base_model) {
  model::LoraConfig lora;
  lora.r = settings.lora_r;
  lora.alpha = settings.lora_alpha;
  lora.dropout = settings.lora_dropout;
  lora.target_modules = settings.lora_targets;
  lora.base_model_name_or_path = base_model;
  return lora;
}

}  // namespace qtalign::train
