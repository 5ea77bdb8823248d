#include "crmt/data/prepare/prepare.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "crmt/core/atomic_file.h"
#include "crmt/core/progress.h"
#include "crmt/data/prepare/manifest.h"
#include "crmt/data/prepare/recipe.h"
#include "crmt/media/video/optical_flow.h"
#include "crmt/media/video/video_decoder.h"

namespace crmt {
namespace fs = std::filesystem;

namespace {

constexpr int kMaxWorkers = 256;
constexpr size_t kFailuresShown = 5;

struct DatasetEntry {
  const char* name;
  std::unique_ptr<prepare::Recipe> (*make)(const PrepareOptions&);
};

const std::vector<DatasetEntry>& entries() {
  static const std::vector<DatasetEntry> v{{"kinetics_sounds", prepare::kinetics_sounds_recipe},
                                           {"vggsound", prepare::vggsound_recipe},
                                           {"ucf101", prepare::ucf101_recipe},
                                           {"cremad", prepare::cremad_recipe}};
  return v;
}

// The dataset's index files: from --index (a file by its name, or a folder holding it), else found
// under the videos folder.
std::map<std::string, std::string> locate_index(const prepare::Recipe& recipe, const PrepareOptions& o) {
  std::map<std::string, std::string> found;
  std::vector<bool> used(o.index_files.size(), false);
  for (const auto& file : recipe.index_files()) {
    for (size_t i = 0; i < o.index_files.size() && !found.count(file.name); ++i) {
      const fs::path given(o.index_files[i]);
      std::error_code ec;
      if (fs::is_directory(given, ec)) {
        if (fs::is_regular_file(given / file.name, ec)) found[file.name] = (given / file.name).string(), used[i] = true;
      } else if (given.filename() == file.name) {
        if (!fs::is_regular_file(given, ec)) fail("--index {}: no such file", given.string());
        found[file.name] = given.string();
        used[i] = true;
      }
    }
    if (found.count(file.name)) continue;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(o.videos_dir, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      if (it.depth() > 2) it.disable_recursion_pending();
      if (it->path().filename() == file.name && it->is_regular_file(ec)) {
        found[file.name] = it->path().string();
        break;
      }
    }
    if (!found.count(file.name) && file.required)
      fail("{}: index file {} not found: pass --index FILE, or put it in {}", o.dataset, file.name, o.videos_dir);
  }
  std::vector<std::string> known;
  for (const auto& file : recipe.index_files()) known.push_back(file.name);
  for (size_t i = 0; i < o.index_files.size(); ++i)
    if (!used[i] && !fs::is_directory(o.index_files[i]))
      fail("--index {}: not an index file of {} (expected {})", o.index_files[i], o.dataset, fmt::join(known, ", "));
  return found;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string staging_name(std::string key) {
  for (auto& c : key)
    if (c == '/' || c == '\\') c = '_';
  return key;
}

// The temporaries ("<name>.tmp-<pid>") of an atomic write that a kill interrupted.
void remove_stale_temporaries(const fs::path& destination) {
  std::error_code ec;
  const auto prefix = destination.filename().string() + ".tmp-";
  for (fs::directory_iterator it(destination.parent_path(), ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(prefix, 0) == 0) fs::remove(it->path(), ec);
}

bool outputs_exist(const std::string& out_dir, const nlohmann::json& entry) {
  if (!entry.contains("outputs") || !entry["outputs"].is_array()) return false;
  std::error_code ec;
  for (const auto& o : entry["outputs"])
    if (!o.is_string() || !fs::exists(fs::path(out_dir) / o.get<std::string>(), ec)) return false;
  return true;
}

void check_options(const PrepareOptions& o) {
  std::error_code ec;
  if (o.videos_dir.empty() || !fs::is_directory(o.videos_dir, ec)) fail("--videos {}: no such folder", o.videos_dir);
  if (o.out_dir.empty()) fail("--out must name a folder");
  if (fs::exists(o.out_dir, ec) && !fs::is_directory(o.out_dir, ec)) fail("--out {}: exists and is not a folder", o.out_dir);
  if (fs::exists(o.out_dir, ec) && fs::equivalent(o.out_dir, o.videos_dir, ec))
    fail("--out {}: must differ from --videos (prepared files would mix with the downloads)", o.out_dir);
  if (o.workers < 1 || o.workers > kMaxWorkers) fail("--workers must be 1..{}, got {}", kMaxWorkers, o.workers);
  if (o.fps < 0 || o.fps > 1000) fail("--fps must be 0 (the dataset's) or a positive rate, got {}", o.fps);
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100) fail("--jpeg-quality must be 1..100, got {}", o.jpeg_quality);
  if (o.limit < 0) fail("--limit must be >= 0, got {}", o.limit);
}

}  // namespace

const std::vector<std::string>& prepare_datasets() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> names;
    for (const auto& e : entries()) names.push_back(e.name);
    return names;
  }();
  return v;
}

