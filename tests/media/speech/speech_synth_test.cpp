#include "crmt/media/speech/speech_synth.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "crmt/core/error.h"

namespace {

double rms(const std::vector<int16_t>& x) {
  double s = 0;
  for (auto v : x) s += double(v) * v;
  return x.empty() ? 0 : std::sqrt(s / x.size()) / 32768.0;
}

TEST(SpeechSynth, ProducesAudibleWordOfPlausibleLength) {
  EXPECT_EQ(crmt::speech_sample_rate(), 22050);
  crmt::SpeechVoice voice{"en-us", "m3", 175, 50};
  auto pcm = crmt::synthesize_speech("ankle boot", voice);
  double seconds = pcm.size() / 22050.0;
  EXPECT_GT(seconds, 0.3);
  EXPECT_LT(seconds, 2.0);
  EXPECT_GT(rms(pcm), 0.02);
  auto trimmed = crmt::trim_silence(pcm);
  EXPECT_LE(trimmed.size(), pcm.size());
  EXPECT_GT(trimmed.size(), 0.25 * 22050);
  EXPECT_GE(rms(trimmed), rms(pcm));
}

TEST(SpeechSynth, SlowerRateGivesLongerAudio) {
  auto slow = crmt::trim_silence(crmt::synthesize_speech("pullover", {"en", "m1", 100, 50}));
  auto fast = crmt::trim_silence(crmt::synthesize_speech("pullover", {"en", "m1", 300, 50}));
  EXPECT_GT(slow.size(), 1.5 * fast.size());
}

TEST(SpeechSynth, DifferentVoicesGiveDifferentWaveforms) {
  auto a = crmt::synthesize_speech("sandal", {"en-us", "m3", 175, 50});
  auto b = crmt::synthesize_speech("sandal", {"en-us", "f2", 175, 50});
  auto c = crmt::synthesize_speech("sandal", {"en-us", "m3", 175, 80});
  auto a2 = crmt::synthesize_speech("sandal", {"en-us", "m3", 175, 50});
  EXPECT_EQ(a, a2) << "synthesis should not depend on what was synthesized before";
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(SpeechSynth, BatchMatchesSingleCalls) {
  std::vector<crmt::SpeechRequest> requests{{"bag", {"en-029", "f1", 150, 30}}, {"coat", {"en-gb-x-rp", "ed", 200, 70}}};
  auto batch = crmt::synthesize_speech(requests);
  ASSERT_EQ(batch.size(), 2u);
  // The first request starts from a fresh eSpeak in both cases.
  EXPECT_EQ(batch[0], crmt::synthesize_speech(requests[0].text, requests[0].voice));
  EXPECT_GT(batch[1].size(), 2000u);
  EXPECT_TRUE(crmt::synthesize_speech(std::vector<crmt::SpeechRequest>{}).empty());
}

// eSpeak-ng 1.51 draws the breath noise of voices such as f2 and f3 from the C library's rand():
// what the calling process drew from it before must not change the speech.
TEST(SpeechSynth, RandCallsOfTheCallerLeaveTheSpeechUnchanged) {
  const std::vector<crmt::SpeechRequest> requests{{"dress", {"en", "f2", 160, 40}}, {"coat", {"en-us", "f3", 200, 70}}};
  auto before = crmt::synthesize_speech(requests);
  for (int i = 0; i < 7; ++i) std::rand();
  EXPECT_EQ(crmt::synthesize_speech(requests), before);
  std::srand(12345);
  EXPECT_EQ(crmt::synthesize_speech(requests), before);
}

TEST(SpeechSynth, UnknownVariantNamesIt) {
  try {
    crmt::synthesize_speech("bag", {"en", "no-such-speaker", 175, 50});
    FAIL() << "expected crmt::Error";
  } catch (const crmt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-speaker"), std::string::npos) << e.what();
  }
}

TEST(SpeechSynth, TrainAndTestSpeakersAreDisjointAndInstalled) {
  std::set<std::string> train(crmt::train_voice_variants().begin(), crmt::train_voice_variants().end());
  for (const auto& v : crmt::test_voice_variants()) EXPECT_EQ(train.count(v), 0u) << v;
  // Every listed voice exists (synthesis throws for a missing variant file).
  std::vector<crmt::SpeechRequest> requests;
  for (const auto* list : {&crmt::train_voice_variants(), &crmt::test_voice_variants()})
    for (const auto& v : *list) requests.push_back({"coat", {"en", v, 175, 50}});
  for (const auto& lang : crmt::english_languages()) requests.push_back({"coat", {lang, "", 175, 50}});
  auto pcms = crmt::synthesize_speech(requests);
  for (size_t i = 0; i < pcms.size(); ++i) EXPECT_GT(pcms[i].size(), 2000u) << requests[i].voice.espeak_name();
}

TEST(SpeechSynth, TrimSilenceKeepsMargins) {
  std::vector<int16_t> x(1000, 0);
  for (int i = 400; i < 500; ++i) x[i] = 10000;
  auto t = crmt::trim_silence(x, 0.01, 50);
  EXPECT_EQ(t.size(), 200u);
  EXPECT_EQ(t[50], 10000);
  EXPECT_TRUE(crmt::trim_silence(std::vector<int16_t>(100, 0)).empty());
}

}  // namespace
