#include "cli/training_options.h"

#include <fmt/format.h>

#include <cstring>

namespace qtalign::cli {
namespace {

template <class Number>
void add_option(CLI::App* command, const std::string& option, const char* help, Number& field) {
  command->add_option(option, field, help)->capture_default_str();
}

void add_option(CLI::App* command, const std::string& option, const char* help, std::vector<std::string>& field) {
  command->add_option_function<std::string>(
             option, [&field](const std::string& list) { field = model::parse_lora_targets(list); }, help)
      ->default_str(fmt::format("{}", fmt::join(field, ",")));
}

void add_option(CLI::App* command, const std::string& option, const char* help, train::PromptTemplate& field) {
  command->add_option_function<std::string>(
             option, [&field](const std::string& name) { field = train::parse_prompt_template(name); }, help)
      ->default_str(train::prompt_template_name(field));
}

}  // namespace

void add_training_options(CLI::App* command, train::TrainingSettings& settings, TrainingOptionNames names) {
  const bool study = names == TrainingOptionNames::study_command;
  train::for_each_setting(settings, [&](const train::SettingNames& setting, auto& field) {
    if (study && std::strcmp(setting.key, "seed") == 0) return;
    const bool targets = std::strcmp(setting.key, "lora_targets") == 0;
    add_option(command, study && targets ? "--lora-targets" : setting.option, setting.help, field);
  });
}

}  // namespace qtalign::cli
