// VGGSound in the OGM-GE layout (datasets.md 2.2, 8.2): the first frame of every second as
// %05d.jpg (OGM-GE's video2frame), the audio as a 16 kHz mono 16-bit wav (OGM-GE's mp4_to_wav, read
// on the fly by the loader), and next to it the .npy of the log|STFT| of the window OGM-GE draws at
// random, taken at its expected start (2.5 s) for loaders that read a fixed spectrogram.
#include <fmt/format.h>

#include "crmt/data/npy_tensor.h"
#include "crmt/data/prepare/frame_extraction.h"
#include "crmt/data/prepare/recipe.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/media/audio/spectrogram.h"
#include "crmt/media/io/wav.h"
#include "crmt/media/video/video_decoder.h"

namespace crmt::prepare {
namespace {

constexpr int kVggSoundRate = 16000;
constexpr int kVggSoundMinFrames = 4;  // the loaders use a clip whose frame folder holds more than 3

class VggSound : public Recipe {
 public:
  explicit VggSound(const PrepareOptions& o) : quality_(o.jpeg_quality) {}

  std::vector<IndexFile> index_files() const override { return {{"vggsound.csv", "vggsound.csv"}}; }

  std::vector<ClipTask> plan(const std::map<std::string, std::string>& index, const std::string& videos) const override {
    const FileFinder finder(videos, video_extensions());
    std::vector<ClipTask> tasks;
    const auto& csv = index.at("vggsound.csv");
    for (const auto& line : read_index_lines(csv)) {
      const auto row = split_csv_row(line);
      if (row.size() < 4) continue;  // the loader reports malformed rows
      ClipTask t;
      t.name = row[0] + "_" + row[1];
      t.train = row[3] == "train";
      t.key = (t.train ? "train/" : "test/") + t.name;
      // Downloads are named "<id>_<start>" or "<id>_<start, 6 digits>".
      t.video = finder.find(t.name);
      if (t.video.empty()) {
        try {
          t.video = finder.find(fmt::format("{}_{:06d}", row[0], std::stol(row[1])));
        } catch (const std::exception&) {
        }
      }
      tasks.push_back(std::move(t));
    }
    return tasks;
  }

  ClipResult process(const ClipTask& task, ClipOutputs& out) const override {
    VideoDecoder video(task.video);
    require_streams(video, true);
    const std::string split = task.train ? "train" : "test";
    FramePlan plan;
    plan.ogm_dir = fmt::format("{0}-videos/{0}-set-img/Image-01-FPS/{1}.mp4", split, task.name);
    plan.quality = quality_;
    const auto counts = extract_frames(video, plan, out);
    if (counts.ogm_frames < kVggSoundMinFrames)
      throw ClipError(fmt::format("{}: too short: {} frames at 1 fps (the loader needs {} or more)", task.video,
                                  counts.ogm_frames, kVggSoundMinFrames));
    const auto pcm = video.decode_audio(kVggSoundRate, 1);
    if (pcm.empty()) throw ClipError(fmt::format("{}: no audio samples", task.video));
    const std::string audio = fmt::format("{0}-audios/{0}-set/{1}", split, task.name);
    out.write(audio + ".npy", encode_npy(vggsound_audio_feature(pcm16_to_float(pcm), kVggSoundWindowRange / 2)));
    out.write(audio + ".wav", encode_wav(pcm, kVggSoundRate, audio + ".wav"));
    out.declare(plan.ogm_dir);
    out.declare(audio + ".npy");
    out.declare(audio + ".wav");  // last: the loader takes a clip whose audio exists
    ClipResult r;
    r.frames = counts.ogm_frames;
    r.audio_seconds = static_cast<double>(pcm.size()) / kVggSoundRate;
    return r;
  }

 private:
  int quality_;
};

}  // namespace

std::unique_ptr<Recipe> vggsound_recipe(const PrepareOptions& options) { return std::make_unique<VggSound>(options); }

}  // namespace crmt::prepare
