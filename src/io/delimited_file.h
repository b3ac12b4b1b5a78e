#pragma once
// CSV and TSV files with a header row, read as records (JSON objects of strings) like JSON items.
#include <filesystem>
#include <vector>

#include "io/json_file.h"

namespace qtalign::io {

// Reads a delimited file (',' for CSV, '\t' for TSV; RFC 4180 double quotes, "" inside quotes, CRLF or
// LF): the first row names the columns, each further non-empty row becomes an object column -> cell.
// Throws Error naming the file and line for an unclosed quote, a row with another number of cells
// than the header, a repeated or empty column name, or invalid UTF-8.
std::vector<Json> read_delimited_records(const std::filesystem::path& path, char delimiter);

}  // namespace qtalign::io
