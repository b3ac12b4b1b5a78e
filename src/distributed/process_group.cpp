#include "distributed/process_group.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "io/error.h"

namespace qtalign::distributed {
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

// The store key counting the collectives a rank has entered.
std::string entered_key(int rank) { return fmt::format("qtalign/collectives_entered/{}", rank); }

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
  env.local_world_size = env.world_size;
  if (const auto local_world = environment("LOCAL_WORLD_SIZE"))
    env.local_world_size = integer_variable("LOCAL_WORLD_SIZE", *local_world, 1, env.world_size);
  if (env.world_size > 1) {
    const auto address = environment("MASTER_ADDR");
    const auto port = environment("MASTER_PORT");
    if (!address || !port) throw Error("MASTER_ADDR and MASTER_PORT must be set when WORLD_SIZE > 1");
    env.master_addr = *address;
    env.master_port = integer_variable("MASTER_PORT", *port, 1, 65535);
  }
  return env;
}

int threads_per_process(const DistributedEnv& env, int requested) {
  if (requested > 0 || env.world_size == 1) return requested;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / env.local_world_size);
}

int free_loopback_port() {
  const int socket_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (socket_fd < 0) throw Error("cannot create a socket to find a free port on 127.0.0.1");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // the kernel picks one
  socklen_t length = sizeof(address);
  const bool ok = ::bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(socket_fd);
  if (!ok) throw Error("cannot find a free port on 127.0.0.1 (pass --master-port)");
  return ntohs(address.sin_port);
}

at::Device device_for_process(const DistributedEnv& env, at::Device device) {
  if (device.is_cuda() && !device.has_index()) return at::Device(at::kCUDA, static_cast<at::DeviceIndex>(env.local_rank));
  return device;
}

struct ProcessGroup::Backend {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  at::Device device = at::kCPU;
  int64_t entered = 0;  // collectives this rank has entered

  // The ranks to blame for the failure of collective number `entered`: those that never entered it,
  // else those that do not say they are alive within a few seconds (the others say so here too).
  std::string lagging_ranks(int self, int world_size) const {
    std::vector<int> behind, silent;
    try {
      for (int rank = 0; rank < world_size; ++rank)
        if (rank != self && store->add(entered_key(rank), 0) < entered) behind.push_back(rank);
      if (!behind.empty())
        return fmt::format("rank {} died or stopped answering before reaching it", fmt::join(behind, ", "));
      store->set(alive_key(self), std::vector<uint8_t>{1});
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      for (int rank = 0; rank < world_size; ++rank) {
        if (rank == self) continue;
        while (!store->check({alive_key(rank)}) && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!store->check({alive_key(rank)})) silent.push_back(rank);
      }
    } catch (const std::exception&) {
      return "rank 0, which hosts the rendezvous store, is gone";
    }
    if (silent.empty()) return "every rank is still alive";
    return fmt::format("rank {} died or stopped answering inside it", fmt::join(silent, ", "));
  }

  std::string alive_key(int rank) const { return fmt::format("qtalign/alive_after/{}/{}", entered, rank); }
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
  backend->device = device;
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

template <typename Collective>
void ProcessGroup::run_collective(const char* what, Collective&& collective) {
  const int64_t number = ++backend_->entered;
  try {
    // The others read this count when a collective fails, to name the ranks that never came.
    backend_->store->add(entered_key(rank_), 1);
    collective(*backend_->group)->wait(timeout_);
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {} of {}: {} number {} failed within {} s: {} ({})", rank_, world_size_, what, number,
                            timeout_.count() / 1000.0, backend_->lagging_ranks(rank_, world_size_), first_line(e.what())));
  }
}

void ProcessGroup::all_reduce_sum(at::Tensor& tensor) {
  if (!backend_) return;
  std::vector<at::Tensor> tensors{tensor};
  run_collective("all-reduce", [&](c10d::ProcessGroup& group) { return group.allreduce(tensors); });
}

void ProcessGroup::barrier() {
  if (!backend_) return;
  run_collective("barrier", [](c10d::ProcessGroup& group) { return group.barrier(); });
}

bool ProcessGroup::broadcast_flag(bool value) {
  if (!backend_) return value;
  // Only rank 0 contributes, so the sum is its value.
  at::Tensor flag = at::full({1}, rank_ == 0 && value ? 1 : 0, at::kLong).to(backend_->device);
  all_reduce_sum(flag);
  return flag.cpu().item<int64_t>() != 0;
}

std::vector<std::string> ProcessGroup::all_gather_text(const std::string& text) {
  if (!backend_) return {text};
  at::Tensor lengths = at::zeros({world_size_}, at::kLong);
  lengths[rank_] = static_cast<int64_t>(text.size());
  lengths = lengths.to(backend_->device);
  all_reduce_sum(lengths);
  lengths = lengths.cpu();
  std::vector<int64_t> offsets{0};
  for (int rank = 0; rank < world_size_; ++rank) offsets.push_back(offsets.back() + lengths[rank].item<int64_t>());
  // Each rank fills only its own span, so the sum over ranks is the concatenation (one byte more
  // keeps the tensor non-empty when every text is).
  at::Tensor bytes = at::zeros({offsets.back() + 1}, at::kByte);
  std::memcpy(bytes.data_ptr<uint8_t>() + offsets[rank_], text.data(), text.size());
  bytes = bytes.to(backend_->device);
  all_reduce_sum(bytes);
  bytes = bytes.cpu();
  const char* data = reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>());
  std::vector<std::string> texts;
  for (int rank = 0; rank < world_size_; ++rank)
    texts.emplace_back(data + offsets[rank], static_cast<size_t>(offsets[rank + 1] - offsets[rank]));
  return texts;
}

}  // namespace qtalign::distributed
