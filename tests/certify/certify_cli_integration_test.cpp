#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace crmt {
namespace {

TEST(CertifyCli, RunsOnSyntheticCheckpointAndJsonParses) {
  auto dir = test::temp_dir("run");
  auto train = test::run_cli(
      "train data.name=synthetic model.encoder=mlp model.embed_dim=16 model.hidden_dim=32 train.epochs=1 "
      "data.synthetic.samples=200 data.synthetic.test_samples=80 output.progress=false output.dir=" +
      dir.string() + " --threads 1");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const auto ckpt = (dir / "best.pt").string();

  auto js = test::run_cli("certify --checkpoint " + ckpt +
                          " --samples 50 --radii 0,0.2,0.5 --audit --audit-steps 7 --audit-restarts 2 --json --threads 1");
  ASSERT_EQ(js.exit_code, 0) << js.output;
  auto j = test::json_in_output(js.output);
  const auto& c = j["certificate"];
  EXPECT_EQ(c["lipschitz"]["kind"], "empirical");
  EXPECT_EQ(c["lipschitz"]["samples"], 50);
  EXPECT_EQ(c["samples"], 80);
  ASSERT_EQ(c["certified_accuracy"].size(), 3u);
  EXPECT_DOUBLE_EQ(c["certified_accuracy"][0].get<double>(), c["clean_accuracy"].get<double>());
  EXPECT_TRUE(c.contains("preferred_modality"));
  EXPECT_TRUE(j["audit"].contains("violations"));
  EXPECT_EQ(j["audit"]["steps"], 7);
  EXPECT_EQ(j["audit"]["restarts"], 2);

  const auto csv = (dir / "certs.csv").string();
  auto text = test::run_cli("certify --checkpoint " + ckpt + " --lipschitz guaranteed --per-sample " + csv +
                            " --set data.synthetic.test_samples=30 --threads 1");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("guaranteed"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("certified acc"), std::string::npos) << text.output;
  std::ifstream in(csv);
  std::string header;
  std::getline(in, header);
  EXPECT_NE(header.find("unimodal_radius_m0"), std::string::npos) << header;
  int rows = 0;
  for (std::string line; std::getline(in, line);) rows += !line.empty();
  EXPECT_EQ(rows, 30);

  // Bound propagation: every radius says its kind, and it is never below the guaranteed one.
  auto by_bound = [&](const std::string& bound) {
    auto r = test::run_cli("certify --checkpoint " + ckpt + " --bound " + bound +
                           " --set data.synthetic.test_samples=20 --json --threads 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return test::json_in_output(r.output)["certificate"];
  };
  const auto crown = by_bound("crown"), guaranteed = by_bound("lipschitz-guaranteed");
  EXPECT_EQ(crown["bound"], "crown");
  EXPECT_EQ(crown["sound"], true);
  EXPECT_EQ(guaranteed["bound"], "lipschitz-guaranteed");
  EXPECT_GE(crown["median_radius"].get<double>(), guaranteed["median_radius"].get<double>() * (1 - 1e-6));
  EXPECT_EQ(by_bound("lipschitz-empirical")["sound"], false);
  auto unknown = test::run_cli("certify --checkpoint " + ckpt + " --bound interval --threads 1");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("--bound"), std::string::npos) << unknown.output;

  // The strong evaluation: APGD in eval (next to the suite) and against the certificate.
  auto strong = test::run_cli("eval --checkpoint " + ckpt + " --suite --strong --strong-steps 10 --strong-restarts 1 "
                              "--unimodal-eps 1.0 --json --threads 1");
  ASSERT_EQ(strong.exit_code, 0) << strong.output;
  double pgd_all = -1, apgd_all = -1;
  int apgd_cases = 0;
  const auto strong_json = test::json_in_output(strong.output);
  for (const auto& r : strong_json["runs"][0]["results"]) {
    if (r["attack"] == "pgd" && r["modality"] == "all") pgd_all = r["accuracy"].get<double>();
    if (r["attack"] == "apgd") {
      ++apgd_cases;
      EXPECT_EQ(r["restarts"], 1);
      EXPECT_EQ(r["eps"].get<double>(), r["modality"] == "all" ? 0.5 : 1.0);
      if (r["modality"] == "all") apgd_all = r["accuracy"].get<double>();
    }
  }
  EXPECT_EQ(apgd_cases, 3) << "APGD on all and on each modality";
  EXPECT_LE(apgd_all, pgd_all);
  auto checked = test::run_cli("certify --checkpoint " + ckpt +
                               " --lipschitz guaranteed --radii 0,0.1 --apgd --apgd-steps 10 --apgd-restarts 1 --threads 1");
  ASSERT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("no certified sample was broken"), std::string::npos) << checked.output;

  auto bad = test::run_cli("certify --checkpoint " + ckpt + " --lipschitz exact");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("empirical"), std::string::npos) << bad.output;
  auto bad_radii = test::run_cli("certify --checkpoint " + ckpt + " --radii 0.1,x");
  EXPECT_EQ(bad_radii.exit_code, 1) << bad_radii.output;
  EXPECT_NE(bad_radii.output.find("--radii"), std::string::npos) << bad_radii.output;
}

}  // namespace
}  // namespace crmt
