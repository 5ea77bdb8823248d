#pragma once
// The pieces of `crmt data prepare` (prepare.h) that every dataset shares: a clip to prepare, its
// staged outputs, the lookup of downloaded files, and the per-dataset recipe. Internal to
// src/crmt/data/prepare.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crmt/core/error.h"
#include "crmt/data/prepare/prepare.h"

namespace crmt::prepare {

// A problem of one clip (too short, no audio, ...): the clip is recorded as failed and the run goes
// on. Decoder failures (DecodeError) are treated the same; any other error stops the run.
class ClipError : public Error {
 public:
  using Error::Error;
};

struct ClipTask {
  std::string key;    // unique among the clips of the index: the manifest's and the staging folder's name
  std::string name;   // the loader's clip name
  bool train = true;
  std::string video;  // the video file found for it ("" when none)
  std::string audio;  // a separate audio file (CREMA-D's AudioWAV/<name>.wav), "" when none
};

// What a clip's preparation produced, for the manifest.
struct ClipResult {
  int frames = 0;             // JPEG frames written
  int flows = 0;              // (u, v) flow pairs written
  double audio_seconds = 0;   // audio decoded
};

// The files of one clip, written under a staging folder and moved into the output folder together
// by commit(): each declared output (a file or a folder, relative to the output folder) replaces
// what is there, in the order declared, so the loader's deciding file goes last and a clip killed
// half-way is never taken for a finished one.
class ClipOutputs {
 public:
  ClipOutputs(std::string out_dir, std::string staging_dir);
  // The staging path of `relative` (its parent folders created).
  std::string stage(const std::string& relative);
  void declare(const std::string& relative);
  // Writes bytes to the staging path of `relative` (no fsync: commit() syncs the file system once).
  void write(const std::string& relative, const void* data, size_t bytes);
  void write(const std::string& relative, const std::string& bytes) { write(relative, bytes.data(), bytes.size()); }
  void write(const std::string& relative, const std::vector<uint8_t>& bytes) {
    write(relative, bytes.data(), bytes.size());
  }
  const std::vector<std::string>& outputs() const { return outputs_; }
  void commit();

 private:
  std::string out_dir_, staging_dir_;
  std::vector<std::string> outputs_;
};

// The downloaded files under a folder, found by file stem (name without extension), recursively.
class FileFinder {
 public:
  FileFinder(const std::string& dir, const std::vector<std::string>& extensions);
  // The path of a file whose stem is `stem` ("" when none).
  std::string find(const std::string& stem) const;
  // The first file (in name order) whose stem starts with `prefix`.
  std::string find_prefix(const std::string& prefix) const;
  size_t size() const { return files_.size(); }

 private:
  std::map<std::string, std::string> files_;  // stem -> path
};

// One dataset's part: its index files, its clips and how a clip is prepared.
class Recipe {
 public:
  virtual ~Recipe() = default;
  // The index files this dataset needs (their usual names) and where their copies go in the output
  // folder (relative), e.g. {"classInd.txt", "ucfTrainTestlist/classInd.txt"}.
  struct IndexFile {
    std::string name;
    std::string destination;
    bool required = true;
  };
  virtual std::vector<IndexFile> index_files() const = 0;
  // The clips of the index files (name -> path of the ones found), each with its video looked up.
  virtual std::vector<ClipTask> plan(const std::map<std::string, std::string>& index,
                                     const std::string& videos_dir) const = 0;
  // Decodes the clip and stages its outputs. Throws ClipError or DecodeError for the clip's problems.
  virtual ClipResult process(const ClipTask& task, ClipOutputs& out) const = 0;
};

std::unique_ptr<Recipe> kinetics_sounds_recipe(const PrepareOptions& options);
std::unique_ptr<Recipe> vggsound_recipe(const PrepareOptions& options);
std::unique_ptr<Recipe> ucf101_recipe(const PrepareOptions& options);
std::unique_ptr<Recipe> cremad_recipe(const PrepareOptions& options);

// Extensions of the video files looked for.
const std::vector<std::string>& video_extensions();

}  // namespace crmt::prepare
