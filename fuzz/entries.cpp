#include "entries.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "crmt/core/config.h"
#include "crmt/core/error.h"
#include "crmt/data/idx_reader.h"
#include "crmt/data/io/npy.h"
#include "crmt/data/io/wav.h"
#include "crmt/data/sources/clip_files.h"

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
  refused_or_read([&] { (void)read_npy(path); });
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

const std::vector<Target>& targets() {
  static const std::vector<Target> all{{"config", config}, {"idx", idx}, {"wav", wav}, {"npy", npy}, {"index_file", index_file}};
  return all;
}

}  // namespace crmt::fuzz
