#include "crmt/certify/smoothing/confidence.h"

#include <algorithm>
#include <limits>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/normal.hpp>

#include "crmt/core/error.h"

namespace crmt::smoothing {

double clopper_pearson_lower(int64_t successes, int64_t trials, double alpha) {
  if (trials <= 0 || successes < 0 || successes > trials)
    fail("Clopper-Pearson bound: {} successes in {} trials is not a binomial count", successes, trials);
  if (!(alpha > 0 && alpha < 1)) fail("Clopper-Pearson bound: alpha must lie in (0, 1), got {}", alpha);
  if (successes == 0) return 0.0;
  using boost::math::binomial_distribution;
  return binomial_distribution<double>::find_lower_bound_on_p(static_cast<double>(trials),
                                                              static_cast<double>(successes), alpha,
                                                              binomial_distribution<double>::clopper_pearson_exact_interval);
}

double binomial_test_half(int64_t successes, int64_t trials) {
  if (trials <= 0) return 1.0;
  if (successes < 0 || successes > trials)
    fail("binomial test: {} successes in {} trials is not a binomial count", successes, trials);
  const boost::math::binomial_distribution<double> b(static_cast<double>(trials), 0.5);
  // Symmetric under p = 1/2: twice the smaller tail, capped at 1.
  const int64_t k = std::max(successes, trials - successes);
  const double upper = k == 0 ? 1.0 : boost::math::cdf(boost::math::complement(b, static_cast<double>(k - 1)));
  return std::min(1.0, 2.0 * upper);
}

double normal_quantile(double p) {
  if (!(p >= 0 && p <= 1)) fail("normal quantile: p must lie in [0, 1], got {}", p);
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  return boost::math::quantile(boost::math::normal_distribution<double>(), p);
}

}  // namespace crmt::smoothing
