#include "io/delimited_file.h"

#include <fmt/format.h>

#include <set>
#include <string>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/utf8.h"

namespace qtalign::io {
namespace {

struct Row {
  size_t line = 0;  // 1-based line where the row starts
  std::vector<std::string> cells;
};

// Splits the text into rows of cells, quotes resolved; blank lines are skipped.
std::vector<Row> parse_rows(const std::string& text, char delimiter, const std::filesystem::path& path) {
  std::vector<Row> rows;
  Row row;
  std::string cell;
  bool quoted = false, cell_started = false;
  size_t line = 1, quote_line = 0;
  row.line = 1;
  const auto end_row = [&] {
    if (cell_started || !row.cells.empty()) {
      row.cells.push_back(std::move(cell));
      rows.push_back(std::move(row));
    }
    row = Row{};
    cell.clear();
    cell_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
    } else if (c == '"' && cell.empty()) {
      quoted = true;
      cell_started = true;
      quote_line = line;
    } else if (c == delimiter) {
      row.cells.push_back(std::move(cell));
      cell.clear();
      cell_started = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      row.line = ++line;
    } else {
      cell += c;
      cell_started = true;
    }
  }
  if (quoted) fail_at(path, fmt::format("line {}: a quoted cell is not closed", quote_line));
  end_row();
  return rows;
}

}  // namespace

std::vector<Json> read_delimited_records(const std::filesystem::path& path, char delimiter) {
  const std::string text = read_file(path);
  if (const auto bad = find_invalid_utf8(text)) fail_at(path, fmt::format("invalid UTF-8 at byte {}", *bad));
  const std::vector<Row> rows = parse_rows(text, delimiter, path);
  if (rows.empty()) fail_at(path, "file is empty");
  const std::vector<std::string>& header = rows.front().cells;
  std::set<std::string> seen;
  for (const std::string& name : header) {
    if (name.empty()) fail_at(path, "line 1: an empty column name");
    if (!seen.insert(name).second) fail_at(path, "line 1: the column '" + name + "' appears twice");
  }
  std::vector<Json> records;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].cells.size() != header.size())
      fail_at(path, fmt::format("line {}: {} cells, but the header has {} columns", rows[r].line,
                                rows[r].cells.size(), header.size()));
    Json record = Json::object();
    for (size_t c = 0; c < header.size(); ++c) record[header[c]] = rows[r].cells[c];
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace qtalign::io
