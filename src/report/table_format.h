#pragma once
// The study's tables for people and papers: a grid table rendered as Markdown, CSV and LaTeX
// (booktabs). Columns are the evaluated languages in the paper's order in its two blocks
// (high-resource, then the others), then the block means and the all / seen / unseen means. A
// column's best value is marked (bold) only where one row has it alone, as shown (one decimal in
// percent): a tie marks nothing. Seen and unseen are never marked: each row averages its own languages
// there, so their values do not rank the rows. Tuned accuracies whose change from the base is
// significant (exact McNemar, Holm-corrected) carry a dagger.
#include <optional>
#include <string>
#include <vector>

#include "report/grid_table.h"

namespace qtalign::report {

struct TableCell {
  std::optional<double> value;  // a share in [0, 1] (shown in percent); absent: not applicable
  bool best = false;
  bool significant = false;
};

struct NumberTable {
  std::string caption;
  std::vector<std::string> blocks;             // the column groups' titles
  std::vector<std::vector<std::string>> columns;  // the columns of each block
  std::vector<std::string> row_labels;
  std::vector<std::vector<TableCell>> cells;   // [row][column over all blocks]
  std::vector<std::string> unranked;           // columns whose best is never marked

  // Every column, block after block.
  std::vector<std::string> all_columns() const;
};

// The accuracy of each row per language, with the averages; significance daggers on tuned cells.
NumberTable accuracy_table(const GridTable& table);

// The agreement with English of each row per non-English language, with the averages.
NumberTable agreement_table(const GridTable& table);

// Marks each ranked column's largest value as shown (one decimal in percent) when no other row shows
// it too.
void mark_best(NumberTable& table);

// A cell as Markdown: the percentage with one decimal ("–" without a value), **bold** when best, a
// dagger when significant.
std::string cell_markdown(const TableCell& cell);

// Markdown: a caption line, the table (values in percent, one decimal; a unique best in bold; dagger
// marks).
std::string table_markdown(const NumberTable& table);

// CSV, long form: one line per row and column (row,block,column,value,best,significant), values as
// shares with full precision, so that nothing is lost to formatting.
std::string table_csv(const NumberTable& table);

// A LaTeX table (booktabs; \usepackage{booktabs}): block headers with \cmidrule, best in \textbf,
// significance as ^{\dagger}.
std::string table_latex(const NumberTable& table);

}  // namespace qtalign::report
