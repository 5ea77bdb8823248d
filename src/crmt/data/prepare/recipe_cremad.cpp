// CREMA-D in the OGM-GE layout (datasets.md 2.3, 8.4): the first frame of every second of
// VideoFlash/<name>.flv as Image-01-FPS/<name>/%05d.jpg (OGM-GE's video2frame), and the audio of
// AudioWAV/<name>.wav (or, without it, the video's own track) resampled to 22,050 Hz as librosa.load
// does, written as AudioWAV/<name>.wav with the .npy of OGM-GE's log|STFT| [257, 188] of that wav.
#include <fmt/format.h>

#include <algorithm>

#include "crmt/data/npy_tensor.h"
#include "crmt/data/prepare/frame_extraction.h"
#include "crmt/data/prepare/recipe.h"
#include "crmt/data/sources/class_lists.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/media/audio/spectrogram.h"
#include "crmt/media/io/wav.h"
#include "crmt/media/video/video_decoder.h"

namespace crmt::prepare {
namespace {

constexpr int kCremadRate = 22050;

class Cremad : public Recipe {
 public:
  explicit Cremad(const PrepareOptions& o) : quality_(o.jpeg_quality) {}

  std::vector<IndexFile> index_files() const override {
    return {{"train.csv", "train.csv"}, {"test.csv", "test.csv"}};
  }

  std::vector<ClipTask> plan(const std::map<std::string, std::string>& index, const std::string& videos) const override {
    const FileFinder video_files(videos, video_extensions()), wav_files(videos, {".wav"});
    const auto& emotions = cremad_emotions();
    std::vector<ClipTask> tasks;
    for (const bool train : {true, false}) {
      for (const auto& line : read_index_lines(index.at(train ? "train.csv" : "test.csv"))) {
        const auto row = split_csv_row(line);
        // "<FileName>,<EMOTION>"; a header row ("name,label") is not a clip.
        if (row.size() < 2 || std::find(emotions.begin(), emotions.end(), row[1]) == emotions.end()) continue;
        ClipTask t;
        t.name = row[0];
        t.key = (train ? "train/" : "test/") + t.name;
        t.train = train;
        t.video = video_files.find(t.name);
        t.audio = wav_files.find(t.name);
        tasks.push_back(std::move(t));
      }
    }
    return tasks;
  }

  ClipResult process(const ClipTask& task, ClipOutputs& out) const override {
    VideoDecoder video(task.video);
    require_streams(video, false);
    FramePlan plan;
    plan.ogm_dir = "Image-01-FPS/" + task.name;
    plan.quality = quality_;
    const auto counts = extract_frames(video, plan, out);
    if (counts.ogm_frames < 1) throw ClipError(fmt::format("{}: no frame kept", task.video));
    std::vector<float> audio;
    if (!task.audio.empty()) {
      try {
        const auto wav = read_wav(task.audio);
        audio = resample(wav.mono(), wav.sample_rate, kCremadRate);
      } catch (const Error& e) {
        throw ClipError(e.what());
      }
    } else if (video.has_audio()) {
      audio = pcm16_to_float(video.decode_audio(kCremadRate, 1));
    } else {
      throw ClipError(fmt::format("{}: no AudioWAV/{}.wav and no audio stream in the video", task.video, task.name));
    }
    if (audio.empty()) throw ClipError(fmt::format("{}: no audio samples", task.audio.empty() ? task.video : task.audio));
    const auto pcm = to_pcm16(audio);
    const std::string stem = "AudioWAV/" + task.name;
    // The .npy holds what the loader computes from the written wav.
    out.write(stem + ".npy", encode_npy(cremad_audio_feature(pcm16_to_float(pcm))));
    out.write(stem + ".wav", encode_wav(pcm, kCremadRate, stem + ".wav"));
    out.declare(plan.ogm_dir);
    out.declare(stem + ".npy");
    out.declare(stem + ".wav");
    ClipResult r;
    r.frames = counts.ogm_frames;
    r.audio_seconds = static_cast<double>(audio.size()) / kCremadRate;
    return r;
  }

 private:
  int quality_;
};

}  // namespace

std::unique_ptr<Recipe> cremad_recipe(const PrepareOptions& options) { return std::make_unique<Cremad>(options); }

}  // namespace crmt::prepare
