#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crmt {

// `crmt data prepare <dataset> --videos DIR --out DIR`: turns a folder of downloaded videos into the
// on-disk layout the dataset's loader (and the public code it mirrors) reads: JPEG frames at 1 fps,
// the dataset's audio feature as .npy (and wav where the loader reads wav), TV-L1 flow for UCF101,
// and the index files. docs/datasets.md shows the layouts; docs/prepare.md every parameter.
//
// Resumable: each clip is written under <out>/.prepare-staging/ and renamed into place when
// complete, the loader's deciding file last, then recorded in <out>/prepare_manifest.jsonl; a
// rerun skips the clips recorded as done whose outputs exist. A clip whose video is corrupt,
// truncated, too short, without the needed stream or in an unsupported codec is recorded as failed
// with the decoder's reason, and the run goes on.
struct PrepareOptions {
  std::string dataset;                   // one of prepare_datasets()
  std::string videos_dir;                // searched recursively for the clips' videos
  std::string out_dir;
  std::vector<std::string> index_files;  // the dataset's index files; those not given are looked for in videos_dir
  int workers = 1;                       // clips decoded in parallel
  double fps = 0;                        // frames kept per second (0: 1, or 2 for UCF101's RGB)
  int jpeg_quality = 95;                 // OpenCV's default, the writer of OGM-GE's and CRMT's flow frames
  int64_t limit = 0;                     // only the first N clips of the index (0: all)
  bool show_progress = false;
};

struct PrepareSummary {
  int64_t clips = 0;     // in the index
  int64_t prepared = 0;  // by this run
  int64_t already = 0;   // done by an earlier run (skipped)
  int64_t failed = 0;    // undecodable or unusable; reasons in the manifest
  int64_t missing = 0;   // no video file found under videos_dir
  double seconds = 0;
  std::string manifest;                 // path of prepare_manifest.jsonl
  std::vector<std::string> failures;    // "<clip>: <reason>", the first few
};

// {"kinetics_sounds", "vggsound", "ucf101", "cremad"}.
const std::vector<std::string>& prepare_datasets();

// Throws crmt::Error for unusable options (unknown dataset, missing folders or index files, an
// index no video of which is found); a clip's own problems never throw.
PrepareSummary prepare_videos(const PrepareOptions& options);

}  // namespace crmt
