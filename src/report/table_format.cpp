#include "report/table_format.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace qtalign::report {
namespace {

constexpr const char* kAverageColumns[] = {"high", "low", "all", "seen", "unseen"};
// Each row averages its own seen (and unseen) languages: those columns do not rank the rows.
constexpr const char* kUnrankedColumns[] = {"seen", "unseen"};
// What the bold marks mean, for every caption.
constexpr const char* kBestNote =
    "Bold: a column's best value when no other row shows it too (none on a tie; never seen or unseen, whose "
    "languages differ from row to row).";

std::vector<TableCell> average_cells(const RowAverages& averages) {
  return {{averages.high_resource}, {averages.low_resource}, {averages.all}, {averages.seen}, {averages.unseen}};
}

// The blocks and rows of a table of `value` over `languages` (those evaluated, in table order).
NumberTable language_table(const GridTable& table, std::string caption, const std::vector<std::string>& excluded,
                           const std::function<std::optional<double>(const std::string&, const GridCell&)>& value,
                           bool mark_significance) {
  NumberTable result;
  result.caption = std::move(caption);
  const auto keep = [&](const std::vector<std::string>& languages) {
    std::vector<std::string> kept;
    for (const std::string& language : languages)
      if (std::find(excluded.begin(), excluded.end(), language) == excluded.end()) kept.push_back(language);
    return kept;
  };
  for (const auto& [name, languages] : {std::pair{"high-resource", keep(table.high_resource)},
                                        std::pair{"low-resource", keep(table.low_resource)},
                                        std::pair{"other", keep(table.other)}})
    if (!languages.empty()) {
      result.blocks.push_back(name);
      result.columns.push_back(languages);
    }
  result.blocks.push_back("averages");
  result.columns.emplace_back(std::begin(kAverageColumns), std::end(kAverageColumns));
  result.unranked.assign(std::begin(kUnrankedColumns), std::end(kUnrankedColumns));
  for (const GridRow& row : table.rows) {
    result.row_labels.push_back(row.label);
    std::vector<TableCell> cells;
    for (size_t block = 0; block + 1 < result.columns.size(); ++block)
      for (const std::string& language : result.columns[block]) {
        const GridCell& cell = row.cells.at(language);
        cells.push_back({value(language, cell), false, mark_significance && cell.significant()});
      }
    for (TableCell& cell : average_cells(row_averages(table, row, value))) cells.push_back(cell);
    result.cells.push_back(std::move(cells));
  }
  mark_best(result);
  return result;
}

std::string percent(double value) { return fmt::format("{:.1f}", 100 * value); }
std::string percent(const TableCell& cell) { return cell.value ? percent(*cell.value) : "–"; }

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string latex_escape(const std::string& text) {
  std::string escaped;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "=>") == 0) {
      escaped += "$\\Rightarrow$";
      ++i;
      continue;
    }
    if (text.compare(i, 3, "\u2020") == 0) {  // the dagger
      escaped += "$^{\\dagger}$";
      i += 2;
      continue;
    }
    switch (text[i]) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}':
        escaped += std::string("\\") + text[i];
        break;
      case '~': escaped += "\\textasciitilde{}"; break;
      case '^': escaped += "\\textasciicircum{}"; break;
      case '\\': escaped += "\\textbackslash{}"; break;
      default: escaped += text[i];
    }
  }
  return escaped;
}

std::string shots_words(const std::string& shots) {
  return shots == "default" ? "the task's own number of shots" : shots + " shots";
}

}  // namespace

std::vector<std::string> NumberTable::all_columns() const {
  std::vector<std::string> all;
  for (const auto& block : columns) all.insert(all.end(), block.begin(), block.end());
  return all;
}

NumberTable accuracy_table(const GridTable& table) {
  return language_table(
      table,
      fmt::format("{}: {} accuracy (%), {} labels, {}. {} † = change from the base model significant (exact "
                  "McNemar on the same items, Holm-corrected across the row's languages, p < {}). Seen = tuning "
                  "languages and target.",
                  table.model, table.task, table.labels, shots_words(table.shots), kBestNote, kSignificanceLevel),
      {}, [](const std::string&, const GridCell& cell) { return std::optional<double>(cell.accuracy); }, true);
}

NumberTable agreement_table(const GridTable& table) {
  return language_table(
      table,
      fmt::format("{}: {} agreement with English (%): share of items whose prediction equals the same model's "
                  "prediction on the parallel English item; {} labels, {}. {}",
                  table.model, table.task, table.labels, shots_words(table.shots), kBestNote),
      {"en"}, [](const std::string&, const GridCell& cell) { return cell.agreement; }, false);
}

