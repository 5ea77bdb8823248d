#include "entries.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "crmt/core/config.h"
#include "crmt/core/error.h"
#include "crmt/media/io/idx_reader.h"
#include "crmt/media/io/npy.h"
#include "crmt/media/io/wav.h"
#include "crmt/data/array_store.h"
#include "crmt/data/embedded_dataset.h"
#include "crmt/data/prepare/manifest.h"
#include "crmt/data/sources/clip_files.h"
#include "crmt/media/video/video_decoder.h"
#include "crmt/train/checkpoint_info.h"

#include <caffe2/serialize/inline_container.h>
#include <nlohmann/json.hpp>

namespace crmt::fuzz {

namespace {

// The readers take paths: the input goes to a file of this process (tmpfs when there is one),
// removed again when the entry returns.
struct InputFile {
  std::string path;
  InputFile(const uint8_t* data, size_t size, const char* suffix) {
    static const std::string dir =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    path = dir + "/crmt-fuzz-" + std::to_string(getpid()) + suffix;
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ~InputFile() { std::remove(path.c_str()); }
};

template <typename F>
void refused_or_read(F&& read) {
  try {
    read();
  } catch (const Error&) {
    // a clean refusal naming the file or key
  }
}

}  // namespace

void config(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto cut = text.rfind('\n');
  const auto yaml = cut == std::string::npos ? text : text.substr(0, cut);
  const auto last = cut == std::string::npos ? std::string() : text.substr(cut + 1);
  refused_or_read([&] {
    auto c = Config::from_string(yaml, "fuzz.yaml");
    if (const auto eq = last.find('='); eq != std::string::npos) c.set(last.substr(0, eq), last.substr(eq + 1));
    (void)c.str("data.name");
    (void)c.integer("train.epochs");
    (void)c.real("train.lr");
    (void)c.boolean("output.progress");
    (void)c.strings("data.modalities");
    (void)Config::from_string(c.to_yaml(), "fuzz.yaml (written back)");
  });
}

void idx(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".idx");
  const auto& path = file.path;
  refused_or_read([&] { (void)read_idx(path); });
  refused_or_read([&] { (void)read_idx(path, 3, 2); });
}

void wav(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".wav");
  const auto& path = file.path;
  refused_or_read([&] { (void)read_wav(path).mono(); });
}

void npy(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".npy");
  const auto& path = file.path;
  std::vector<char> elements;
  refused_or_read([&] {
    read_npy(path, [&](NpyDtype type, const std::vector<int64_t>& shape) {
      size_t count = 1;
      for (auto d : shape) count *= static_cast<size_t>(d);
      elements.resize(count * npy_element_size(type));
      return static_cast<void*>(elements.data());
    });
  });
}

void index_file(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".txt");
  const auto& path = file.path;
  refused_or_read([&] {
    for (const auto& line : read_index_lines(path)) {
      for (const auto& field : split_csv_row(line)) refused_or_read([&] { (void)join_inside("/data/root", field, path); });
      refused_or_read([&] { (void)join_inside("/data/root", line, path); });
    }
  });
}

void checkpoint(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".pt");
  // crmt's checks and then LibTorch's whole reader behind them: the archive, its header and every
  // tensor of the model, optimizer and method it holds, as resuming reads them.
  refused_or_read([&] {
    auto archive = open_checkpoint_archive(file.path);
    (void)read_checkpoint_header(archive, file.path);
    try {
      for (const char* part : {"model", "optimizer", "method"}) {
        torch::serialize::InputArchive sub;
        if (!archive.try_read(part, sub)) continue;
        for (const auto& key : sub.keys()) {
          c10::IValue value;
          (void)sub.try_read(key, value);
        }
      }
    } catch (const c10::Error&) {  // a value of another type than asked: load_checkpoint names the file
    }
  });
}

void checkpoint_pickle(const uint8_t* data, size_t size) {
  // Every record of a real checkpoint (fuzz/corpus/checkpoint/tiny_mlp.pt) but data.pkl, which is
  // the input: the zip and its CRC-32s are then valid, so the input reaches the pickle checks and
  // LibTorch's unpickler behind them.
  static const auto records = [] {
    caffe2::serialize::PyTorchStreamReader reader(std::string(CRMT_SOURCE_DIR) + "/fuzz/corpus/checkpoint/tiny_mlp.pt");
    std::vector<std::pair<std::string, std::string>> kept;
    for (const auto& name : reader.getAllRecords()) {
      if (name == "data.pkl" || name == "version") continue;
      auto [bytes, n] = reader.getRecord(name);
      kept.emplace_back(name, std::string(static_cast<const char*>(bytes.get()), n));
    }
    return kept;
  }();
  std::string archive;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&archive](const void* bytes, size_t n) {
      archive.append(static_cast<const char*>(bytes), n);
      return n;
    });
    for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
    writer.writeRecord("data.pkl", data, size);
    writer.writeEndOfFile();
  }
  checkpoint(reinterpret_cast<const uint8_t*>(archive.data()), archive.size());
}

namespace {

// A folder holding small, valid array files of the embedded layout (4 train and 2 test samples);
// the fuzzed meta.json is written beside them. fuzz/corpus/meta_json holds the meta.json that
// describes them exactly (scripts: the "valid" input below).
const std::string& embedded_folder() {
  static const std::string dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("crmt-fuzz-embedded-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    for (const auto& [split, n] : {std::pair<std::string, int64_t>{"train", 4}, {"test", 2}}) {
      save_array(d.string(), split + "_visual.u8", split, "visual", at::full({n, 1, 28, 28}, 7, at::kByte));
      save_array(d.string(), split + "_audio.f16", split, "audio", at::full({n, 1, 32, 32}, 0.5, at::kHalf));
      save_array(d.string(), split + "_labels.i64", split, "labels", at::arange(n, at::kLong) % 2);
    }
    return d.string();
  }();
  return dir;
}

}  // namespace

void meta_json(const uint8_t* data, size_t size) {
  const auto& dir = embedded_folder();
  std::ofstream(dir + "/meta.json", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  refused_or_read([&] {
    EmbeddedOptions o;
    o.dir = dir;
    o.prepare_if_missing = false;
    o.show_progress = false;
    o.val_fraction = 0.25;
    auto splits = load_embedded(o);
    (void)splits.train.size();
  });
}

void prepare_manifest(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".jsonl");
  refused_or_read([&] {
    prepare::Manifest manifest(file.path);
    (void)manifest.find("train/a");
    manifest.append({{"clip", "train/a"}, {"status", "done"}});
    if (!manifest.find("train/a")) throw std::logic_error("an appended entry is not found");
  });
}

void video(const uint8_t* data, size_t size) {
  const InputFile file(data, size, ".mp4");
  refused_or_read([&] {
    VideoDecoder decoder(file.path);
    if (decoder.has_video()) {
      int64_t frames = 0;
      decoder.decode_video([&](int64_t, double, const DecodedFrame& frame) {
        if (frames++ < 2) (void)frame.rgb();
      });
    }
    if (decoder.has_audio()) (void)decoder.decode_audio(16000, 1);
  });
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all{{"config", config},         {"idx", idx},
                                       {"wav", wav},               {"npy", npy},
                                       {"index_file", index_file}, {"checkpoint", checkpoint},
                                       {"meta_json", meta_json},   {"prepare_manifest", prepare_manifest},
                                       {"video", video},           {"checkpoint_pickle", checkpoint_pickle}};
  return all;
}

}  // namespace crmt::fuzz
