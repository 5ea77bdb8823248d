// The pieces of data parallelism without processes: the launch environment, and synchronised batch
// norm and gradient averaging over ranks played by threads sharing an in-memory group.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "crmt/models/batch_norm.h"
#include "crmt/models/model_factory.h"
#include "crmt/train/distributed/data_parallel.h"
#include "crmt/train/distributed/launch_env.h"
#include "test_util.h"

namespace crmt {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string launch_error(std::map<std::string, std::string> vars) {
  return test::error_of([&] { (void)read_launch_env(env_of(std::move(vars))); });
}

TEST(LaunchEnv, NoLauncherIsTheWorldOfOne) {
  const auto e = read_launch_env(env_of({}));
  EXPECT_FALSE(e.distributed());
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(read_launch_env(env_of({{"WORLD_SIZE", "1"}, {"RANK", "0"}})).world_size, 1);
  EXPECT_FALSE(read_launch_env(env_of({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}})).distributed());
}

TEST(LaunchEnv, ReadsTorchrunVariables) {
  const auto e = read_launch_env(env_of(
      {{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "1234"}}));
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "node0");
  EXPECT_EQ(e.master_port, 1234);
  EXPECT_EQ(e.launcher, "torchrun");
  EXPECT_FALSE(e.agent_store);
  EXPECT_TRUE(read_launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"},
                                      {"TORCHELASTIC_USE_AGENT_STORE", "True"}}))
                  .agent_store);
  // LOCAL_RANK defaults to RANK, MASTER_PORT to torchrun's 29500.
  const auto d = read_launch_env(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}}));
  EXPECT_EQ(d.local_rank, 1);
  EXPECT_EQ(d.master_port, 29500);
}

