#pragma once
#include <string>
#include <vector>

namespace crmt {

// The fixed class lists of the datasets whose index files hold integers or codes.

// Kinetics-Sounds: the 31 classes in the order of the official index files' integer labels
// (alphabetical Kinetics-400 names).
const std::vector<std::string>& kinetics_sounds_classes();

// CREMA-D: the emotion codes in OGM-GE's label order (NEU 0, HAP 1, SAD 2, FEA 3, DIS 4, ANG 5).
const std::vector<std::string>& cremad_emotions();

}  // namespace crmt
