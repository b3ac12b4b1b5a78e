#pragma once
// What several subcommands share, declared once: option checks, the one place where listed options
// (io/options.h) become CLI11 options, the model and its adapter, the runtime options (threads,
// device, dtype, 4-bit loading), the data options and the item limits.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "data/sampling.h"
#include "io/options.h"
#include "model/compute_settings.h"
#include "model/loaded_model.h"
#include "model/process_runtime.h"

namespace qtalign::cli {

// A check of an option's value: a number of at least `minimum`, refused with "must be at least
// <minimum>" (CLI11's own range checks print their bound, a number of 309 digits).
CLI::Validator at_least(int64_t minimum);

// Whether `command`'s command line gave an option (one it lacks counts as given).
io::GivenOption given_on(const CLI::App* command);

// Adds an option that parse(text) reads into `field` as it is parsed (an Error naming a bad value ends
// the parse), its default shown as name(field).
template <class Field, class Parse, class Name>
CLI::Option* add_parsed_option(CLI::App* command, const std::string& option, Field& field, Parse parse, Name name,
                               const std::string& help) {
  return command
      ->add_option_function<std::string>(
          option, [&field, parse](const std::string& text) { field = parse(text); }, help)
      ->default_str(name(field));
}

// Makes `info`'s checks (io/options.h) of `option`: minimum, choices, needs, excludes, an existing file.
CLI::Option* with_checks(CLI::Option* option, const io::OptionInfo& info);

// The parser option for one listed option, by the kind of its field: a flag for a bool, a parsed
// option for io::Parsed, an option of the field's own type (CLI11's TEXT, INT, ...) otherwise.
template <class Field, std::enable_if_t<!io::is_field_view<Field>, int> = 0>
CLI::Option* add_listed(CLI::App* command, const io::OptionInfo& info, Field& field) {
  CLI::Option* option = command->add_option(info.name, field, info.help);
  return info.show_default ? option->capture_default_str() : option;
}
CLI::Option* add_listed(CLI::App* command, const io::OptionInfo& info, bool& field);
template <class Field>
CLI::Option* add_listed(CLI::App* command, const io::OptionInfo& info, const io::Parsed<Field>& value) {
  return add_parsed_option(command, info.name, value.field, value.parse, value.name, info.help);
}
template <class Field>
CLI::Option* add_listed(CLI::App* command, const io::OptionInfo& info, const io::InvertedFlag<Field>& flag) {
  Field& field = flag.field;
  return command->add_flag_callback(info.name, [&field] { field = false; }, info.help);
}

// What adds a command's own options (the io::CommandOwned entries of its list), by option name.
using OwnOptions = std::map<std::string, std::function<void()>>;

// Adds every option a list names (list(visit) calls visit(info, field) for each, as a spec's
// for_each_option does) to `command`, bound to the fields, in the list's order; `own` adds the
// command's own ones where the list names them.
template <class List>
void add_option_list(CLI::App* command, List&& list, const OwnOptions& own = {}) {
  list([&](const io::OptionInfo& info, auto&& field) {
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, io::CommandOwned>)
      own.at(info.name)();
    else
      with_checks(add_listed(command, info, field), info);
  });
}

// add_option_list of `spec`'s own list (its for_each_option, found beside its type).
template <class Spec>
void add_listed_options(CLI::App* command, Spec& spec, const OwnOptions& own = {}) {
  add_option_list(command, [&](auto&& visit) { for_each_option(spec, visit); }, own);
}

// Adds --model (required) and --adapter, the checkpoint and the LoRA adapter to attach, to a subcommand.
void add_model_source_options(CLI::App* command, model::ModelSource& source);

// Adds --threads, --device, --dtype, --quantize, --quant-blocksize and --double-quant to a subcommand.
void add_runtime_options(CLI::App* command, model::ComputeRequest& options);

// Adds --data-dir, the benchmark data, to a subcommand.
void add_data_dir_option(CLI::App* command, std::filesystem::path& data_dir);

// Adds --tasks-dir, the directory of task files read beside the study's tasks (every command that
// takes --task names its tasks by it).
void add_tasks_dir_option(CLI::App* command, std::filesystem::path& tasks_dir);

struct ItemLimitOptions {
  int64_t limit = 0;  // a label-balanced seeded sample of this many items (0 = all)
  int64_t first = 0;  // instead, the first this many items
};

// Adds --limit N (the balanced sample, the same items in every language) and --first N to a command;
// `what` says per what ("per language").
void add_item_limit_options(CLI::App* command, ItemLimitOptions& options, const std::string& what);

// The pick the options ask for, the sample drawn with `seed`.
data::ItemLimit item_limit(const ItemLimitOptions& options, uint64_t seed);

// Parses a command's words ({"eval", "--model", ...}) with the options on `app`, as main parses argv
// (CLI::ParseError for words the options refuse).
void parse_command_words(CLI::App& app, const std::vector<std::string>& words);

// Adds --dist-timeout (seconds) to a subcommand whose work join_processes shares.
void add_dist_timeout_option(CLI::App* command, double& timeout_seconds);

}  // namespace qtalign::cli
