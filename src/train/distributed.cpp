#include "train/distributed.h"

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <optional>

#include "io/error.h"

namespace qtalign::train {
namespace {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int integer_variable(const char* name, const std::string& text, int low, int high) {
  size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < low || value > high)
    throw Error(fmt::format("environment variable {}='{}' must be an integer in [{}, {}]", name, text, low, high));
  return value;
}

// c10d's messages carry a C++ backtrace after the first line.
std::string first_line(const char* message) {
  const std::string text(message);
  return text.substr(0, text.find('\n'));
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

}  // namespace

DistributedEnv distributed_env_from_environment() {
  DistributedEnv env;
  const auto world = environment("WORLD_SIZE");
  const auto rank = environment("RANK");
  if (!world && !rank) return env;
  if (!world || !rank) throw Error("RANK and WORLD_SIZE must be set together (torchrun-style launch)");
  env.world_size = integer_variable("WORLD_SIZE", *world, 1, 1 << 16);
  env.rank = integer_variable("RANK", *rank, 0, env.world_size - 1);
  if (const auto local = environment("LOCAL_RANK")) env.local_rank = integer_variable("LOCAL_RANK", *local, 0, 1 << 16);
  if (env.world_size > 1) {
    const auto address = environment("MASTER_ADDR");
    const auto port = environment("MASTER_PORT");
    if (!address || !port) throw Error("MASTER_ADDR and MASTER_PORT must be set when WORLD_SIZE > 1");
    env.master_addr = *address;
    env.master_port = integer_variable("MASTER_PORT", *port, 1, 65535);
  }
  return env;
}

struct ProcessGroup::Backend {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
};

ProcessGroup::ProcessGroup() = default;
ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::join(const DistributedEnv& env, at::Device device,
                                                 std::chrono::milliseconds timeout) {
  auto group = std::make_unique<ProcessGroup>();
  group->rank_ = env.rank;
  group->world_size_ = env.world_size;
  group->timeout_ = timeout;
  if (env.world_size == 1) return group;
  auto backend = std::make_unique<Backend>();
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    backend->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
#ifdef USE_C10D_NCCL
    if (device.is_cuda()) {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      backend->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(backend->store, env.rank, env.world_size, options);
    }
#endif
    if (!backend->group) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      // Gloo binds its own sockets: on the interface GLOO_SOCKET_IFNAME names, on loopback for a
      // single-machine group, else on the address this host's name resolves to.
      if (const auto interface = environment("GLOO_SOCKET_IFNAME"))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*interface));
      else if (is_loopback(env.master_addr))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      backend->group = c10::make_intrusive<c10d::ProcessGroupGloo>(backend->store, env.rank, env.world_size, options);
    }
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {} of {}: could not form the process group at {}:{} within {} s: {}", env.rank,
                            env.world_size, env.master_addr, env.master_port, timeout.count() / 1000.0, first_line(e.what())));
  }
  group->backend_ = std::move(backend);
  return group;
}

void ProcessGroup::all_reduce_sum(at::Tensor& tensor) {
  if (!backend_) return;
  std::vector<at::Tensor> tensors{tensor};
  try {
    backend_->group->allreduce(tensors)->wait(timeout_);
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {} of {}: all-reduce failed (a rank died or stopped answering within {} s): {}",
                            rank_, world_size_, timeout_.count() / 1000.0, first_line(e.what())));
  }
}

void ProcessGroup::barrier() {
  if (!backend_) return;
  try {
    backend_->group->barrier()->wait(timeout_);
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {} of {}: barrier failed (a rank died or stopped answering within {} s): {}", rank_,
                            world_size_, timeout_.count() / 1000.0, first_line(e.what())));
  }
}

}  // namespace qtalign::train
