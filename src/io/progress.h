#pragma once
// Progress of long work on stderr: a redrawn bar with rate and ETA on a terminal, plain lines
// (at most one every few seconds) when stderr is a file or pipe.
#include <chrono>
#include <cstdint>
#include <string>

namespace qtalign::io {

class Progress {
 public:
  // Starts reporting `label` for `total` units of `unit` (e.g. "items", "steps").
  Progress(std::string label, int64_t total, std::string unit = "items");
  // Finishes the line if finish() was not called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Records `count` more units done; `status` (e.g. "loss 1.23") is shown beside the bar.
  void advance(int64_t count = 1, const std::string& status = "");
  // Prints the final state once.
  void finish(const std::string& status = "");

  int64_t done() const { return done_; }

 private:
  void draw(bool final_line);

  std::string label_;
  std::string unit_;
  std::string status_;
  int64_t total_;
  int64_t done_ = 0;
  bool terminal_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Formats seconds as "1h02m", "3m05s" or "12s".
std::string format_duration(double seconds);

}  // namespace qtalign::io
