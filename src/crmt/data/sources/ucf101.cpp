// UCF101 with RGB frames and TV-L1 optical flow, as BalanceBenchmark reads it: the official
// classInd.txt / trainlist0N.txt / testlist0N.txt, RGB frames rgb/<video>/frame_00001.jpg, ...,
// flow fields as gray JPEGs flow/u/<video>/frame000001.jpg and flow/v/<video>/... (u, v quantized
// from [-15, 15] px to 0..255). A third modality, the RGB frame difference (the paper's Table 8),
// is made from consecutive RGB frames. See docs/datasets.md.
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "crmt/core/error.h"
#include "crmt/data/source_registry.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/data/sources/clip_source.h"
#include "crmt/media/image/image_ops.h"
#include "crmt/media/io/jpeg.h"

namespace crmt {

namespace {

CRMT_REGISTER_CONFIG_SECTION("data.ucf101", R"(
split: 1                      # which official train/test list (1, 2 or 3)
lists: ucfTrainTestlist       # classInd.txt, trainlist0N.txt, testlist0N.txt
rgb: rgb                      # <video>/frame_00001.jpg, ... (at least 6)
flow_u: flow/u                # <video>/frame000001.jpg, ...
flow_v: flow/v
frames: 3
image_size: 224
flow_normalize: true          # (x - 0.1307) / 0.3081, as the official robustness test assumes
)");

constexpr int kRgbFrames = 6;  // the official loader samples 3 of the first 6 RGB frames
constexpr float kFlowMean = 0.1307f, kFlowStd = 0.3081f;

struct UcfSettings {
  int frames = 3, image_size = 224;
  bool flow_normalize = true;
  std::string flow_u, flow_v;
};

class Ucf101Source : public ClipSource {
 public:
  Ucf101Source(std::string name, ModalitySpecs specs, std::vector<std::string> classes, std::vector<Clip> clips,
               UcfSettings s)
      : ClipSource(std::move(name), std::move(specs), std::move(classes), std::move(clips)), s_(std::move(s)) {}

  Sample get(int64_t row, const SampleOptions& o) const override {
    const auto& c = clip(row);
    std::mt19937_64 rng(o.seed);
    auto sample = empty_sample(c, 3);
    const int seg = kRgbFrames / s_.frames;
    if (wanted(o, 0) || wanted(o, 2)) {
      // RGB: one frame per segment of the first six, resized (no crop) and flipped as the official loader.
      std::vector<int> t(static_cast<size_t>(s_.frames));
      for (int i = 0; i < s_.frames; ++i) t[i] = o.augment ? uniform_int(rng, seg * i + 1, seg * i + seg) : seg * i + 1;
      auto rgb_path = [&](int k) { return fmt::format("{}/frame_{:05d}.jpg", c.frames_dir, k); };
      if (wanted(o, 0)) {
        std::vector<Image> images;
        for (int k : t) images.push_back(read_jpeg(rgb_path(k), JpegColor::Rgb));
        sample.inputs[0] = rgb_frames(images, FrameTransform{s_.image_size, false}, o.augment, rng);
      }
      if (wanted(o, 2)) sample.inputs[2] = frame_difference(c, t, rgb_path, o.augment, rng);
    }
    if (wanted(o, 1)) sample.inputs[1] = flow_frames(c, o.augment, rng);
    return sample;
  }

 private:
  // Frame k+1 minus frame k (pixel values / 255, in [-1, 1]), both resized and flipped alike.
  template <typename Path>
  at::Tensor frame_difference(const Clip& c, const std::vector<int>& t, const Path& path, bool augment,
                              std::mt19937_64& rng) const {
    const int S = s_.image_size;
    auto out = at::empty({s_.frames, 3, S, S}, at::kFloat);
    float* dst = out.data_ptr<float>();
    for (int k : t) {
      const int next = std::min(k + 1, c.frame_count);
      auto a = resize_bilinear(read_jpeg(path(k), JpegColor::Rgb), S, S);
      auto b = resize_bilinear(read_jpeg(path(next), JpegColor::Rgb), S, S);
      if (augment && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.5) {
        a = flip_horizontal(a);
        b = flip_horizontal(b);
      }
      for (int ch = 0; ch < 3; ++ch)
        for (int i = 0; i < S * S; ++i) *dst++ = (b.pixels[i * 3 + ch] - a.pixels[i * 3 + ch]) / 255.0f;
    }
    return out;
  }

  // One (u, v) flow field per segment of the clip's flow, as 2 channels.
  at::Tensor flow_frames(const Clip& c, bool augment, std::mt19937_64& rng) const {
    const int S = s_.image_size;
    // The name was checked against climbing out of the root when the clip was indexed.
    const auto u_dir = s_.flow_u + "/" + c.name, v_dir = s_.flow_v + "/" + c.name;
    const int n = count_jpeg_files(u_dir);
    if (n < s_.frames) fail("{}: {} flow fields, at least {} needed", u_dir, std::max(n, 0), s_.frames);
    const int seg = n / s_.frames;
    auto out = at::empty({s_.frames, 2, S, S}, at::kFloat);
    float* dst = out.data_ptr<float>();
    const float mean = s_.flow_normalize ? kFlowMean : 0.0f, stdev = s_.flow_normalize ? kFlowStd : 1.0f;
    for (int i = 0; i < s_.frames; ++i) {
      const int k = augment ? uniform_int(rng, i * seg + 1, i * seg + seg) : i * seg + std::max(seg / 2, 1);
      // One flip decision for u and v of a time step (the official loader draws them apart; see docs).
      const bool flip = augment && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.5;
      for (const auto* dir : {&u_dir, &v_dir}) {
        auto img = resize_bilinear(read_jpeg(fmt::format("{}/frame{:06d}.jpg", *dir, k), JpegColor::Gray), S, S);
        if (flip) img = flip_horizontal(img);
        to_normalized_planes(img, &mean, &stdev, dst);
        dst += S * S;
      }
    }
    return out;
  }

