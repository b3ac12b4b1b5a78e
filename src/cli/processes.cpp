#include "cli/processes.h"

#include <chrono>

#include "io/error.h"

namespace qtalign::cli {

ProcessRuntime join_processes(RuntimeOptions options, double timeout_seconds) {
  if (!(timeout_seconds > 0)) throw Error("--dist-timeout must be positive");
  const distributed::DistributedEnv env = distributed::distributed_env_from_environment();
  options.threads = distributed::threads_per_process(env, options.threads);
  ProcessRuntime runtime;
  runtime.device = distributed::device_for_process(env, apply_runtime_options(options));
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  runtime.group = distributed::ProcessGroup::join(env, runtime.device, timeout);
  return runtime;
}

ProcessRuntime lent_or_joined(const ProcessRuntime* lent, const RuntimeOptions& options, double timeout_seconds) {
  return lent ? *lent : join_processes(options, timeout_seconds);
}

void add_dist_timeout_option(CLI::App* command, double& timeout_seconds) {
  command->add_option("--dist-timeout", timeout_seconds,
                      "seconds before a silent or dead process is an error (under qtalign launch or torchrun)")
      ->capture_default_str();
}

}  // namespace qtalign::cli
