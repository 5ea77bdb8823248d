// Precompiled header shared by every target: <torch/torch.h> costs ~20 s per translation unit
// without it on a 2-core machine.
#pragma once
#include <torch/torch.h>
#include <torch/fft.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>
