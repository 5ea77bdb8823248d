#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crmt {

// One eSpeak NG voice setting: an English language/accent ("en-us"), a voice variant from
// espeak-ng-data/voices/!v ("m3", "f2", ...), the speaking rate in words per minute and the base
// pitch (0-100).
struct SpeechVoice {
  std::string language = "en";
  std::string variant;  // empty: the language's default voice
  int rate = 175;
  int pitch = 50;

  // The eSpeak voice name: "en-us+m3" (or "en-us" without a variant).
  std::string espeak_name() const;
  // A readable description: "en-us+m3 rate=160 pitch=45".
  std::string describe() const;
};

struct SpeechRequest {
  std::string text;
  SpeechVoice voice;
};

// Synthesizes each request with libespeak-ng into 16-bit mono samples at speech_sample_rate() Hz,
// serially and in order. eSpeak keeps global state that is not thread-safe and that carries over
// from one utterance to the next (the waveform of an utterance depends on what was spoken before),
// so the synthesis runs in a forked child process that starts from a fresh eSpeak every time: the
// result is a deterministic function of `requests`, and this process's eSpeak state is never
// touched. Calls are serialized by a process-wide mutex. Throws crmt::Error when espeak-ng-data
// cannot be found, a voice variant does not exist, or the synthesis process fails.
std::vector<std::vector<int16_t>> synthesize_speech(const std::vector<SpeechRequest>& requests);
// One utterance (one child process); prefer the batch form for many.
std::vector<int16_t> synthesize_speech(const std::string& text, const SpeechVoice& voice);

// The sample rate eSpeak synthesizes at.
constexpr int kSpeechSampleRate = 22050;
inline int speech_sample_rate() { return kSpeechSampleRate; }

// Removes leading and trailing samples whose magnitude stays below `threshold` (of full scale),
// keeping `margin` samples of context on both sides.
std::vector<int16_t> trim_silence(const std::vector<int16_t>& samples, double threshold = 0.01, int64_t margin = 220);

// The voice variants each split of the embedded dataset draws from; the two lists are disjoint so
// that test utterances come from speakers never heard in training.
const std::vector<std::string>& train_voice_variants();
const std::vector<std::string>& test_voice_variants();
// English languages (accents) both splits draw from.
const std::vector<std::string>& english_languages();

}  // namespace crmt
