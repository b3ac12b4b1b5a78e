#pragma once
// A command's options told as data, without a command-line parser: each option's name, help text,
// checks and the spec field it reads and writes. A spec's header lists its options once, in a
// for_each_option(spec, visit) beside the spec; the command-line layer makes parser options of that
// list (src/cli/options.h) and the spec renders its command line from the same list (option_words),
// so the parser and the printed line cannot disagree.
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace qtalign::io {

struct OptionInfo {
  std::string name;                  // "--model", "-n,--nproc", or a positional argument's name
  std::string help;
  bool required = false;
  bool show_default = false;         // the help shows the field's value as the default
  std::optional<int64_t> minimum;    // a smaller value is refused ("must be at least <minimum>")
  std::vector<std::string> choices;  // a value not among them is refused
  std::string needs;                 // an option that must be given with this one
  std::string excludes;              // an option that must not be given with this one
  bool existing_file = false;        // the value must name an existing file

  // The same option with one more property, for lists written as option(...).mandatory().shown().
  OptionInfo mandatory() && { return with(required, true); }
  OptionInfo shown() && { return with(show_default, true); }
  OptionInfo at_least(int64_t value) && { return with(minimum, std::optional<int64_t>(value)); }
  OptionInfo one_of(std::vector<std::string> values) && { return with(choices, std::move(values)); }
  OptionInfo needing(std::string option) && { return with(needs, std::move(option)); }
  OptionInfo excluding(std::string option) && { return with(excludes, std::move(option)); }
  OptionInfo existing() && { return with(existing_file, true); }

 private:
  template <class Member, class Value>
  OptionInfo with(Member& member, Value value) {
    member = std::move(value);
    return std::move(*this);
  }
};

// An option with its name and help, no other property yet.
inline OptionInfo option(std::string name, std::string help) {
  OptionInfo info;
  info.name = std::move(name);
  info.help = std::move(help);
  return info;
}

// A field whose text is parsed by a function (an Error naming a bad value) and written back by another;
// the help shows name(field) as the default.
template <class Field>
struct Parsed {
  using Value = std::remove_const_t<Field>;
  Field& field;
  std::function<Value(const std::string&)> parse;
  std::function<std::string(const Value&)> name;
};

// `field` read with parse(text) and written back with name(value).
template <class Field, class Parse, class Name>
Parsed<Field> parsed(Field& field, Parse parse, Name name) {
  return {field, parse, name};
}

// A flag that sets `field` to false (e.g. --no-prefix-cache for a prefix_cache that defaults to true).
template <class Field>
struct InvertedFlag {
  Field& field;
};

// `field` as the flag that clears it.
template <class Field>
InvertedFlag<Field> inverted(Field& field) {
  return {field};
}

// Whether a list's entry is a view of a field (io::Parsed, io::InvertedFlag) rather than the field.
template <class Entry, class = void>
constexpr bool is_field_view = false;
template <class Entry>
constexpr bool is_field_view<Entry, std::void_t<decltype(std::declval<Entry&>().field)>> = true;

// For a list's signature: for_each_option(Spec& spec, ...) of one spec type, const or not.
template <class Spec, class Type>
using IfSpec = std::enable_if_t<std::is_same_v<std::remove_const_t<Spec>, Type>, int>;

// An option the command itself adds (it reads into no spec field, or into several); listed so that the
// list has every option of the command in its order, and rendered by the spec's own command_line.
struct CommandOwned {};

// The words that ask for `field`'s value with `info`'s option: a flag's name when set, name and value
// otherwise (a list: name and value per element), nothing for a CommandOwned or an empty path or list.
inline std::vector<std::string> option_words(const OptionInfo& info, bool field) {
  return field ? std::vector<std::string>{info.name} : std::vector<std::string>{};
}
template <class Field>
std::vector<std::string> option_words(const OptionInfo& info, const InvertedFlag<Field>& flag) {
  return option_words(info, !flag.field);
}
template <class Field>
std::vector<std::string> option_words(const OptionInfo& info, const Parsed<Field>& value) {
  return {info.name, value.name(value.field)};
}
inline std::vector<std::string> option_words(const OptionInfo&, const CommandOwned&) { return {}; }
inline std::vector<std::string> option_words(const OptionInfo& info, const std::string& field) {
  return {info.name, field};
}
inline std::vector<std::string> option_words(const OptionInfo& info, const std::filesystem::path& field) {
  return field.empty() ? std::vector<std::string>{} : std::vector<std::string>{info.name, field.string()};
}
// A number as the shortest text that reads back as the same value.
template <class Number, std::enable_if_t<std::is_arithmetic_v<Number>, int> = 0>
std::vector<std::string> option_words(const OptionInfo& info, Number field) {
  return {info.name, fmt::format("{}", field)};
}
template <class Element>
std::vector<std::string> option_words(const OptionInfo& info, const std::vector<Element>& field) {
  std::vector<std::string> words;
  for (const Element& element : field) {
    const std::vector<std::string> one = option_words(info, element);
    words.insert(words.end(), one.begin(), one.end());
  }
  return words;
}

// The words of every option in the list of `spec` (its for_each_option, found beside its type) whose
// value differs from a default-constructed spec's, in the list's order; required options always.
template <class Spec>
std::vector<std::string> option_words(const Spec& spec) {
  const Spec defaults{};
  std::vector<std::vector<std::string>> default_words;
  for_each_option(defaults, [&](const OptionInfo& info, const auto& field) {
    default_words.push_back(option_words(info, field));
  });
  std::vector<std::string> words;
  size_t index = 0;
  for_each_option(spec, [&](const OptionInfo& info, const auto& field) {
    const std::vector<std::string> own = option_words(info, field);
    if (info.required || own != default_words[index]) words.insert(words.end(), own.begin(), own.end());
    ++index;
  });
  return words;
}

// Whether the command line gave an option (such as "--epochs"); an option the command lacks counts as
// given, so that nothing is set for it.
using GivenOption = std::function<bool(const std::string& option)>;

// Throws Error naming the first of `options` that was given: in the combination `why` describes it
// would have no effect, which the user should hear rather than find out from the results.
void refuse_options_without_effect(const GivenOption& given, const std::vector<std::string>& options,
                                   const std::string& why);

}  // namespace qtalign::io
