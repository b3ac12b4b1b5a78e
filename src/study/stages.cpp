#include "study/stages.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "io/error.h"
#include "io/progress.h"
#include "io/provenance.h"

namespace qtalign::study {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

StudyRecord::StudyRecord(std::filesystem::path file, const io::Json& settings, const distributed::ProcessGroup& group)
    : file_(std::move(file)), keeper_(group.is_main()) {
  if (!keeper_) return;
  std::filesystem::create_directories(std::filesystem::absolute(file_).parent_path());
  if (std::filesystem::exists(file_)) {
    record_ = io::read_json_file(file_);
    const io::Json recorded = io::required_field<io::Json>(record_, "settings", file_);
    std::string differences;
    for (const auto& [key, value] : settings.items())
      if (!recorded.contains(key) || recorded[key] != value)
        differences += fmt::format("{}{} (was {}, now {})", differences.empty() ? "" : "; ", key,
                                   recorded.contains(key) ? recorded[key].dump() : "unset", value.dump());
    if (!differences.empty())
      fail_at(file_, "holds a study with other settings: " + differences +
                         ". Resume it with the same options, or use another --out");
  } else {
    record_ = {{"format", "qtalign-study"}, {"settings", settings}, {"stages", io::Json::object()}};
  }
  record_["stages"] = record_.value("stages", io::Json::object());
}

void StudyRecord::set(const std::string& key, io::Json value) {
  if (!keeper_) return;
  record_[key] = std::move(value);
  save();
}

void StudyRecord::stage(const std::string& name, const std::string& status, double seconds, io::Json details) {
  if (!keeper_) return;
  details["status"] = status;
  details["seconds"] = seconds;
  details["finished"] = io::utc_timestamp();
  io::Json& stages = record_["stages"];
  if (status == "skipped" && stages.contains(name)) {
    stages[name]["last_check"] = details;
  } else {
    // JSON objects keep no order: the stage's position in the pipeline goes with it.
    details["order"] = stages.contains(name) ? stages[name].value("order", stages.size()) : stages.size();
    stages[name] = std::move(details);
  }
  save();
}

void StudyRecord::save() const { io::write_json_file(file_, record_); }

bool StageRunner::begin(const std::string& name, const std::filesystem::path& done) {
  ++index_;
  const bool report = group_.is_main();
  if (group_.broadcast_flag(std::filesystem::exists(done))) {
    if (report)
      std::fprintf(stderr, "\n[%d/%d] %s: skipped, already done (%s)\n", index_, total_, name.c_str(), done.c_str());
    record_.stage(name, "skipped", 0.0);
    return false;
  }
  if (report) std::fprintf(stderr, "\n[%d/%d] %s\n", index_, total_, name.c_str());
  started_ = now_seconds();
  return true;
}

void StageRunner::finish(const std::string& name, io::Json details) {
  if (!group_.is_main()) return;
  const double seconds = now_seconds() - started_;
  std::fflush(stdout);  // a stage's tables (stdout) come before its closing line (stderr)
  std::fprintf(stderr, "[%d/%d] %s: done in %s\n", index_, total_, name.c_str(), io::format_duration(seconds).c_str());
  record_.stage(name, "done", seconds, std::move(details));
}

std::string quoted_command(const std::vector<std::string>& arguments) {
  std::string line = "qtalign";
  for (const std::string& argument : arguments) {
    if (!argument.empty() && argument.find_first_of(" \t\n\"'$\\`*?;&|<>()") == std::string::npos) {
      line += " " + argument;
      continue;
    }
    line += " '";
    for (const char c : argument) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += "'";
  }
  return line;
}

}  // namespace qtalign::study
