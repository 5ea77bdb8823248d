#include "crmt/data/sources/class_lists.h"

namespace crmt {

const std::vector<std::string>& kinetics_sounds_classes() {
  static const std::vector<std::string> names = {
      "blowing_nose",      "blowing_out_candles", "bowling",          "chopping_wood",    "dribbling_basketball",
      "laughing",          "mowing_lawn",         "playing_accordion", "playing_bagpipes", "playing_bass_guitar",
      "playing_clarinet",  "playing_drums",       "playing_guitar",   "playing_harmonica", "playing_keyboard",
      "playing_organ",     "playing_piano",       "playing_saxophone", "playing_trombone", "playing_trumpet",
      "playing_violin",    "playing_xylophone",   "ripping_paper",    "shoveling_snow",   "shuffling_cards",
      "singing",           "stomping_grapes",     "tap_dancing",      "tapping_guitar",   "tapping_pen",
      "tickling"};
  return names;
}

const std::vector<std::string>& cremad_emotions() {
  static const std::vector<std::string> codes = {"NEU", "HAP", "SAD", "FEA", "DIS", "ANG"};
  return codes;
}

}  // namespace crmt
