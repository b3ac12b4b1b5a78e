#pragma once
// The study report, read from what the stages left in the study directory: accuracy tables and the
// comparison charts, the loss curves, the logit-lens and representation figures with their tables,
// and provenance. One document, rendered twice: report.html (self-contained, every image embedded as
// a data URI) and report.md (linking the image files beside it).
#include <filesystem>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace qtalign::report {

struct ReportTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string caption;
};

struct ReportFigure {
  std::filesystem::path image;  // a PNG inside the study directory
  std::string caption;
};

// One piece of a section: text, a highlighted notice, a table, a row of figures, or a collapsible
// group of further blocks.
struct ReportBlock {
  enum class Kind { paragraph, notice, table, figures, details };
  Kind kind = Kind::paragraph;
  std::string text;  // paragraph / notice text, or the details' summary line
  ReportTable table;
  std::vector<ReportFigure> figures;
  std::vector<ReportBlock> children;
};

struct ReportSection {
  std::string title;
  std::vector<ReportBlock> blocks;
};

struct ReportDocument {
  std::string title;
  std::vector<ReportSection> sections;
};

// The stages recorded in a study.json, in the order they first ran.
ReportTable stage_table(const io::Json& study);

// Gathers the report from a study directory; sections whose stage has not produced its outputs say so.
// Throws Error naming the file when an output is malformed.
ReportDocument build_study_report(const std::filesystem::path& study_dir);

// The document as one self-contained HTML page (images read from study_dir and embedded as base64).
std::string render_report_html(const ReportDocument& document, const std::filesystem::path& study_dir);

// The document as Markdown, images linked by their paths relative to the study directory.
std::string render_report_markdown(const ReportDocument& document);

// Writes study_dir/report.html and study_dir/report.md atomically.
void write_study_report(const std::filesystem::path& study_dir);

}  // namespace qtalign::report
