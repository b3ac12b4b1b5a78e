// A command's options told as data (io/options.h): the words a spec's list renders, against the
// command line written out by hand, and the properties an OptionInfo chain sets.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/error.h"
#include "io/options.h"

namespace qtalign::io {
namespace {

using Words = std::vector<std::string>;

enum class Colour { red, green };

Colour parse_colour(const std::string& name) {
  if (name == "red") return Colour::red;
  if (name == "green") return Colour::green;
  throw Error("unknown colour " + name);
}

std::string colour_name(Colour colour) { return colour == Colour::red ? "red" : "green"; }

struct PaintSpec {
  std::filesystem::path out;
  std::string brush = "round";
  int64_t coats = 2;
  double thickness = 0.5;
  uint64_t seed = 0;
  Colour colour = Colour::red;
  bool dry = false;
  bool primer = true;
  std::vector<std::filesystem::path> layers;
  std::vector<int64_t> widths;
};

template <class Spec, class Visit, IfSpec<Spec, PaintSpec> = 0>
void for_each_option(Spec& spec, Visit&& visit) {
  visit(option("--out", "where").mandatory(), spec.out);
  visit(option("--brush", "which brush").shown(), spec.brush);
  visit(option("--coats", "how many").shown().at_least(1), spec.coats);
  visit(option("--thickness", "how thick"), spec.thickness);
  visit(option("--threads", ""), CommandOwned{});
  visit(option("--seed", "seed"), spec.seed);
  visit(option("--colour", "which colour"), parsed(spec.colour, parse_colour, colour_name));
  visit(option("--dry", "let it dry"), spec.dry);
  visit(option("--no-primer", "skip the primer"), inverted(spec.primer));
  visit(option("--layer", "layers, one per option"), spec.layers);
  visit(option("--width", "widths, one per option"), spec.widths);
}

TEST(OptionWords, ADefaultSpecGivesOnlyItsRequiredOptions) {
  PaintSpec spec;
  spec.out = "wall.png";
  EXPECT_EQ(option_words(spec), (Words{"--out", "wall.png"}));
  EXPECT_EQ(option_words(PaintSpec{}), Words{});  // a required path left empty has no words
}

TEST(OptionWords, EveryChangedFieldInTheListsOrder) {
  PaintSpec spec;
  spec.out = "wall.png";
  spec.brush = "flat";
  spec.coats = 3;
  spec.thickness = 0.1;
  spec.seed = 18446744073709551615ULL;
  spec.colour = Colour::green;
  spec.dry = true;
  spec.primer = false;
  spec.layers = {"a.png", "b.png"};
  spec.widths = {3, 40};
  EXPECT_EQ(option_words(spec),
            (Words{"--out", "wall.png", "--brush", "flat", "--coats", "3", "--thickness", "0.1", "--seed",
                   "18446744073709551615", "--colour", "green", "--dry", "--no-primer", "--layer", "a.png", "--layer",
                   "b.png", "--width", "3", "--width", "40"}));
}

TEST(OptionWords, ANumberIsTheShortestTextThatReadsBackTheSame) {
  PaintSpec spec;
  spec.thickness = 1.0 / 3.0;
  EXPECT_EQ(option_words(spec), (Words{"--thickness", "0.3333333333333333"}));
  EXPECT_EQ(std::stod("0.3333333333333333"), 1.0 / 3.0);
}

TEST(OptionInfo, EachPropertyIsSetByItsCall) {
  const OptionInfo info =
      option("--a", "help").mandatory().shown().at_least(2).one_of({"x", "y"}).needing("--b").excluding("--c").existing();
  EXPECT_EQ(info.name, "--a");
  EXPECT_EQ(info.help, "help");
  EXPECT_TRUE(info.required);
  EXPECT_TRUE(info.show_default);
  EXPECT_EQ(info.minimum, 2);
  EXPECT_EQ(info.choices, (Words{"x", "y"}));
  EXPECT_EQ(info.needs, "--b");
  EXPECT_EQ(info.excludes, "--c");
  EXPECT_TRUE(info.existing_file);
  const OptionInfo plain = option("--d", "");
  EXPECT_FALSE(plain.required || plain.show_default || plain.minimum || plain.existing_file);
}

}  // namespace
}  // namespace qtalign::io
