#pragma once
// Process groups on PyTorch's c10d, started torchrun-style: every process gets RANK, WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT (LOCAL_RANK picks its GPU, LOCAL_WORLD_SIZE says how many share the
// machine); rank 0 hosts the TCP store. Gloo carries CPU tensors; NCCL carries CUDA tensors when
// libtorch was built with it. Training sums gradients over a group; evaluation shares its work over
// one (distributed/shared_work.h).
#include <ATen/ATen.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace qtalign::distributed {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;  // processes on this machine
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads torchrun's variables; all absent means a single process. Throws Error for a partial or
// inconsistent set (e.g. RANK >= WORLD_SIZE, a port outside 1..65535).
DistributedEnv distributed_env_from_environment();

// The compute threads of one process: `requested`, or when 0 (all cores) the machine's cores shared
// by the processes on it, as torchrun sets OMP_NUM_THREADS.
int threads_per_process(const DistributedEnv& env, int requested);

// A TCP port on 127.0.0.1 that nothing listens on right now (a rendezvous port for processes on this
// machine); throws Error when none can be had.
int free_loopback_port();

// The device of this process: a CUDA device without an index becomes the GPU of LOCAL_RANK.
at::Device device_for_process(const DistributedEnv& env, at::Device device);

// The processes working together. Collectives block until every rank joins; a rank that died or
// does not answer within the timeout makes them throw Error on the others, naming the ranks that
// did not reach the collective, instead of hanging.
class ProcessGroup {
 public:
  // A group of one: collectives return their input.
  ProcessGroup();
  // Joins the group described by `env`, carrying tensors of `device`; throws Error when the others
  // do not all join within `timeout`.
  static std::unique_ptr<ProcessGroup> join(const DistributedEnv& env, at::Device device,
                                            std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }

  // Replaces `tensor` (contiguous, on the group's device) with its elementwise sum over all ranks.
  void all_reduce_sum(at::Tensor& tensor);
  // Returns once every rank has called it.
  void barrier();
  // Every rank's `text`, indexed by rank, on every rank.
  std::vector<std::string> all_gather_text(const std::string& text);
  // Rank 0's `value` on every rank: a decision all ranks must take alike (whether a stage is done,
  // when only rank 0 is sure to see the files that say so).
  bool broadcast_flag(bool value);

 private:
  struct Backend;
  // Runs one collective, turning a failure into an Error that names the ranks that did not reach it.
  template <typename Collective>
  void run_collective(const char* what, Collective&& collective);

  std::unique_ptr<Backend> backend_;
  int rank_ = 0;
  int world_size_ = 1;
  std::chrono::milliseconds timeout_{0};
};

}  // namespace qtalign::distributed
