// The loader: order fixed by the seed, the same batches (and random transforms) for any number of
// workers, bounded read-ahead, unreadable samples skipped and counted or fatal.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "crmt/core/error.h"
#include "crmt/data/loader.h"
#include "test_util.h"

namespace crmt {
namespace {

// A file-like source: sample r is a tensor filled from (r, its seed, whether augmented); rows in
// `bad` throw as a corrupt file would; reads are counted.
class FakeFiles : public Source {
 public:
  FakeFiles(int64_t n, std::vector<int64_t> bad = {}) : bad_(std::move(bad)) {
    labels_ = torch::arange(n, torch::kLong).remainder(3);
    specs_ = {ModalitySpec{"a", {2}}, ModalitySpec{"b", {1, 2}}};
  }
  int64_t size() const override { return labels_.size(0); }
  const ModalitySpecs& specs() const override { return specs_; }
  const std::vector<std::string>& class_names() const override { return classes_; }
  const at::Tensor& labels() const override { return labels_; }
  std::string name() const override { return "fake files"; }
  Sample get(int64_t row, const SampleOptions& o) const override {
    ++reads;
    if (std::find(bad_.begin(), bad_.end(), row) != bad_.end()) fail("clip{}.jpg: corrupt JPEG", row);
    Sample s;
    s.label = labels_[row].item<int64_t>();
    const double noise = o.augment ? static_cast<double>(o.seed % 1000) : 0.0;
    s.inputs = {torch::full({2}, static_cast<double>(row) + noise / 1000.0),
                o.wanted.empty() || o.wanted[1] ? torch::full({1, 2}, -static_cast<double>(row)) : at::Tensor()};
    return s;
  }
  mutable std::atomic<int64_t> reads{0};

