#pragma once
// One fuzzer input fed to each of crmt's readers of untrusted input. A crmt::Error (a clean
// one-line refusal) is an accepted outcome; any other exception, a crash, a hang or a sanitizer
// report is a finding. Shared by the libFuzzer targets (fuzz/, clang) and the regression test that
// replays fuzz/corpus/ in every CI run (tests/fuzz/).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace crmt::fuzz {

using Entry = void (*)(const uint8_t* data, size_t size);

// YAML config text; a last line "key=value" is applied as a command-line override.
void config(const uint8_t* data, size_t size);
// An idx (MNIST) file, gzip-compressed or plain.
void idx(const uint8_t* data, size_t size);
// A RIFF/WAVE file.
void wav(const uint8_t* data, size_t size);
// A NumPy .npy file.
void npy(const uint8_t* data, size_t size);
// A dataset index or CSV file: its lines, CSV fields, and each name joined under a root.
void index_file(const uint8_t* data, size_t size);
// A checkpoint file: crmt's checks (zip structure, CRC-32s, pickles, class source), then LibTorch's
// reader behind them: the archive, its header and every tensor it holds.
void checkpoint(const uint8_t* data, size_t size);
// The data.pkl of a checkpoint whose other records are a real one's (the zip valid around it).
void checkpoint_pickle(const uint8_t* data, size_t size);
// The embedded dataset's meta.json, loaded with a small set of valid array files beside it.
void meta_json(const uint8_t* data, size_t size);
// `data prepare`'s manifest (prepare_manifest.jsonl): read, then one entry appended.
void prepare_manifest(const uint8_t* data, size_t size);
// A video file: decoded with FFmpeg's libraries, frames converted, audio resampled.
void video(const uint8_t* data, size_t size);

struct Target {
  std::string name;
  Entry entry;
};
const std::vector<Target>& targets();

}  // namespace crmt::fuzz
