// UCF101 in BalanceBenchmark's layout (datasets.md 3.3, 5, 8.3): RGB frames by ffmpeg's -r rule
// (2 fps unless --fps) as rgb/<video>/frame_%05d.jpg, and CRMT's TV-L1 flow between every pair of
// consecutive frames at the native rate, bounded at +-15 and quantised to 0..255, as
// flow/{u,v}/<video>/frame%06d.jpg (1-based).
#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "crmt/data/prepare/frame_extraction.h"
#include "crmt/data/prepare/recipe.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/media/video/video_decoder.h"

namespace crmt::prepare {
namespace {

constexpr int kMinRgbFrames = 6;  // the loader picks 3 of the first 6
constexpr int kMinFlows = 3;      // one per segment

std::vector<std::string> list_names() {
  std::vector<std::string> v;
  for (const char* kind : {"trainlist", "testlist"})
    for (int split = 1; split <= 3; ++split) v.push_back(fmt::format("{}0{}.txt", kind, split));
  return v;
}

class Ucf101 : public Recipe {
 public:
  explicit Ucf101(const PrepareOptions& o) : fps_(o.fps > 0 ? o.fps : 2.0), quality_(o.jpeg_quality) {}

  std::vector<IndexFile> index_files() const override {
    std::vector<IndexFile> files{{"classInd.txt", "ucfTrainTestlist/classInd.txt"}};
    for (const auto& name : list_names()) files.push_back({name, "ucfTrainTestlist/" + name, false});
    return files;
  }

  std::vector<ClipTask> plan(const std::map<std::string, std::string>& index, const std::string& videos) const override {
    const FileFinder finder(videos, video_extensions());
    std::vector<ClipTask> tasks;
    std::set<std::string> seen;
    bool any_list = false;
    for (const auto& list : list_names()) {
      const auto it = index.find(list);
      if (it == index.end()) continue;
      any_list = true;
      for (const auto& line : read_index_lines(it->second)) {
        // "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1": the video's file stem names its folders.
        const auto path = line.substr(0, line.find_first_of(" \t"));
        const auto name = std::filesystem::path(path).stem().string();
        if (name.empty() || !seen.insert(name).second) continue;
        ClipTask t;
        t.name = t.key = name;
        t.train = list.rfind("train", 0) == 0;
        t.video = finder.find(name);
        tasks.push_back(std::move(t));
      }
    }
    if (!any_list) fail("ucf101: no train or test list (trainlist0N.txt / testlist0N.txt) next to {}", index.at("classInd.txt"));
    return tasks;
  }

  ClipResult process(const ClipTask& task, ClipOutputs& out) const override {
    VideoDecoder video(task.video);
    require_streams(video, false);
    FramePlan plan;
    plan.rate_fps = fps_;
    plan.rate_dir = "rgb/" + task.name;
    plan.flow_u_dir = "flow/u/" + task.name;
    plan.flow_v_dir = "flow/v/" + task.name;
    plan.quality = quality_;
    const auto counts = extract_frames(video, plan, out);
    if (counts.rate_frames < kMinRgbFrames || counts.flows < kMinFlows)
      throw ClipError(fmt::format("{}: too short: {} RGB frames at {} fps and {} flow fields (the loader needs {} and {})",
                                  task.video, counts.rate_frames, fps_, counts.flows, kMinRgbFrames, kMinFlows));
    out.declare(plan.flow_u_dir);
    out.declare(plan.flow_v_dir);
    out.declare(plan.rate_dir);  // last: the loader takes a video whose three folders exist
    ClipResult r;
    r.frames = counts.rate_frames;
    r.flows = counts.flows;
    return r;
  }

 private:
  double fps_;
  int quality_;
};

}  // namespace

std::unique_ptr<Recipe> ucf101_recipe(const PrepareOptions& options) { return std::make_unique<Ucf101>(options); }

}  // namespace crmt::prepare
