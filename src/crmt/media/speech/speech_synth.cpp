#include "crmt/media/speech/speech_synth.h"

#include <espeak-ng/speak_lib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "crmt/core/error.h"

namespace crmt {

std::string SpeechVoice::espeak_name() const { return variant.empty() ? language : language + "+" + variant; }

std::string SpeechVoice::describe() const { return fmt::format("{} rate={} pitch={}", espeak_name(), rate, pitch); }

namespace {

std::mutex& synth_mutex() {
  static std::mutex m;
  return m;
}

bool write_all(int fd, const void* data, size_t bytes) {
  auto p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly `bytes` unless the stream ends first; returns the number read.
size_t read_all(int fd, void* data, size_t bytes) {
  auto p = static_cast<char*>(data);
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::read(fd, p + done, bytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

// ---- child side: everything below runs in the forked process and reports through `fd`. ----

std::vector<int16_t>* g_sink = nullptr;

int collect_samples(short* wav, int numsamples, espeak_EVENT* /*events*/) {
  if (wav && numsamples > 0 && g_sink) g_sink->insert(g_sink->end(), wav, wav + numsamples);
  return 0;  // continue synthesis
}

// Protocol: per request an int64 sample count and the samples; on failure an int64 -1, an int64
// message length and the message, then the child exits.
[[noreturn]] void child_fail(int fd, const std::string& message) {
  int64_t marker = -1, len = static_cast<int64_t>(message.size());
  write_all(fd, &marker, sizeof marker);
  write_all(fd, &len, sizeof len);
  write_all(fd, message.data(), message.size());
  ::_exit(1);
}

[[noreturn]] void child_main(int fd, const std::vector<SpeechRequest>& requests) {
  // eSpeak-ng 1.51 takes the breath and frication noise of some voices (f2, f3, ...) from rand(),
  // whose state a forked child inherits: without this, any rand() call of the process before the
  // fork changed the speech. srand(1) is the state a process starts with.
  std::srand(1);
  try {
    int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
    if (rate <= 0)
      child_fail(fd, "espeak-ng-data: libespeak-ng could not be initialized (is the espeak-ng-data package "
                     "installed, or ESPEAK_DATA_PATH set?)");
    if (rate != kSpeechSampleRate)
      child_fail(fd, fmt::format("espeak-ng: synthesizes at {} Hz but {} Hz was expected", rate, kSpeechSampleRate));
    espeak_SetSynthCallback(collect_samples);
    const char* data_path = nullptr;
    espeak_Info(&data_path);
    std::vector<int16_t> samples;
    for (const auto& r : requests) {
      const std::string name = r.voice.espeak_name();
      // eSpeak silently falls back to the default voice for an unknown variant; check the file exists.
      if (!r.voice.variant.empty() && data_path) {
        auto file = std::filesystem::path(data_path) / "voices" / "!v" / r.voice.variant;
        if (!std::filesystem::exists(file))
          child_fail(fd, fmt::format("{}: espeak-ng voice variant '{}' not found", file.string(), r.voice.variant));
      }
      if (espeak_SetVoiceByName(name.c_str()) != EE_OK)
        child_fail(fd, fmt::format("espeak-ng voice '{}': not found in espeak-ng-data", name));
      espeak_SetParameter(espeakRATE, std::clamp(r.voice.rate, espeakRATE_MINIMUM, espeakRATE_MAXIMUM), 0);
      espeak_SetParameter(espeakPITCH, std::clamp(r.voice.pitch, 0, 100), 0);
      samples.clear();
      g_sink = &samples;
      espeak_ERROR rc =
          espeak_Synth(r.text.c_str(), r.text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, nullptr);
      espeak_Synchronize();
      g_sink = nullptr;
      if (rc != EE_OK)
        child_fail(fd, fmt::format("espeak-ng voice '{}': synthesis of \"{}\" failed (error {})", name, r.text,
                                   static_cast<int>(rc)));
      int64_t n = static_cast<int64_t>(samples.size());
      if (!write_all(fd, &n, sizeof n) || !write_all(fd, samples.data(), samples.size() * sizeof(int16_t))) ::_exit(2);
    }
  } catch (const std::exception& e) {
    child_fail(fd, std::string("espeak-ng: ") + e.what());
  }
  ::_exit(0);
}

}  // namespace

std::vector<std::vector<int16_t>> synthesize_speech(const std::vector<SpeechRequest>& requests) {
  if (requests.empty()) return {};
  std::lock_guard<std::mutex> lock(synth_mutex());
  int fds[2];
  if (::pipe(fds) != 0) fail("espeak-ng: cannot create a pipe for the synthesis process: {}", std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    fail("espeak-ng: cannot fork the synthesis process: {}", std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], requests);
  }
  ::close(fds[1]);
  std::vector<std::vector<int16_t>> out;
  std::string error;
  for (size_t i = 0; i < requests.size(); ++i) {
    int64_t n = 0;
    if (read_all(fds[0], &n, sizeof n) != sizeof n) break;
    if (n < 0) {
      int64_t len = 0;
      if (read_all(fds[0], &len, sizeof len) == sizeof len && len > 0 && len < (1 << 20)) {
        error.resize(static_cast<size_t>(len));
        error.resize(read_all(fds[0], error.data(), error.size()));
      }
      if (error.empty()) error = "espeak-ng: the synthesis process failed";
      break;
    }
    std::vector<int16_t> samples(static_cast<size_t>(n));
    if (read_all(fds[0], samples.data(), samples.size() * sizeof(int16_t)) != samples.size() * sizeof(int16_t)) break;
    out.push_back(std::move(samples));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!error.empty()) throw Error(error);
  if (out.size() != requests.size()) {
    if (WIFSIGNALED(status))
      fail("espeak-ng: the synthesis process died with signal {} after {} of {} utterances", WTERMSIG(status),
           out.size(), requests.size());
    fail("espeak-ng: the synthesis process stopped after {} of {} utterances (exit status {})", out.size(),
         requests.size(), WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return out;
}

std::vector<int16_t> synthesize_speech(const std::string& text, const SpeechVoice& voice) {
  return std::move(synthesize_speech(std::vector<SpeechRequest>{{text, voice}}).front());
}

std::vector<int16_t> trim_silence(const std::vector<int16_t>& samples, double threshold, int64_t margin) {
  const int limit = static_cast<int>(threshold * 32767);
  int64_t n = static_cast<int64_t>(samples.size());
  int64_t first = 0, last = n - 1;
  while (first < n && std::abs(static_cast<int>(samples[first])) <= limit) ++first;
  while (last > first && std::abs(static_cast<int>(samples[last])) <= limit) --last;
  if (first >= n) return {};
  first = std::max<int64_t>(0, first - margin);
  last = std::min<int64_t>(n - 1, last + margin);
  return std::vector<int16_t>(samples.begin() + first, samples.begin() + last + 1);
}

const std::vector<std::string>& train_voice_variants() {
  static const std::vector<std::string> v{"m1", "m2", "m3", "m4", "f1", "f2", "f3", "adam", "Andy", "Annie",
                                          "david", "ed", "john", "linda", "max", "paul", "robert", "steph"};
  return v;
}

const std::vector<std::string>& test_voice_variants() {
  static const std::vector<std::string> v{"m5", "m6", "m7", "f4", "f5", "Alex", "Andrea", "benjamin", "edward",
                                          "iven"};
  return v;
}

const std::vector<std::string>& english_languages() {
  static const std::vector<std::string> v{"en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc"};
  return v;
}

}  // namespace crmt
