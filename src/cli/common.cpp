#include "cli/common.h"

#include "data/data_dir.h"
#include "io/error.h"

namespace qtalign::cli {

CLI::Validator at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& input) {
        double value = 0;
        // NaN compares false: refused too.
        if (CLI::detail::lexical_cast(input, value) && value >= static_cast<double>(minimum)) return std::string();
        return "must be at least " + std::to_string(minimum) + ", not " + input;
      },
      "at least " + std::to_string(minimum));
}

CLI::Option* with_checks(CLI::Option* option, const io::OptionInfo& info) {
  if (info.required) option->required();
  if (info.minimum) option->check(at_least(*info.minimum));
  if (!info.choices.empty()) option->check(CLI::IsMember(info.choices));
  if (!info.needs.empty()) option->needs(info.needs);
  if (!info.excludes.empty()) option->excludes(info.excludes);
  if (info.existing_file) option->check(CLI::ExistingFile);
  return option;
}

CLI::Option* add_listed(CLI::App* command, const io::OptionInfo& info, bool& field) {
  return command->add_flag(info.name, field, info.help);
}

io::GivenOption given_on(const CLI::App* command) {
  return [command](const std::string& option) {
    const CLI::Option* given = command->get_option_no_throw(option);
    return !given || given->count() > 0;
  };
}

void add_model_source_options(CLI::App* command, model::ModelSource& source) {
  with_checks(add_listed(command, model::model_option(), source.model_dir), model::model_option());
  add_listed(command, model::adapter_option(), source.adapter_dir);
}

void add_runtime_options(CLI::App* command, model::ComputeRequest& options) {
  add_listed_options(command, options);
}

void add_data_dir_option(CLI::App* command, std::filesystem::path& data_dir) {
  add_listed(command, data::data_dir_option(), data_dir);
}

void add_tasks_dir_option(CLI::App* command, std::filesystem::path& tasks_dir) {
  add_listed(command, data::tasks_dir_option(), tasks_dir);
}

void add_item_limit_options(CLI::App* command, ItemLimitOptions& options, const std::string& what) {
  CLI::Option* limit =
      command
          ->add_option("--limit", options.limit,
                       "N items " + what + ": a label-balanced sample drawn with --seed, the same items in every "
                       "language (0 = all)")
          ->capture_default_str()
          ->check(at_least(0));
  command->add_option("--first", options.first, "the first N items " + what + " instead of a balanced sample")
      ->check(at_least(1))
      ->excludes(limit);
}

data::ItemLimit item_limit(const ItemLimitOptions& options, uint64_t seed) {
  if (options.first > 0) return {static_cast<size_t>(options.first), data::ItemPick::first, seed};
  return {static_cast<size_t>(options.limit), data::ItemPick::balanced, seed};
}

void parse_command_words(CLI::App& app, const std::vector<std::string>& words) {
  app.require_subcommand(1);
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 consumes from the back
  app.parse(reversed);
}

void add_dist_timeout_option(CLI::App* command, double& timeout_seconds) {
  command->add_option("--dist-timeout", timeout_seconds,
                      "seconds before a silent or dead process is an error (under qtalign launch or torchrun)")
      ->capture_default_str();
}

}  // namespace qtalign::cli
