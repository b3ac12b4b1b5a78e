#include "io/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace qtalign::io {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
  draw(false);
}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::advance(int64_t count, const std::string& status) {
  done_ += count;
  if (!status.empty()) status_ = status;
  const auto now = std::chrono::steady_clock::now();
  // Terminals redraw often; logs get a line every few seconds so they stay readable.
  const auto interval = terminal_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ >= interval) draw(false);
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  if (!status.empty()) status_ = status;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final_line) {
  const auto now = std::chrono::steady_clock::now();
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done_) / rate : NAN;
  std::string line;
  if (terminal_ && total_ > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * std::min<double>(1.0, double(done_) / total_));
    line = fmt::format("\r{} [{}{}] {}/{} {:.2f} {}/s {} {}", label_, std::string(filled, '#'),
                       std::string(width - filled, '.'), done_, total_, rate, unit_,
                       final_line ? "in " + format_duration(elapsed) : "ETA " + format_duration(eta),
                       status_);
    line += "\x1b[K";
    if (final_line) line += "\n";
  } else {
    line = fmt::format("{}: {}/{} {} {:.2f} {}/s {} {}\n", label_, done_, total_, unit_, rate, unit_,
                       final_line ? "done in " + format_duration(elapsed) : "ETA " + format_duration(eta),
                       status_);
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace qtalign::io