TEST(LaunchEnv, FallsBackToSlurmWhenWorldSizeIsNotSet) {
  const std::map<std::string, std::string> slurm{
      {"SLURM_NTASKS", "16"}, {"SLURM_PROCID", "9"}, {"SLURM_LOCALID", "1"}, {"MASTER_ADDR", "gpu-a"}};
  const auto e = read_launch_env(env_of(slurm));
  EXPECT_EQ(e.launcher, "slurm");
  EXPECT_EQ(e.rank, 9);
  EXPECT_EQ(e.world_size, 16);
  EXPECT_EQ(e.local_rank, 1);
  auto both = slurm;
  both.insert({{"WORLD_SIZE", "2"}, {"RANK", "0"}});
  EXPECT_EQ(read_launch_env(env_of(both)).world_size, 2);  // torchrun inside an allocation wins
  EXPECT_NE(launch_error({{"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "0"}}).find("$SLURM_JOB_NODELIST"), std::string::npos);
}

TEST(LaunchEnv, BadValuesAreOneLineNamingTheVariable) {
  const std::map<std::string, std::string> ok{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}};
  auto with = [&](const std::string& k, const std::string& v) {
    auto m = ok;
    m[k] = v;
    return launch_error(m);
  };
  EXPECT_EQ(launch_error(ok), "");
  EXPECT_NE(with("WORLD_SIZE", "two").find("WORLD_SIZE must be a whole number"), std::string::npos);
  EXPECT_NE(with("WORLD_SIZE", "0").find("WORLD_SIZE must be a whole number in [1,"), std::string::npos);
  EXPECT_NE(with("RANK", "2").find("RANK 2 is not below WORLD_SIZE 2"), std::string::npos);
  EXPECT_NE(with("RANK", "-1").find("RANK must be a whole number"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "70000").find("MASTER_PORT must be a whole number in [1, 65535]"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "80x").find("got '80x'"), std::string::npos);
  EXPECT_NE(launch_error({{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("RANK is not set"), std::string::npos);
  EXPECT_NE(launch_error({{"WORLD_SIZE", "2"}, {"RANK", "1"}}).find("MASTER_ADDR is not set"), std::string::npos);
}

// Ranks played by threads: every collective meets at a barrier and combines the deposited copies.
class ThreadGroup {
 public:
  explicit ThreadGroup(int world) : world_(world), slots_(world) {}
  // Deposits `tensors` for `rank`, waits for all ranks, then sets them to combine(all deposits).
  void exchange(int rank, std::vector<at::Tensor>& tensors,
                const std::function<at::Tensor(const std::vector<at::Tensor>&)>& combine) {
    std::vector<at::Tensor> mine;
    for (auto& t : tensors) mine.push_back(t.detach().clone());
    slots_[rank] = mine;
    wait();
    for (size_t i = 0; i < tensors.size(); ++i) {
      std::vector<at::Tensor> copies;
      for (auto& s : slots_) copies.push_back(s[i]);
      torch::NoGradGuard no_grad;
      tensors[i].copy_(combine(copies));
    }
    wait();  // nobody refills the slots before everyone read them
  }

 private:
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int generation = generation_;
    if (++arrived_ == world_) {
      arrived_ = 0, ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
  }
  int world_;
  std::vector<std::vector<at::Tensor>> slots_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0, generation_ = 0;
};

class ThreadCollective : public Collective {
 public:
  ThreadCollective(ThreadGroup& group, int rank, int world) : group_(group), rank_(rank), world_(world) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  void all_reduce_sum(std::vector<at::Tensor>& t) override {
    group_.exchange(rank_, t, [](const std::vector<at::Tensor>& c) {
      auto s = c[0].clone();
      for (size_t r = 1; r < c.size(); ++r) s += c[r];
      return s;
    });
  }
  void broadcast(std::vector<at::Tensor>& t, int root) override {
    group_.exchange(rank_, t, [root](const std::vector<at::Tensor>& c) { return c[root]; });
  }

 private:
  ThreadGroup& group_;
  int rank_, world_;
};

// Runs f(rank, collective) on `world` threads.
void run_ranks(int world, const std::function<void(int, Collective&)>& f) {
  ThreadGroup group(world);
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(world);
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      ThreadCollective c(group, r, world);
      try {
        f(r, c);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Each rank normalises its quarter of a batch with the statistics of the whole: outputs, input and
// parameter gradients (summed over ranks) and running statistics equal one layer on the whole batch.
TEST(SyncBatchNorm, ShardsOfABatchBehaveAsTheWholeBatch) {
  torch::manual_seed(0);
  const int world = 3;
  auto x = torch::randn({6, 4, 5, 3}, torch::kDouble) * 3 + 1;
  auto upstream = torch::randn({6, 4, 5, 3}, torch::kDouble);
  torch::nn::BatchNorm2d whole(torch::nn::BatchNorm2dOptions(4).momentum(0.3));
  whole->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    whole->weight.uniform_(0.5, 1.5), whole->bias.uniform_(-1, 1);
  }
  auto xw = x.clone().requires_grad_(true);
  auto yw = whole->forward(xw);
  (yw * upstream).sum().backward();

  std::vector<at::Tensor> y(world), dx(world), dweight(world), dbias(world), running_mean(world), running_var(world);
  run_ranks(world, [&](int r, Collective& group) {
    BatchNorm2d layer(torch::nn::BatchNorm2dOptions(4).momentum(0.3));
    layer->to(torch::kDouble);
    {
      torch::NoGradGuard g;
      layer->weight.copy_(whole->weight), layer->bias.copy_(whole->bias);
    }
    auto part = x.narrow(0, 2 * r, 2).clone().requires_grad_(true);
    y[r] = sync_batch_norm(part, *layer, group);
    (y[r] * upstream.narrow(0, 2 * r, 2)).sum().backward();
    dx[r] = part.grad(), dweight[r] = layer->weight.grad(), dbias[r] = layer->bias.grad();
    running_mean[r] = layer->running_mean.clone(), running_var[r] = layer->running_var.clone();
  });
  EXPECT_TRUE(torch::allclose(torch::cat(y), yw, 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(torch::cat(dx), xw.grad(), 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(dweight[0] + dweight[1] + dweight[2], whole->weight.grad(), 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(dbias[0] + dbias[1] + dbias[2], whole->bias.grad(), 1e-10, 1e-10));
  for (int r = 0; r < world; ++r) {
    EXPECT_TRUE(torch::allclose(running_mean[r], whole->running_mean, 1e-12, 1e-12));
    EXPECT_TRUE(torch::allclose(running_var[r], whole->running_var, 1e-12, 1e-12));  // unbiased, global count
  }
}

TEST(SyncBatchNorm, TheModuleIsThePlainLayerUnlessSynchronising) {
  torch::manual_seed(1);
  BatchNorm2d ours(3);
  torch::nn::BatchNorm2d theirs(3);
  auto x = torch::randn({4, 3, 2, 2});
  EXPECT_TRUE(torch::equal(ours->forward(x), theirs->forward(x)));
  EXPECT_TRUE(torch::equal(ours->running_var, theirs->running_var));
  // Names as torchvision's (checkpoints and pretrained weights load unchanged).
  std::vector<std::string> names;
  for (const auto& p : ours->named_parameters()) names.push_back(p.key());
  for (const auto& b : ours->named_buffers()) names.push_back(b.key());
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
}

// Rank r's gradient counts by its share of the samples; a gradient one rank lacks is zero there;
// one no rank has stays undefined.
TEST(DataParallel, AveragesGradientsWeightedBySamples) {
  const std::vector<int64_t> samples{3, 1};
  std::vector<std::vector<at::Tensor>> grads(2);
  run_ranks(2, [&](int r, Collective& group) {
    auto a = torch::zeros({2}, torch::kFloat).requires_grad_(true);
    auto b = torch::zeros({3}, torch::kFloat).requires_grad_(true);
    auto c = torch::zeros({1}, torch::kFloat).requires_grad_(true);
    a.mutable_grad() = torch::full({2}, r == 0 ? 1.0f : 5.0f);
    if (r == 1) b.mutable_grad() = torch::full({3}, 4.0f);
    DataParallel(group).average_gradients({a, b, c}, samples[r]);
    grads[r] = {a.grad(), b.grad(), c.grad()};
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(torch::allclose(grads[r][0], torch::full({2}, (3 * 1.0f + 1 * 5.0f) / 4)));
    EXPECT_TRUE(torch::allclose(grads[r][1], torch::full({3}, 1 * 4.0f / 4)));
    EXPECT_FALSE(grads[r][2].defined());
  }
}

TEST(DataParallel, BroadcastsRankZerosStateAndBuffers) {
  std::vector<std::vector<at::Tensor>> state(2);
  auto config = test::synthetic_config(test::temp_dir("dp_broadcast"));
  config.set("model.encoder", "small_cnn");
  const ModalitySpecs specs{ModalitySpec{"a", {1, 8, 8}}, ModalitySpec{"b", {1, 8, 8}}};
  std::vector<MultiModalNet> nets;
  for (int r = 0; r < 2; ++r) {
    nets.push_back(build_model(config, specs, 3));  // different initial weights
    nets.back()->train();
    Batch b;
    b.modalities = {"a", "b"};
    b.inputs = {torch::randn({4, 1, 8, 8}) * (r + 1), torch::randn({4, 1, 8, 8})};
    b.labels = torch::zeros({4}, torch::kLong);
    b.present = {true, true};
    nets.back()->forward(b);  // and batch-norm statistics
  }
  ASSERT_FALSE(torch::equal(nets[0]->parameters()[0], nets[1]->parameters()[0]));
  run_ranks(2, [&](int r, Collective& group) {
    auto& net = nets[r];
    DataParallel(group).broadcast_state(net);
    for (auto& p : net->parameters()) state[r].push_back(p.detach().clone());
    for (auto& b : net->buffers()) state[r].push_back(b.clone());
  });
  ASSERT_EQ(state[0].size(), state[1].size());
  for (size_t i = 0; i < state[0].size(); ++i) EXPECT_TRUE(torch::equal(state[0][i], state[1][i])) << i;
}

}  // namespace
}  // namespace crmt
