#pragma once
// What the analysis tests of a user's task share: a task file of its own, 2 labels in 3 languages
// (Basque, eu, none of the study's 20), with same-language answer words and demonstrations so that
// the logit lens and the study's representation prompt can read it.
#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace qtalign::testing {

// The same-language words of the task "mood" (good, bad) per language: none shares a prefix candidate
// with its English label, so the lens drops no item.
inline const std::map<std::string, std::vector<std::string>>& mood_words() {
  static const std::map<std::string, std::vector<std::string>> words{
      {"en", {"good", "bad"}}, {"de", {"toll", "mies"}}, {"eu", {"ona", "txarra"}}};
  return words;
}

// The sentences of item i in each language (parallel across languages; label good for even i).
inline const std::map<std::string, std::vector<std::string>>& mood_sentences() {
  static const std::map<std::string, std::vector<std::string>> sentences{
      {"en", {"I love this song.", "The food was cold.", "What a lovely day.", "The train was late again.",
              "My friends came to visit.", "I lost my keys."}},
      {"de", {"Ich liebe dieses Lied.", "Das Essen war kalt.", "Was für ein schöner Tag.",
              "Der Zug war wieder zu spät.", "Meine Freunde kamen zu Besuch.", "Ich habe meine Schlüssel verloren."}},
      {"eu", {"Abesti hau maite dut.", "Janaria hotza zegoen.", "Zein egun ederra.", "Trena berandu iritsi zen berriro.",
              "Nire lagunak bisitan etorri ziren.", "Giltzak galdu ditut."}}};
  return sentences;
}

// Writes <dir>/mood.json and its items (<dir>/items/<code>.jsonl); returns the task file.
inline std::filesystem::path write_mood_task(const std::filesystem::path& dir) {
  using nlohmann::json;
  std::filesystem::create_directories(dir / "items");
  const std::vector<std::array<std::string, 4>> languages = {
      {"en", "English", "Text", "Mood"}, {"de", "German", "Text", "Stimmung"}, {"eu", "Basque", "Testua", "Aldartea"}};
  json task = {{"labels", {"good", "bad"}},
               {"shots", 2},
               {"template", "{demonstrations}\n{Text}: {text}\n{Mood}: \""},
               {"items", {{"answer", "label"}}},
               {"languages", json::array()},
               {"lens", {{"native_labels", json::object()}, {"demonstrations", json::object()}}},
               {"output_types", {{"same_language", json::object()}}}};
  for (const auto& [code, name, text, mood] : languages) {
    std::string items;
    const std::vector<std::string>& sentences = mood_sentences().at(code);
    for (size_t i = 0; i < sentences.size(); ++i)
      items += json({{"text", sentences[i]}, {"label", i % 2 == 0 ? "good" : "bad"}}).dump() + "\n";
    io::write_file_atomically(dir / "items" / (code + ".jsonl"), items);
    const std::vector<std::string>& words = mood_words().at(code);
    // The demonstrations are the first two items' sentences, written out (English labels, or the language's own).
    const auto demonstrations = [&](const std::string& good, const std::string& bad) {
      return text + ": " + sentences[0] + "\n" + mood + ": \"" + good + "\"\n" + text + ": " + sentences[1] + "\n" +
             mood + ": \"" + bad + "\"";
    };
    task["languages"].push_back({{"code", code},
                                 {"name", name},
                                 {"items", "items/" + code + ".jsonl"},
                                 {"words", {{"Text", text}, {"Mood", mood}}},
                                 {"demonstrations", demonstrations("good", "bad")}});
    task["lens"]["native_labels"][code] = {{"good", words[0]}, {"bad", words[1]}};
    task["lens"]["demonstrations"][code] = demonstrations(words[0], words[1]);
  }
  const std::filesystem::path file = dir / "mood.json";
  io::write_file_atomically(file, task.dump(1));
  return file;
}

}  // namespace qtalign::testing
