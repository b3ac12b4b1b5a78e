#pragma once
// What a results file records about where it came from: content hashes and the date.
#include <filesystem>
#include <string>

namespace qtalign::eval {

// The SHA-1 of a file's bytes in hex, as sha1sum prints it; throws Error naming an unreadable file.
std::string file_sha1(const std::filesystem::path& file);

// The current UTC time in ISO 8601, e.g. "2024-05-01T12:34:56Z".
std::string utc_timestamp();

}  // namespace qtalign::eval
