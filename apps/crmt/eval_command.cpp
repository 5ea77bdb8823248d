#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "crmt/attacks/attack_registry.h"
#include "crmt/certify/smoothing/smoothed_classifier.h"
#include "crmt/core/error.h"
#include "crmt/core/runtime.h"
#include "crmt/eval/result_table.h"
#include "crmt/eval/sweep.h"
#include "crmt/pipeline/experiment.h"

namespace crmt::cli {

void add_eval_command(CLI::App& app) {
  auto* eval = app.add_subcommand("eval", "accuracy of a trained model under an attack or a missing modality");
  struct Options {
    std::string checkpoint, attack = "none", modality = "all";
    double eps = 0.5;
    int steps = 4;
    int restarts = 1;
    bool json = false, suite = false, strong = false;
    int strong_steps = 100, strong_restarts = 5;
    std::optional<double> unimodal_eps;
    std::string sweep;
    std::vector<double> strengths = {0, 0.25, 0.5, 1.0, 1.5, 2.0};
    std::vector<std::string> overrides;
    std::string device;
    int threads = 0;
    bool smoothed = false;
    std::string sigma;
    int64_t smoothing_samples = 1000, noise_batch = 1000;
    double alpha = 0.001;
    uint64_t seed = 0;
  };
  auto opt = std::make_shared<Options>();
  eval->add_option("--checkpoint", opt->checkpoint, "a checkpoint written by crmt train (best.pt)")->required();
  eval->add_option("--attack", opt->attack, attack_choices())->capture_default_str();
  eval->add_option("--modality", opt->modality, "all or a modality name")->capture_default_str();
  eval->add_option("--eps", opt->eps, "the attack's strength: " + attack_strengths())->capture_default_str();
  eval->add_option("--steps", opt->steps, fmt::format("iterations of {}", fmt::join(iterative_attacks(), ", ")))
      ->capture_default_str();
  eval->add_option("--restarts", opt->restarts, "random restarts of apgd, apgd_ce, apgd_dlr")->capture_default_str();
  eval->add_flag("--suite", opt->suite, "run the paper's table: clean, FGM/PGD on all and each modality, missing each");
  eval->add_option("--unimodal-eps", opt->unimodal_eps, "--suite: budget of the attacks on one modality (default: --eps)");
  eval->add_flag("--strong", opt->strong,
                 "add APGD (cross-entropy, then DLR on what survived) on all and each modality: to --suite, or alone");
  eval->add_option("--strong-steps", opt->strong_steps, "--strong: APGD iterations")->capture_default_str();
  eval->add_option("--strong-restarts", opt->strong_restarts, "--strong: APGD restarts per loss")->capture_default_str();
  eval->add_option("--sweep", opt->sweep, "accuracy against strength for an attack with one, on all and each modality");
  eval->add_option("--strengths", opt->strengths, "comma-separated strengths for --sweep")->delimiter(',');
  eval->add_flag("--json", opt->json, "print JSON instead of a table");
  eval->add_option("--set", opt->overrides, "section.key=value applied to the stored config (e.g. data.test_size=1000)");
  eval->add_flag("--smoothed", opt->smoothed,
                 "classify with the smoothed model (Cohen et al.'s PREDICT; an abstention counts as wrong); the attacks "
                 "attack the model itself");
  eval->add_option("--sigma", opt->sigma,
                   "--smoothed: noise, one value or per modality (audio=0.25,visual=0.5); default: the checkpoint's "
                   "train.gaussian_noise");
  eval->add_option("--smoothing-samples", opt->smoothing_samples, "--smoothed: noisy copies per prediction")
      ->capture_default_str();
  eval->add_option("--alpha", opt->alpha, "--smoothed: level of the test that decides to abstain")->capture_default_str();
  eval->add_option("--noise-batch", opt->noise_batch, "--smoothed: noisy copies per forward pass")->capture_default_str();
  eval->add_option("--seed", opt->seed, "--smoothed: seed of the noise")->capture_default_str();
  add_threads_option(*eval, opt->threads);
  add_device_option(*eval, opt->device);
  eval->callback([opt] {
    configure_threads(opt->threads);
    apply_device_option(opt->device, opt->overrides);
    auto e = load_experiment(opt->checkpoint, opt->overrides);
    const auto modalities = e.data.test.modality_names();
    if (!opt->sweep.empty()) {
      if (opt->smoothed) fail("--smoothed goes with --attack, --suite or --strong, not --sweep");
      auto sweep = sweep_attack(e.net, e.data.test, opt->sweep, opt->strengths, e.config.integer("train.eval_batch_size"),
                                opt->steps, !opt->json);
      if (opt->json)
        fmt::print("{}\n", nlohmann::json{{"checkpoint", opt->checkpoint}, {"sweep", sweep_json(sweep)}}.dump(2));
      else
        fmt::print("{}: accuracy (%) on {} test samples\n{}", opt->checkpoint, sweep.samples, sweep_table(sweep).to_text());
      return;
    }
    std::vector<EvalCase> cases;
    if (opt->suite || opt->strong) {
      if (opt->suite) cases = standard_suite(modalities, opt->eps, opt->steps, opt->unimodal_eps);
      if (opt->strong)
        for (auto& c : strong_suite(modalities, opt->eps, opt->strong_steps, opt->strong_restarts, opt->unimodal_eps))
          cases.push_back(c);
      for (const auto& c : cases) build_attack(c.attack);  // rejects bad settings before any work
    } else {
      if (opt->modality != "all" && std::find(modalities.begin(), modalities.end(), opt->modality) == modalities.end())
        fail("--modality '{}' is not one of this model's modalities: all, {}", opt->modality, fmt::join(modalities, ", "));
      if (opt->attack == "missing" && opt->modality == "all")
        fail("--attack missing needs --modality NAME (removing every modality leaves nothing to classify)");
      cases.push_back({AttackSpec{opt->attack, opt->eps, opt->steps, 0, opt->restarts}, opt->modality});
      build_attack(cases.back().attack);  // rejects an unknown attack before any work
    }
    Classifier classify;
    std::string label = e.config.str("train.method");
    if (opt->smoothed) {
      smoothing::SmoothingOptions smoothing;
      smoothing.noise = smoothing::smoothing_noise(e.net, e.config, opt->sigma, opt->checkpoint);
      smoothing.samples_select = 1;
      smoothing.samples_estimate = opt->smoothing_samples;
      smoothing.alpha = opt->alpha;
      smoothing.noise_batch = opt->noise_batch;
      smoothing.seed = opt->seed;
      smoothing.validate(smoothing.noise.modalities);
      classify = [smoothing](MultiModalNet& net, const Batch& batch, int64_t first) {
        return smoothing::predict_smoothed(net, batch, smoothing, first);
      };
      label += fmt::format(" smoothed (sigma {}, n = {})", smoothing.noise.to_string(), smoothing.samples_estimate);
    }
    RunResults run{label, {}};
    const int64_t bs = e.config.integer("train.eval_batch_size");
    for (const auto& c : cases)
      run.results.push_back(evaluate(e.net, e.data.test, c, bs, !opt->json,
                                     static_cast<int>(e.config.integer("data.workers")), classify));
    if (opt->json) {
      nlohmann::json out = {{"checkpoint", opt->checkpoint}, {"test_samples", e.data.test.size()}, {"runs", results_json({run})}};
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{} on {} test samples\n{}", opt->checkpoint, e.data.test.size(), results_table({run}).to_text());
    }
  });
}

}  // namespace crmt::cli