  UcfSettings s_;
};

DataSplits load_ucf101(const Config& config, bool show_progress) {
  namespace fs = std::filesystem;
  const auto root = config.str("data.root");
  UcfSettings s;
  s.frames = static_cast<int>(config.integer("data.ucf101.frames"));
  s.image_size = static_cast<int>(config.integer("data.ucf101.image_size"));
  s.flow_normalize = config.boolean("data.ucf101.flow_normalize");
  s.flow_u = join_inside(root, config.str("data.ucf101.flow_u"), "data.ucf101.flow_u");
  s.flow_v = join_inside(root, config.str("data.ucf101.flow_v"), "data.ucf101.flow_v");
  if (s.frames < 1 || kRgbFrames % s.frames != 0 || s.image_size < 8)
    fail("data.ucf101: frames must divide {} and image_size be >= 8", kRgbFrames);
  const auto split = config.integer("data.ucf101.split");
  if (split < 1 || split > 3) fail("data.ucf101.split must be 1, 2 or 3, got {}", split);
  const auto lists = join_inside(root, config.str("data.ucf101.lists"), "data.ucf101.lists");
  const auto rgb_root = join_inside(root, config.str("data.ucf101.rgb"), "data.ucf101.rgb");

  // Classes: classInd.txt's names, sorted (the official loader's order; classInd is alphabetical).
  std::vector<std::string> classes;
  const auto class_file = lists + "/classInd.txt";
  for (const auto& line : read_index_lines(class_file)) {
    std::istringstream in(line);
    std::string number, name;
    if (!(in >> number >> name)) fail("{}: expected `<number> <ClassName>`, got '{}'", class_file, line);
    classes.push_back(name);
  }
  std::sort(classes.begin(), classes.end());
  if (classes.size() < 2) fail("{}: fewer than 2 classes", class_file);
  std::map<std::string, int64_t> class_id;
  for (size_t k = 0; k < classes.size(); ++k) class_id[classes[k]] = static_cast<int64_t>(k);

  auto split_source = [&](const std::string& which, OnBadSample policy) -> std::shared_ptr<const Source> {
    const auto list = fmt::format("{}/{}list0{}.txt", lists, which, split);
    const auto name = fmt::format("ucf101 {} ({})", which, root);
    IndexProblems problems(name, policy);
    std::vector<Clip> clips;
    const auto lines = read_index_lines(list);
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto where = fmt::format("{}:{}", list, i + 1);
      std::istringstream in(lines[i]);
      std::string entry;
      in >> entry;  // ClassName/v_ClassName_gXX_cYY.avi [label]
      const auto slash = entry.find('/');
      Clip c;
      std::string u, v;  // its flow folders
      try {
        if (slash == std::string::npos) fail("expected `<ClassName>/<video>.avi`, got '{}'", lines[i]);
        const auto cls = entry.substr(0, slash);
        auto it = class_id.find(cls);
        if (it == class_id.end()) fail("class '{}' is not in classInd.txt", cls);
        c.label = it->second;
        c.name = fs::path(entry.substr(slash + 1)).stem().string();
        c.frames_dir = join_inside(rgb_root, c.name, list);
        u = join_inside(s.flow_u, c.name, list);
        v = join_inside(s.flow_v, c.name, list);
      } catch (const Error& e) {
        problems.add(where, e.what());
        continue;
      }
      if (!clip_files_present(c, kRgbFrames, problems)) continue;
      if (!fs::is_directory(u) || !fs::is_directory(v)) {
        problems.add(fs::is_directory(u) ? v : u, "flow folder missing");
        continue;
      }
      clips.push_back(std::move(c));
    }
    problems.report(clips.size(), show_progress);
    if (clips.empty()) fail("{}: no usable clip (the split is empty)", list);
    ModalitySpec flow{"flow", {s.frames, 2, s.image_size, s.image_size}};
    const double mean = s.flow_normalize ? kFlowMean : 0.0, stdev = s.flow_normalize ? kFlowStd : 1.0;
    flow.lower = (0.0 - mean) / stdev;  // pixel values 0..255 / 255, normalized
    flow.upper = (1.0 - mean) / stdev;
    ModalitySpec diff{"rgb_diff", {s.frames, 3, s.image_size, s.image_size}};
    diff.lower = -1.0;
    diff.upper = 1.0;
    ModalitySpecs specs{rgb_spec("rgb", s.frames, s.image_size), flow, diff};
    return std::make_shared<Ucf101Source>(name, std::move(specs), classes, std::move(clips), s);
  };
  return file_splits(config, split_source("train", train_policy(config)), split_source("test", test_policy(config)));
}
CRMT_REGISTER_SOURCE("ucf101", "UCF101 from the official split lists: rgb, optical flow, rgb frame difference",
                     load_ucf101);

}  // namespace

}  // namespace crmt
