#pragma once
// Data-parallel process groups on PyTorch's c10d, started torchrun-style: every process gets RANK,
// WORLD_SIZE, MASTER_ADDR and MASTER_PORT (LOCAL_RANK picks its GPU); rank 0 hosts the TCP store.
// Gloo carries CPU tensors; NCCL carries CUDA tensors when libtorch was built with it.
#include <ATen/ATen.h>

#include <chrono>
#include <memory>
#include <string>

namespace qtalign::train {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads torchrun's variables; all absent means a single process. Throws Error for a partial or
// inconsistent set (e.g. RANK >= WORLD_SIZE, a port outside 1..65535).
DistributedEnv distributed_env_from_environment();

// The processes training together. Collectives block until every rank joins; a rank that died or
// does not answer within the timeout makes them throw Error on the others instead of hanging.
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

  // Replaces `tensor` (contiguous) with its elementwise sum over all ranks.
  void all_reduce_sum(at::Tensor& tensor);
  // Returns once every rank has called it.
  void barrier();

 private:
  struct Backend;
  std::unique_ptr<Backend> backend_;
  int rank_ = 0;
  int world_size_ = 1;
  std::chrono::milliseconds timeout_{0};
};

}  // namespace qtalign::train