void mark_best(NumberTable& table) {
  const std::vector<std::string> columns = table.all_columns();
  for (size_t column = 0; column < columns.size(); ++column) {
    for (auto& row : table.cells) row[column].best = false;
    if (std::find(table.unranked.begin(), table.unranked.end(), columns[column]) != table.unranked.end()) continue;
    // Ranked as shown, so that two values printed alike tie.
    std::optional<double> best;
    size_t holders = 0, holder = 0;
    for (size_t r = 0; r < table.cells.size(); ++r) {
      const TableCell& cell = table.cells[r][column];
      if (!cell.value) continue;
      const double shown = std::stod(percent(*cell.value));
      if (best && shown == *best) ++holders;
      if (!best || shown > *best) {
        best = shown;
        holders = 1;
        holder = r;
      }
    }
    if (holders == 1) table.cells[holder][column].best = true;
  }
}

std::string cell_markdown(const TableCell& cell) {
  std::string value = percent(cell);
  if (cell.best) value = "**" + value + "**";
  if (cell.significant) value += "†";
  return value;
}

std::string table_markdown(const NumberTable& table) {
  std::string text = "*" + table.caption + "*\n\n";
  std::string blocks;
  for (size_t b = 0; b < table.blocks.size(); ++b)
    blocks += fmt::format("{}{} ({})", b ? "; " : "", table.blocks[b], fmt::join(table.columns[b], " "));
  text += "Column blocks: " + blocks + ".\n\n| configuration |";
  std::string rule = "|---|";
  for (const std::string& column : table.all_columns()) {
    text += " " + column + " |";
    rule += "---:|";
  }
  text += "\n" + rule + "\n";
  for (size_t r = 0; r < table.cells.size(); ++r) {
    text += "| " + table.row_labels[r] + " |";
    for (const TableCell& cell : table.cells[r]) text += " " + cell_markdown(cell) + " |";
    text += "\n";
  }
  return text;
}

std::string table_csv(const NumberTable& table) {
  std::string text = "row,block,column,value,best,significant\n";
  for (size_t r = 0; r < table.cells.size(); ++r) {
    size_t column = 0;
    for (size_t b = 0; b < table.blocks.size(); ++b)
      for (const std::string& name : table.columns[b]) {
        const TableCell& cell = table.cells[r][column++];
        text += fmt::format("{},{},{},{},{},{}\n", csv_field(table.row_labels[r]), table.blocks[b], name,
                            cell.value ? fmt::format("{}", *cell.value) : "", cell.best ? 1 : 0, cell.significant ? 1 : 0);
      }
  }
  return text;
}

std::string table_latex(const NumberTable& table) {
  const size_t columns = table.all_columns().size();
  std::string text = "% needs \\usepackage{booktabs}\n\\begin{table}[t]\n\\centering\n\\small\n\\setlength{\\tabcolsep}{3pt}\n";
  text += "\\begin{tabular}{l" + std::string(columns, 'r') + "}\n\\toprule\n";
  std::string groups, rules;
  size_t first = 2;
  for (size_t b = 0; b < table.blocks.size(); ++b) {
    const size_t width = table.columns[b].size();
    groups += fmt::format(" & \\multicolumn{{{}}}{{c}}{{{}}}", width, latex_escape(table.blocks[b]));
    rules += fmt::format("\\cmidrule(lr){{{}-{}}}", first, first + width - 1);
    first += width;
  }
  text += groups + " \\\\\n" + rules + "\n";
  text += "Configuration";
  for (const std::string& column : table.all_columns()) text += " & " + latex_escape(column);
  text += " \\\\\n\\midrule\n";
  for (size_t r = 0; r < table.cells.size(); ++r) {
    text += latex_escape(table.row_labels[r]);
    for (const TableCell& cell : table.cells[r]) {
      std::string value = cell.value ? percent(cell) : "--";
      if (cell.best) value = "\\textbf{" + value + "}";
      if (cell.significant) value += "$^{\\dagger}$";
      text += " & " + value;
    }
    text += " \\\\\n";
    if (r == 0 && table.cells.size() > 1) text += "\\midrule\n";
  }
  text += "\\bottomrule\n\\end{tabular}\n\\caption{" + latex_escape(table.caption) + "}\n\\end{table}\n";
  return text;
}

}  // namespace qtalign::report
