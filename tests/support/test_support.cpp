#include "support/test_support.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <random>
#include <stdexcept>
#include <thread>

#include "io/error.h"
#include "model/dense_linear.h"
#include "model/random_model.h"

extern char** environ;

namespace qtalign::testing {

std::filesystem::path shared_data_dir() { return QTALIGN_SHARED_DATA; }
std::filesystem::path source_dir() { return QTALIGN_SOURCE_DIR; }
std::filesystem::path qtalign_binary() { return QTALIGN_BINARY; }
std::string python() { return QTALIGN_PYTHON; }

at::Device test_device() {
  const char* requested = std::getenv("QTALIGN_TEST_DEVICE");
  if (!requested || !*requested) return at::kCPU;
  const at::Device device(requested);
  if (device.is_cuda() && !at::hasCUDA())
    throw std::runtime_error(std::string("QTALIGN_TEST_DEVICE=") + requested + " but this libtorch sees no CUDA device");
  return device;
}

TempDir::TempDir() {
  std::random_device entropy;
  path_ = std::filesystem::temp_directory_path() /
          ("qtalign-test-" + std::to_string(::getpid()) + "-" + std::to_string(entropy()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path mapped_file_containing(const void* address) {
  // Lines read "begin-end perms offset dev inode   path".
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, device, inode, path;
    fields >> range >> perms >> offset >> device >> inode;
    std::getline(fields >> std::ws, path);
    const size_t dash = range.find('-');
    const uintptr_t begin = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (target >= begin && target < end) return path.empty() || path[0] != '/' ? "" : path;
  }
  return "";
}

CommandResult run_command(const std::string& command_line) {
  CommandResult result;
  const std::string full = command_line + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + command_line);
  std::array<char, 4096> buffer;
  size_t count;
  while ((count = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), count);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult run_with_file_size_limit(const std::vector<std::string>& arguments, uint64_t max_file_bytes,
                                       bool ignore_sigxfsz) {
  std::vector<std::string> owned = arguments;
  std::vector<char*> argv;
  for (std::string& argument : owned) argv.push_back(argument.data());
  argv.push_back(nullptr);
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    const rlimit limit{static_cast<rlim_t>(max_file_bytes), static_cast<rlim_t>(max_file_bytes)};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    ::signal(SIGXFSZ, ignore_sigxfsz ? SIG_IGN : SIG_DFL);
    ::dup2(pipe_ends[1], STDOUT_FILENO);
    ::dup2(pipe_ends[1], STDERR_FILENO);
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_ends[1]);
  CommandResult result;
  std::array<char, 4096> buffer;
  ssize_t count;
  while ((count = ::read(pipe_ends[0], buffer.data(), buffer.size())) != 0) {
    if (count > 0) result.output.append(buffer.data(), static_cast<size_t>(count));
    else if (errno != EINTR) break;
  }
  ::close(pipe_ends[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += "'\\''";
    else quoted += c;
  }
  return quoted + "'";
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& arguments,
                                     const std::vector<std::string>& environment,
                                     const std::filesystem::path& output) {
  std::vector<std::string> variables = environment;
  for (char** entry = environ; *entry; ++entry) variables.emplace_back(*entry);
  std::vector<char*> argv, envp;
  std::vector<std::string> owned = arguments;
  for (std::string& argument : owned) argv.push_back(argument.data());
  argv.push_back(nullptr);
  for (std::string& variable : variables) envp.push_back(variable.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t spawned = -1;
  if (posix_spawn(&spawned, argv[0], &actions, nullptr, argv.data(), envp.data()) == 0) pid = spawned;
  posix_spawn_file_actions_destroy(&actions);
}

int BackgroundProcess::wait(double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill_now();
  return -1;
}

void BackgroundProcess::kill_now() {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  pid = -1;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no qtalign::Error was thrown";
  return "";
}

size_t line_count(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

model::ModelConfig wide_tiny_qwen2_config(int64_t vocab_size) {
  model::ModelConfig config = model::tiny_qwen2_config(vocab_size);
  config.hidden_size = model::kOneDnnMinimumWidth;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = 64;
  config.intermediate_size = 512;
  return config;
}

double relative_difference(const at::Tensor& y, const at::Tensor& expected) {
  return (y.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>() /
         expected.to(at::kDouble).abs().max().item<double>();
}

}  // namespace qtalign::testing
