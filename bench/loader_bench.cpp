// Clips per second the loader delivers on Kinetics-Sounds-shaped files (a fixture made on first use):
// per clip three JPEG frames decoded, RandomResizedCrop 224 + flip + ImageNet normalization, and a
// [1024, 128] spectrogram read, as the official training transform. Compare with
// bench/pytorch_ks_loader.py through bench/loader_vs_pytorch.sh.
// Run: ./build/crmt_bench --benchmark_filter=Loader
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "crmt/core/config.h"
#include "crmt/data/data_factory.h"
#include "crmt/data/fixtures/make_fixture.h"
#include "crmt/data/loader.h"

namespace {

using namespace crmt;

// CRMT_KS_FIXTURE names a fixture to read; otherwise one of 64 clips is made in the temp folder.
std::string ks_fixture() {
  if (const char* dir = std::getenv("CRMT_KS_FIXTURE")) return dir;
  static const std::string dir = [] {
    auto path = std::filesystem::temp_directory_path() / "crmt_bench_ks_fixture";
    if (!std::filesystem::exists(path / "ks_train_overlap.txt")) {
      FixtureOptions o;
      o.dataset = "kinetics_sounds";
      o.out_dir = path.string();
      o.clips = 64;
      o.force = true;
      make_fixture(o);
    }
    return path.string();
  }();
  return dir;
}

void BM_KineticsSoundsLoader(benchmark::State& state) {
  at::set_num_threads(1);
  const int workers = static_cast<int>(state.range(0));
  auto config = Config::load("", {"data.name=kinetics_sounds", "data.root=" + ks_fixture(), "data.val_fraction=0"});
  auto splits = load_data(config, false);
  int64_t clips = 0;
  uint64_t epoch = 0;
  for (auto _ : state) {
    LoaderOptions o;
    o.batch_size = 16;
    o.shuffle = true;
    o.seed = epoch++;
    o.workers = workers;
    Loader loader(splits.train, o);
    while (auto b = loader.next()) clips += b->size();
  }
  state.counters["clips_per_second"] = benchmark::Counter(static_cast<double>(clips), benchmark::Counter::kIsRate);
  state.counters["workers"] = workers;
}
BENCHMARK(BM_KineticsSoundsLoader)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