 private:
  std::vector<int64_t> bad_;
  at::Tensor labels_;
  ModalitySpecs specs_;
  std::vector<std::string> classes_{"x", "y", "z"};
};

std::vector<Batch> drain(const MultiModalDataset& d, LoaderOptions o) {
  Loader loader(d, o);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(*b);
  EXPECT_EQ(static_cast<int64_t>(out.size()), loader.num_batches());
  return out;
}

TEST(Loader, SameBatchesAndTransformsForAnyNumberOfWorkers) {
  auto d = MultiModalDataset::of(std::make_shared<FakeFiles>(23), /*augment=*/true);
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = true;
  o.seed = 7;
  const auto reference = drain(d, o);
  ASSERT_EQ(reference.size(), 6u);  // 23 samples: 5 full batches and one of 3
  EXPECT_EQ(reference.back().size(), 3);
  for (int workers : {1, 2, 5}) {
    o.workers = workers;
    const auto got = drain(d, o);
    ASSERT_EQ(got.size(), reference.size());
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_TRUE(torch::equal(got[k].inputs[0], reference[k].inputs[0])) << workers << " workers, batch " << k;
      EXPECT_TRUE(torch::equal(got[k].labels, reference[k].labels));
    }
  }
  // Every sample exactly once per epoch, in a shuffled order.
  std::vector<int64_t> rows;
  for (const auto& b : reference)
    for (int64_t i = 0; i < b.size(); ++i) rows.push_back(static_cast<int64_t>(std::floor(b.inputs[0][i][0].item<double>())));
  auto sorted = rows;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 23; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(rows, sorted);
}

// Data parallelism: the ranks' parts of global batch k, in rank order, are one process's batch k
// (same samples, same random transforms), with sizes differing by at most one; a last global batch
// smaller than the world is dropped rather than leave a rank nothing.
TEST(Loader, RanksShareEachGlobalBatchOfOneProcess) {
  auto d = MultiModalDataset::of(std::make_shared<FakeFiles>(23), /*augment=*/true);
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.seed = 3;
  const auto reference = drain(d, o);  // 8, 8, 7
  for (int world : {2, 3}) {
    std::vector<std::vector<Batch>> parts;
    for (int r = 0; r < world; ++r) {
      auto ro = o;
      ro.rank = r, ro.world_size = world, ro.workers = r % 2;
      parts.push_back(drain(d, ro));
      ASSERT_EQ(parts.back().size(), reference.size());
    }
    for (size_t k = 0; k < reference.size(); ++k) {
      std::vector<at::Tensor> inputs, labels;
      int64_t smallest = 1 << 20, largest = 0;
      for (int r = 0; r < world; ++r) {
        inputs.push_back(parts[r][k].inputs[0]), labels.push_back(parts[r][k].labels);
        smallest = std::min(smallest, parts[r][k].size()), largest = std::max(largest, parts[r][k].size());
      }
      EXPECT_TRUE(torch::equal(torch::cat(inputs), reference[k].inputs[0])) << world << " ranks, batch " << k;
      EXPECT_TRUE(torch::equal(torch::cat(labels), reference[k].labels));
      EXPECT_LE(largest - smallest, 1);
      EXPECT_GE(smallest, 1);
    }
  }
  o.batch_size = 10;  // 10, 10, 3: the last cannot feed 4 ranks
  EXPECT_EQ(drain(d, o).size(), 3u);
  o.world_size = 4, o.rank = 3;
  EXPECT_EQ(drain(d, o).size(), 2u);
  o.rank = 4;
  EXPECT_NE(test::error_of([&] { Loader l(d, o); }).find("rank 4 is not in a world of 4"), std::string::npos);
}

TEST(Loader, SeedDecidesOrderAndAugmentation) {
  auto d = MultiModalDataset::of(std::make_shared<FakeFiles>(16), true);
  LoaderOptions o;
  o.batch_size = 16;
  o.shuffle = true;
  o.seed = 1;
  auto a = drain(d, o), again = drain(d, o);
  o.seed = 2;
  auto b = drain(d, o);
  EXPECT_TRUE(torch::equal(a[0].inputs[0], again[0].inputs[0]));
  EXPECT_FALSE(torch::equal(a[0].labels, b[0].labels)) << "another seed, another order";
  // Without augmentation the values are the rows themselves, in order when not shuffling.
  auto plain = MultiModalDataset::of(std::make_shared<FakeFiles>(5), false);
  auto batches = drain(plain, LoaderOptions{});
  EXPECT_TRUE(torch::equal(batches[0].inputs[1].flatten(), -torch::arange(5).repeat_interleave(2).to(torch::kFloat)));
}

TEST(Loader, InMemorySetsGiveTheSameBatchesAsIndexing) {
  auto x = torch::randn({10, 3});
  auto d = MultiModalDataset::in_memory({ModalitySpec{"v", {3}}}, {x}, torch::arange(10).remainder(2), {"a", "b"}, "t");
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = true;
  o.seed = 3;
  o.workers = 3;  // ignored for tensors in memory
  auto got = drain(d, o);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto order = torch::randperm(10, gen, torch::kLong);
  EXPECT_TRUE(torch::equal(got[1].inputs[0], x.index_select(0, order.slice(0, 4, 8))));
}

TEST(Loader, ReadsAheadNoMoreThanWorkersTimesPrefetchBatches) {
  auto source = std::make_shared<FakeFiles>(400);
  auto d = MultiModalDataset::of(source);
  LoaderOptions o;
  o.batch_size = 10;
  o.workers = 2;
  o.prefetch = 2;
  Loader loader(d, o);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(source->reads.load(), 2 * 2 * 10) << "the queue is bounded";
  ASSERT_TRUE(loader.next().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(source->reads.load(), 5 * 10) << "one batch taken, one more read";
}

TEST(Loader, UnreadableSamplesAreSkippedAndCountedOrFatal) {
  auto source = std::make_shared<FakeFiles>(12, std::vector<int64_t>{3, 7});
  auto skip = MultiModalDataset::of(source, false, OnBadSample::Skip);
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  auto batches = drain(skip, o);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 3);
  EXPECT_EQ(batches[1].size(), 3);
  EXPECT_EQ(batches[2].size(), 4);
  EXPECT_EQ(skip.bad->count(), 2);
  const auto summary = skip.bad->take_summary();
  EXPECT_NE(summary.find("2 bad samples skipped"), std::string::npos) << summary;
  EXPECT_NE(summary.find("clip3.jpg: corrupt JPEG"), std::string::npos) << summary;
  EXPECT_EQ(skip.bad->take_summary(), "") << "said once";

  auto strict = MultiModalDataset::of(source, false, OnBadSample::Error);
  for (int workers : {0, 2}) {
    o.workers = workers;
    Loader loader(strict, o);
    try {
      while (loader.next()) {
      }
      ADD_FAILURE() << "a corrupt sample must stop the loader";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("clip3.jpg"), std::string::npos) << e.what();
    }
  }
}

TEST(Loader, SelectedModalitiesAreTheOnlyOnesRead) {
  auto d = MultiModalDataset::of(std::make_shared<FakeFiles>(4)).select({"a"});
  auto b = d.batch(torch::arange(4));
  ASSERT_EQ(b.inputs.size(), 1u);
  EXPECT_EQ(b.modalities, std::vector<std::string>{"a"});
  EXPECT_THROW(MultiModalDataset::of(std::make_shared<FakeFiles>(4)).select({"c"}), Error);
}

TEST(Loader, RejectsBadOptions) {
  auto d = MultiModalDataset::of(std::make_shared<FakeFiles>(4));
  LoaderOptions o;
  o.batch_size = 0;
  EXPECT_THROW(Loader(d, o), Error);
  o.batch_size = 2;
  o.workers = -1;
  EXPECT_THROW(Loader(d, o), Error);
  EXPECT_THROW(parse_on_bad_sample("sometimes", OnBadSample::Skip), Error);
  EXPECT_EQ(parse_on_bad_sample("", OnBadSample::Skip), OnBadSample::Skip);
}

}  // namespace
}  // namespace crmt
