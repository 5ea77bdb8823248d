#pragma once
#include <cstdint>

namespace crmt::smoothing {

// The statistics of randomized smoothing (Cohen, Rosenfeld and Kolter, ICML 2019), from Boost.Math.

// One-sided Clopper-Pearson lower confidence bound at level alpha on a binomial proportion after
// `successes` of `trials`: P(p >= bound) >= 1 - alpha. 0 when successes = 0.
double clopper_pearson_lower(int64_t successes, int64_t trials, double alpha);

// Two-sided p-value of the exact binomial test of `successes` in `trials` against p = 1/2 (Cohen's
// PREDICT abstains when it exceeds alpha).
double binomial_test_half(int64_t successes, int64_t trials);

// Phi^-1(p), the standard normal quantile, for p in (0, 1); -inf at 0 and +inf at 1.
double normal_quantile(double p);

}  // namespace crmt::smoothing
