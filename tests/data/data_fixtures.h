#pragma once
// What the data tests share: the raw benchmark JSON and scratch data directories that
// reuse the shared task folders with a modified prompts.json.
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "io/atomic_file.h"
#include "io/error.h"
#include "support/test_support.h"

namespace qtalign::data::fixtures {

using Json = nlohmann::json;

// A shared data file parsed with plain nlohmann (independently of the code under test).
inline Json raw_json(const std::string& relative) {
  return Json::parse(io::read_file(testing::shared_data_dir() / relative));
}

// Fills `dir` with prompts.json (the shared one after `edit`) and links to the shared task folders.
inline void make_data_dir(const std::filesystem::path& dir, const std::function<void(Json&)>& edit = {}) {
  Json prompts = raw_json("prompts.json");
  if (edit) edit(prompts);
  io::write_file_atomically(dir / "prompts.json", prompts.dump(1));
  for (const char* task : {"emotion", "snli", "paws"})
    std::filesystem::create_directory_symlink(testing::shared_data_dir() / task, dir / task);
}

// True when `text` contains `part`; for readable EXPECTs.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace qtalign::data::fixtures
