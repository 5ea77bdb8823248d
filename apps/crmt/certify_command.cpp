#include <optional>

#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/certify/apgd_check.h"
#include "crmt/certify/audit.h"
#include "crmt/certify/certificate.h"
#include "crmt/certify/crown/crown_certificate.h"
#include "crmt/certify/lipschitz.h"
#include "crmt/certify/smoothing/smoothing_certificate.h"
#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"
#include "crmt/pipeline/experiment.h"

namespace crmt::cli {

namespace {

struct SmoothingRequest {
  std::string checkpoint, radii, per_sample, sigma, device;
  std::vector<std::string> overrides;
  int64_t samples_select, samples_estimate, noise_batch;
  double alpha;
  uint64_t seed;
  bool json;
};

// --bound smoothing: Cohen et al.'s CERTIFY with per-modality noise, for any model (no layer rules).
void run_smoothing_certificate(SmoothingRequest r) {
  const auto radii = parse_nonnegative_list(r.radii, "--radii", /*allow_infinity=*/true);
  apply_device_option(r.device, r.overrides);
  auto e = load_experiment(r.checkpoint, r.overrides);
  smoothing::SmoothingOptions options;
  options.noise = smoothing::smoothing_noise(e.net, e.config, r.sigma, r.checkpoint);
  options.samples_select = r.samples_select;
  options.samples_estimate = r.samples_estimate;
  options.alpha = r.alpha;
  options.noise_batch = r.noise_batch;
  options.seed = r.seed;
  options.validate(options.noise.modalities);
  auto cert = smoothing::certify_smoothing(e.net, e.data.test, radii, options, e.config.boolean("output.progress"));
  if (!r.per_sample.empty()) write_file_atomically(r.per_sample, smoothing::smoothing_per_sample_table(cert).to_csv());
  if (r.json) {
    nlohmann::json j = {{"checkpoint", r.checkpoint}, {"certificate", smoothing::smoothing_certificate_json(cert)}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{}\n{}", r.checkpoint, smoothing::smoothing_certificate_report(cert));
  }
}

}  // namespace

void add_certify_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "certify", "certified l2 radii (Theorems 3.3 / 3.5), vulnerability indicators eta and modality preference");
  struct Options {
    std::string checkpoint, lipschitz = "empirical", bound, intermediate = "crown", radii = "0,0.1,0.25,0.5,1", per_sample;
    int64_t samples = -1;
    bool audit = false, json = false, apgd = false;
    int apgd_steps = 100, apgd_restarts = 5, audit_steps = 20, audit_restarts = 1;
    std::vector<std::string> overrides;
    std::string device;
    int threads = 0;
    // --bound smoothing
    std::string sigma;
    int64_t samples_select = 100, samples_estimate = 100000, noise_batch = 1000;
    double alpha = 0.001;
    uint64_t seed = 0;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("--checkpoint", opt->checkpoint, "a checkpoint written by crmt train (best.pt)")->required();
  cmd->add_option("--lipschitz", opt->lipschitz,
                  "empirical (largest observed gradient, as the paper's code) | guaranteed (upper bound)")
      ->capture_default_str();
  add_bound_options(*cmd, opt->bound, opt->intermediate);
  cmd->add_option("--samples", opt->samples,
                  "training samples for the empirical Lipschitz estimate (default: config crmt.lipschitz_samples)");
  cmd->add_option("--radii", opt->radii, "comma-separated l2 radii for certified accuracy")->capture_default_str();
  cmd->add_flag("--audit", opt->audit, "attack every certified sample with l2-PGD inside its radius and report violations");
  cmd->add_option("--audit-steps", opt->audit_steps, "--audit: l2-PGD steps per start")->capture_default_str();
  cmd->add_option("--audit-restarts", opt->audit_restarts,
                  "--audit: starts per sample, the first at the clean input, the rest at random points of the ball")
      ->capture_default_str();
  cmd->add_flag("--apgd", opt->apgd,
                "attack the samples certified at each radius r > 0 with APGD at eps r and count those it breaks");
  cmd->add_option("--apgd-steps", opt->apgd_steps, "--apgd: iterations")->capture_default_str();
  cmd->add_option("--apgd-restarts", opt->apgd_restarts, "--apgd: restarts per loss")->capture_default_str();
  cmd->add_option("--sigma", opt->sigma,
                  "--bound smoothing: noise in normalized input space, one value or per modality (audio=0.25,visual=0.5); "
                  "default: the checkpoint's train.gaussian_noise");
  cmd->add_option("--samples-select", opt->samples_select, "--bound smoothing: noisy copies that choose the class (n0)")
      ->capture_default_str();
  cmd->add_option("--samples-estimate", opt->samples_estimate,
                  "--bound smoothing: noisy copies that bound its probability (n)")
      ->capture_default_str();
  cmd->add_option("--alpha", opt->alpha, "--bound smoothing: the certificates fail with probability at most alpha")
      ->capture_default_str();
  cmd->add_option("--noise-batch", opt->noise_batch, "--bound smoothing: noisy copies per forward pass")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "--bound smoothing: seed of the noise (sample i draws from (seed, i))")
      ->capture_default_str();
  cmd->add_flag("--json", opt->json, "print JSON instead of tables");
  cmd->add_option("--per-sample", opt->per_sample, "write one CSV row per test sample to this file");
  cmd->add_option("--set", opt->overrides, "section.key=value applied to the stored config (e.g. data.test_size=1000)");
  add_threads_option(*cmd, opt->threads);
  add_device_option(*cmd, opt->device);
  cmd->callback([opt] {
    configure_threads(opt->threads);
    if (opt->bound == "smoothing")
      return run_smoothing_certificate({opt->checkpoint, opt->radii, opt->per_sample, opt->sigma, opt->device,
                                        opt->overrides, opt->samples_select, opt->samples_estimate, opt->noise_batch,
                                        opt->alpha, opt->seed, opt->json});
    const bool crown = resolve_bound_option(opt->bound, opt->lipschitz);
    check_lipschitz_kind(opt->lipschitz);
    const auto radii = parse_nonnegative_list(opt->radii, "--radii", /*allow_infinity=*/true);
    apply_device_option(opt->device, opt->overrides);
    auto e = load_experiment(opt->checkpoint, opt->overrides);
    // Before any work: radii and eta come from Theorems 3.3 / 3.5, which assume late fusion.
    e.net->require_late_fusion(fmt::format("{}: crmt certify (certified radii, eta)", opt->checkpoint));
    int64_t samples = opt->samples >= 0 ? opt->samples : e.config.integer("crmt.lipschitz_samples");
    if (samples < 0) fail("--samples must be non-negative (0 = the whole training split), got {}", samples);
    // The empirical estimate, like the paper's code, looks at training samples; certificates are for
    // the test split.
    CrownOptions crown_options;
    crown_options.progress = e.config.boolean("output.progress");
    crown_options.intermediate = opt->intermediate;
    auto cert = crown ? certify_crown(e.net, e.data.test, radii, crown_options)
                      : certify(e.net, e.data.test, estimate_lipschitz(e.net, e.data.train, opt->lipschitz, samples),
                                radii, e.config.integer("train.eval_batch_size"));
    std::optional<AuditResult> audit;
    if (opt->audit) {
      AuditOptions audit_options;
      audit_options.steps = opt->audit_steps;
      audit_options.restarts = opt->audit_restarts;
      audit = audit_certificate(e.net, e.data.test, cert, audit_options);
    }
    std::optional<ApgdCheck> strong;
    if (opt->apgd)
      strong = apgd_check(e.net, e.data.test, cert, opt->apgd_steps, opt->apgd_restarts,
                          e.config.integer("train.eval_batch_size"));
    if (!opt->per_sample.empty()) write_file_atomically(opt->per_sample, per_sample_table(cert).to_csv());
    if (opt->json) {
      nlohmann::json j = {{"checkpoint", opt->checkpoint}, {"certificate", certificate_json(cert)}};
      if (audit) j["audit"] = audit_json(*audit);
      if (strong) j["apgd_check"] = apgd_check_json(*strong);
      fmt::print("{}\n", j.dump(2));
    } else {
      fmt::print("{}\n{}", opt->checkpoint, certificate_report(cert));
      if (audit) fmt::print("{}", audit_report(*audit));
      if (strong) fmt::print("{}", apgd_check_report(*strong));
    }
  });
}

}  // namespace crmt::cli
