#include "model/process_runtime.h"

#include <chrono>

#include "io/error.h"

namespace qtalign::model {

ProcessRuntime join_processes(ComputeRequest options, double timeout_seconds) {
  if (!(timeout_seconds > 0)) throw Error("--dist-timeout must be positive");
  const distributed::DistributedEnv env = distributed::distributed_env_from_environment();
  options.threads = distributed::threads_per_process(env, options.threads);
  ProcessRuntime runtime;
  runtime.device = distributed::device_for_process(env, apply_threads_and_device(options));
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  runtime.group = distributed::ProcessGroup::join(env, runtime.device, timeout);
  return runtime;
}

}  // namespace qtalign::model
