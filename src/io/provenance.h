#pragma once
// Where an output came from: content hashes, the date, the command line, the software and hardware
// that made it, and a fingerprint of the model weights. Results, adapters and reports record it.
#include <ATen/ATen.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace qtalign::io {

// The SHA-1 of a file's bytes in hex, as sha1sum prints it; throws Error naming an unreadable file.
std::string file_sha1(const std::filesystem::path& file);

// The current UTC time in ISO 8601, e.g. "2024-05-01T12:34:56Z".
std::string utc_timestamp();

// Remembers the program's arguments for command_line() (main calls it once).
void set_command_line(int argc, const char* const* argv);

// The arguments main recorded, argv[0] included (empty when none were recorded).
std::vector<std::string> command_line();

// qtalign's version: `git describe` of the checkout it was configured from, else the project version.
std::string qtalign_version();

// {"qtalign", "libtorch", "blas"}: the versions of the software that computed an output.
Json software_versions();

// {"cpu", "hardware_threads", "threads"} and, on a GPU, {"gpu"}: where an output was computed.
Json hardware(at::Device device);

// {"command_line", "software", "hardware", "date"}: the record every output carries.
Json run_provenance(at::Device device);

// A fingerprint of a checkpoint's weights (its *.safetensors files): {"method": "headers", "sha1"}
// over each file's name, size and header, which reads only the headers; with `full_content`,
// {"method": "content", "sha1"} over every byte (a SHA-1 list over 64 MiB chunks, read in turn).
// Throws Error naming the directory when it holds no safetensors file.
Json weights_fingerprint(const std::filesystem::path& directory, bool full_content);

}  // namespace qtalign::io
