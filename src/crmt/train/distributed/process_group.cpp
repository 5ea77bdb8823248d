#include "crmt/train/distributed/process_group.h"

#include <ATen/ATen.h>

#include <chrono>
#include <map>

// Debian's LibTorch ships c10d with Gloo but compiles its Gloo header only for code that says so.
#if __has_include(<gloo/algorithm.h>)
#define CRMT_HAVE_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef CRMT_WITH_NCCL  // CMake: -DCRMT_NCCL=ON with a CUDA LibTorch
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "crmt/core/checksum.h"
#include "crmt/core/error.h"

namespace crmt {

CRMT_REGISTER_CONFIG_SECTION("distributed", R"(
backend: auto          # auto (nccl for a CUDA model when built with it, else gloo) | gloo | nccl
timeout_s: 300         # joining the group, and each collective, before a rank gives up
sync_batch_norm: false # batch norm over the global batch (else per rank, as PyTorch's DDP)
bucket_mb: 25          # gradients are all-reduced in flat buckets of about this size
)");

DistributedOptions DistributedOptions::from_config(const Config& config) {
  DistributedOptions o;
  o.backend = config.str("distributed.backend");
  o.timeout_s = config.real("distributed.timeout_s");
  o.sync_batch_norm = config.boolean("distributed.sync_batch_norm");
  o.bucket_mb = config.real("distributed.bucket_mb");
  if (o.backend != "auto" && o.backend != "gloo" && o.backend != "nccl")
    fail("distributed.backend must be auto, gloo or nccl, got '{}'", o.backend);
  if (!(o.timeout_s > 0)) fail("distributed.timeout_s must be positive, got {}", o.timeout_s);
  if (!(o.bucket_mb > 0)) fail("distributed.bucket_mb must be positive, got {}", o.bucket_mb);
  return o;
}

namespace {

std::string message_of(const std::exception& e) {
  if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

// A c10d process group (Gloo or NCCL) behind crmt's Collective. Tensors are packed into flat
// buckets per dtype and device; every bucket's all-reduce is started before the first is waited for.
// `staging` is where a bucket of host tensors travels: the CPU for Gloo, the rank's GPU for NCCL
// (which reduces device tensors only).
template <typename Group>
class C10dCollective : public Collective {
 public:
  C10dCollective(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group, int rank, int world,
                 int64_t bucket_bytes, c10::Device staging)
      : store_(std::move(store)),
        group_(std::move(group)),
        rank_(rank),
        world_(world),
        bucket_bytes_(bucket_bytes),
        staging_(staging) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    run("all-reduce", tensors, [&](std::vector<at::Tensor>& flat) {
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp::SUM;
      return group_->allreduce(flat, o);
    });
  }
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    run("broadcast", tensors, [&](std::vector<at::Tensor>& flat) {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      o.rootTensor = 0;
      return group_->broadcast(flat, o);
    });
  }
  void barrier() override {
    std::vector<at::Tensor> v{at::zeros({1}, at::kFloat)};
    all_reduce_sum(v);
  }