PrepareSummary prepare_videos(const PrepareOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const DatasetEntry* entry = nullptr;
  for (const auto& e : entries())
    if (o.dataset == e.name) entry = &e;
  if (!entry) fail("prepare: unknown dataset '{}' (known: {})", o.dataset, fmt::join(prepare_datasets(), ", "));
  check_options(o);
  const auto recipe = entry->make(o);

  const auto index = locate_index(*recipe, o);
  auto tasks = recipe->plan(index, o.videos_dir);
  if (o.limit > 0 && static_cast<int64_t>(tasks.size()) > o.limit) tasks.resize(static_cast<size_t>(o.limit));
  if (tasks.empty()) fail("{}: the index lists no clips", o.dataset);
  PrepareSummary summary;
  summary.clips = static_cast<int64_t>(tasks.size());
  for (const auto& t : tasks) summary.missing += t.video.empty();
  if (summary.missing == summary.clips)
    fail("{}: none of the {} clips of the index has a video under {} (the first is '{}')", o.dataset, summary.clips,
         o.videos_dir, tasks.front().name);

  fs::create_directories(o.out_dir);
  for (const auto& file : recipe->index_files()) {
    const auto it = index.find(file.name);
    if (it == index.end()) continue;
    const auto destination = fs::path(o.out_dir) / file.destination;
    remove_stale_temporaries(destination);
    write_file_atomically(destination.string(), read_bytes(it->second));
  }
  prepare::Manifest manifest((fs::path(o.out_dir) / "prepare_manifest.jsonl").string());
  summary.manifest = manifest.path();
  const auto staging_root = fs::path(o.out_dir) / ".prepare-staging";
  fs::remove_all(staging_root);  // clips a killed run left half-written

  std::vector<const prepare::ClipTask*> todo;
  for (const auto& t : tasks) {
    const auto* last = manifest.find(t.key);
    if (t.video.empty()) {
      if (!last || last->value("status", "") != "missing")
        manifest.append({{"clip", t.key}, {"name", t.name}, {"status", "missing"}});
    } else if (last && last->value("status", "") == "done" && outputs_exist(o.out_dir, *last)) {
      ++summary.already;
    } else {
      todo.push_back(&t);
    }
  }

  set_flow_threads(o.workers > 1 ? 1 : -1);
  ProgressBar bar(fmt::format("prepare {}", o.dataset), std::max<int64_t>(1, static_cast<int64_t>(todo.size())),
                  o.show_progress && !todo.empty());
  std::mutex mutex;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::string fatal;
  int64_t done = 0;
  auto relative_video = [&](const std::string& path) { return fs::relative(path, o.videos_dir).string(); };

  auto work = [&] {
    for (size_t i = next++; i < todo.size() && !stop; i = next++) {
      const auto& task = *todo[i];
      const auto clip_start = std::chrono::steady_clock::now();
      nlohmann::json line{{"clip", task.key}, {"name", task.name}, {"split", task.train ? "train" : "test"},
                          {"video", relative_video(task.video)}};
      bool failed = false;
      try {
        prepare::ClipOutputs out(o.out_dir, (staging_root / staging_name(task.key)).string());
        const auto result = recipe->process(task, out);
        out.commit();
        line["status"] = "done";
        line["frames"] = result.frames;
        if (result.flows > 0) line["flows"] = result.flows;
        if (result.audio_seconds > 0) line["audio_seconds"] = result.audio_seconds;
        line["outputs"] = out.outputs();
      } catch (const prepare::ClipError& e) {
        line["status"] = "failed", line["error"] = e.what(), failed = true;
      } catch (const DecodeError& e) {
        line["status"] = "failed", line["error"] = e.what(), failed = true;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        if (fatal.empty()) fatal = e.what();
        stop = true;
        return;
      }
      if (failed) fs::remove_all(staging_root / staging_name(task.key));
      line["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - clip_start).count();
      try {
        manifest.append(line);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        if (fatal.empty()) fatal = e.what();
        stop = true;
        return;
      }
      std::lock_guard<std::mutex> lock(mutex);
      if (failed) {
        ++summary.failed;
        if (summary.failures.size() < kFailuresShown)
          summary.failures.push_back(fmt::format("{}: {}", task.key, line["error"].get<std::string>()));
      } else {
        ++summary.prepared;
      }
      bar.update(++done, fmt::format("{} failed", summary.failed));
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < o.workers; ++w) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (!fatal.empty()) fail("prepare {}: stopped: {}", o.dataset, fatal);
  bar.finish(fmt::format("{} failed", summary.failed));
  std::error_code ec;
  fs::remove_all(staging_root, ec);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace crmt
