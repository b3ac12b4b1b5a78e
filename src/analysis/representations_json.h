#pragma once
// The representation result's JSON form (representations.json), written and read back: the study's
// report and the base-vs-tuned comparison read it.
#include <filesystem>
#include <optional>

#include "analysis/representations.h"
#include "io/json_file.h"

namespace qtalign::analysis {

// A value that may be unset (a correlation of constant coordinates) as a number or null.
io::Json optional_json(const std::optional<double>& value);

// The result as JSON, and back (throws Error naming the file for anything missing or inconsistent).
io::Json representation_result_to_json(const RepresentationResult& result);
RepresentationResult representation_result_from_json(const io::Json& json, const std::filesystem::path& file);

}  // namespace qtalign::analysis