 private:
  template <typename Op>
  void run(const char* what, std::vector<at::Tensor>& tensors, const Op& op) {
    struct Bucket {
      std::vector<size_t> members;
      at::Tensor flat;
      c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<Bucket> buckets;
    std::map<std::pair<int, std::string>, size_t> open;  // (dtype, device) -> bucket being filled
    std::map<size_t, int64_t> filled;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      if (!t.defined()) fail("distributed {}: tensor {} is undefined", what, i);
      const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
      // A large tensor already where the group reduces goes alone and in place: packing it would
      // cost two copies of it (measured: a third of ResNet-18 x 2's exchange on this 2-core machine).
      if (bytes >= kInPlaceBytes && t.is_contiguous() && (t.device() == staging_ || t.device().is_cpu() == staging_.is_cpu())) {
        buckets.push_back({});
        buckets.back().members.push_back(i);
        continue;
      }
      const auto key = std::make_pair(static_cast<int>(t.scalar_type()), t.device().str());
      auto it = open.find(key);
      if (it == open.end() || filled[it->second] >= bucket_bytes_) {
        buckets.push_back({});
        it = open.insert_or_assign(key, buckets.size() - 1).first;
      }
      buckets[it->second].members.push_back(i);
      filled[it->second] += bytes;
    }
    try {
      for (auto& b : buckets) {
        std::vector<at::Tensor> parts;
        for (auto i : b.members) parts.push_back(tensors[i].reshape({-1}));
        b.flat = parts.size() == 1 && tensors[b.members[0]].is_contiguous() ? parts[0] : at::cat(parts);
        if (b.flat.device().is_cpu() && !staging_.is_cpu()) b.flat = b.flat.to(staging_);
        std::vector<at::Tensor> arg{b.flat};
        b.work = op(arg);
      }
      for (auto& b : buckets) {
        b.work->wait();
        int64_t offset = 0;
        for (auto i : b.members) {
          auto& t = tensors[i];
          auto part = b.flat.narrow(0, offset, t.numel()).view(t.sizes()).to(t.device());
          if (part.data_ptr() != t.data_ptr()) t.copy_(part);
          offset += t.numel();
        }
      }
    } catch (const crmt::Error&) {
      throw;
    } catch (const std::exception& e) {
      fail("rank {} of {}: distributed {} failed (did another rank stop? its own error says why): {}", rank_, world_,
           what, message_of(e));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Group> group_;
  static constexpr int64_t kInPlaceBytes = 1 << 20;
  int rank_, world_;
  int64_t bucket_bytes_;
  c10::Device staging_;
};

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

c10::intrusive_ptr<c10d::Store> connect_store(const LaunchEnv& env, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = env.rank == 0 && !env.agent_store;
  o.numWorkers = static_cast<size_t>(env.world_size);
  o.waitWorkers = true;
  o.timeout = timeout;
  const auto where = fmt::format("{}:{}", env.master_addr, env.master_port);
  try {
    return c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    const auto what = message_of(e);
    const auto has = [&](const char* s) { return what.find(s) != std::string::npos; };
    if (o.isServer && (has("already in use") || has("EADDRINUSE") || has("bind")))
      fail("rank 0: MASTER_PORT {} is already in use on {} (another run? choose a free MASTER_PORT)", env.master_port,
           env.master_addr);
    if (o.isServer)
      fail("rank 0: not every rank of WORLD_SIZE {} joined at {} within distributed.timeout_s={} s: {}", env.world_size,
           where, timeout.count() / 1000.0, what);
    fail("rank {}: cannot reach rank 0 at {} (MASTER_ADDR:MASTER_PORT) within distributed.timeout_s={} s: {}", env.rank,
         where, timeout.count() / 1000.0, what);
  }
}

}  // namespace

std::shared_ptr<Collective> join_process_group(const LaunchEnv& env, const DistributedOptions& options,
                                               const c10::Device& device) {
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  const auto bucket_bytes = static_cast<int64_t>(options.bucket_mb * (1 << 20));
  std::string backend = options.backend;
  if (backend == "auto") {
#ifdef CRMT_WITH_NCCL
    backend = device.is_cuda() ? "nccl" : "gloo";
#else
    backend = "gloo";
#endif
  }
  if (backend == "nccl") {
#ifdef CRMT_WITH_NCCL
    if (!device.is_cuda()) fail("distributed.backend nccl needs the model on a GPU (device: cuda), not {}", device.str());
    auto store = connect_store(env, timeout);
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = timeout;
    try {
      auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, o);
      return std::make_shared<C10dCollective<c10d::ProcessGroupNCCL>>(store, group, env.rank, env.world_size, bucket_bytes,
                                                                      device);
    } catch (const std::exception& e) {
      fail("rank {}: cannot start NCCL: {}", env.rank, message_of(e));
    }
#else
    fail("distributed.backend nccl: this crmt was built without NCCL (configure a CUDA LibTorch with -DCRMT_NCCL=ON), "
         "or use gloo");
#endif
  }
#ifdef CRMT_HAVE_GLOO
  auto store = connect_store(env, timeout);
  auto o = c10d::ProcessGroupGloo::Options::create(timeout);
  try {
    if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface && *iface)
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    else if (is_loopback(env.master_addr))
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, o);
    return std::make_shared<C10dCollective<c10d::ProcessGroupGloo>>(store, group, env.rank, env.world_size, bucket_bytes,
                                                                    c10::Device(c10::kCPU));
  } catch (const crmt::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("rank {}: the group of WORLD_SIZE {} ranks did not form within distributed.timeout_s={} s (is every rank "
         "started, with the same MASTER_ADDR:MASTER_PORT?): {}",
         env.rank, env.world_size, options.timeout_s, message_of(e));
  }
#else
  fail("this crmt was built without Gloo's headers (Debian: apt-get install libgloo-dev, then rebuild): it cannot join "
       "a distributed run");
#endif
}

void require_same_config(Collective& group, const std::string& config_yaml) {
  if (!group.distributed()) return;
  const auto mine = static_cast<int64_t>(crc_of(config_yaml.data(), config_yaml.size()));
  std::vector<at::Tensor> root{at::full({1}, mine, at::kLong)};
  group.broadcast(root, 0);
  const int64_t rank0 = root[0].item<int64_t>();
  auto differs = at::zeros({group.world_size()}, at::kLong);
  differs[group.rank()] = mine != rank0 ? 1 : 0;
  std::vector<at::Tensor> all{differs};
  group.all_reduce_sum(all);
  std::vector<int> ranks;
  for (int r = 0; r < group.world_size(); ++r)
    if (all[0][r].item<int64_t>() != 0) ranks.push_back(r);
  if (!ranks.empty())
    fail("rank {}: the resolved config of rank(s) {} differs from rank 0's: start every rank with the same config "
         "file and overrides",
         group.rank(), fmt::join(ranks, ", "));
}

c10::Device rank_device(const c10::Device& device, const LaunchEnv& env) {
  if (!device.is_cuda() || device.has_index() || !env.distributed()) return device;
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(env.local_rank));
}

DistributedRun::DistributedRun(const Config& config, const c10::Device& device, const LaunchEnv& env) : env_(env) {
  if (!env_.distributed()) return;
  const auto options = DistributedOptions::from_config(config);
  auto group = join_process_group(env_, options, device);
  group->sync_batch_norm = options.sync_batch_norm;
  require_same_config(*group, config.to_yaml());
  set_collective(std::move(group));
}

DistributedRun::~DistributedRun() {
  if (env_.distributed()) set_collective(nullptr);
}

}  // namespace crmt
