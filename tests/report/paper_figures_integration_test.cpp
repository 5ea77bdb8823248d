#include "crmt/report/paper_figures.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace crmt {
namespace {

Sweep sweep(const std::string& attack, const std::vector<std::string>& modalities) {
  Sweep s;
  s.attack = attack;
  s.strengths = {0, 1};
  s.targets = {"all"};
  s.accuracy = {{0.9, 0.5}};
  for (size_t m = 0; m < modalities.size(); ++m) {
    s.targets.push_back(modalities[m]);
    s.accuracy.push_back({0.9, 0.7 - 0.3 * m});
  }
  s.samples = 10;
  return s;
}

// A hand-made analysis of a run with the given modalities and three classes, no certificate.
RunAnalysis run(const std::string& name, const std::vector<std::string>& modalities) {
  RunAnalysis r;
  r.name = name;
  r.checkpoint = name + ".pt";
  r.method = "jt";
  r.head = "concat";
  r.modalities = modalities;
  r.class_names = {"c0", "c1", "c2"};
  r.test_samples = 10;
  r.pgd_steps = 7;
  r.fgm = sweep("fgm", modalities);
  r.pgd = sweep("pgd", modalities);
  return r;
}

// eta[m][y][j] = m + 1 off the diagonal; modality 1 is preferred. Sample 0 is correct with
// uni-modal radii (0.5, 2), sample 1 wrong.
Certificate certificate(const std::vector<std::string>& modalities) {
  Certificate c;
  c.modalities = modalities;
  c.num_classes = 3;
  c.eta = torch::zeros({2, 3, 3}, torch::kFloat64);
  for (int64_t m = 0; m < 2; ++m) c.eta[m] = (m + 1.0) * (1 - torch::eye(3, torch::kFloat64));
  c.preferred_modality = 1;
  c.mean_eta = {1, 2};
  SampleCertificate ok;
  ok.label = ok.prediction = 1;
  ok.radius = 0.4;
  ok.unimodal_radius = {0.5, 2};
  SampleCertificate wrong;
  wrong.label = 0;
  wrong.prediction = 2;
  wrong.unimodal_radius = {1, 1};
  c.samples = {ok, wrong};
  c.radii = {0, 1};
  return c;
}

const LinePlot& line(const PaperFigure& f) { return std::get<LinePlot>(f.plot); }

TEST(PaperFigures, AccuracyCurvesDrawTheGapForTwoModalities) {
  auto figs = accuracy_curves(run("JT copy", {"a", "b"}), 5);
  ASSERT_EQ(figs.size(), 2u);
  EXPECT_EQ(figs[0].name, "JT_copy_fgm_accuracy");
  EXPECT_EQ(figs[1].name, "JT_copy_pgd_accuracy");
  EXPECT_EQ(figs[0].family, FigureFamily::kAccuracyCurves);
  EXPECT_NE(line(figs[1]).title.find("l2-PGD, 5 steps"), std::string::npos) << line(figs[1]).title;
  const auto& series = line(figs[0]).series;
  ASSERT_EQ(series.size(), 4u) << "all, a, b and the gap";
  EXPECT_EQ(series[0].title, "all modalities");
  EXPECT_EQ(series[1].title, "a only");
  EXPECT_EQ(series[3].title, "gap |a - b|");
  EXPECT_TRUE(series[3].dashed);
  ASSERT_EQ(series[3].y.size(), 2u);
  EXPECT_NEAR(series[3].y[0], 0.0, 1e-12);
  EXPECT_NEAR(series[3].y[1], 0.3, 1e-12);

  auto three = accuracy_curves(run("R", {"a", "b", "c"}), 5);
  EXPECT_EQ(line(three[0]).series.size(), 4u) << "no gap line with three modalities";
  auto one = accuracy_curves(run("R", {"a"}), 5);
  EXPECT_EQ(line(one[0]).series.size(), 2u) << "no gap line with one modality";
}

TEST(PaperFigures, TablesShowEveryCaseAndDashForMissingOnes) {
  ReportOptions o;
  auto tables = paper_tables({"a", "b"}, o, 3);
  ASSERT_EQ(tables.size(), 3u);
  EXPECT_EQ(tables[0].file, "table1_multimodal_attacks");
  std::set<std::string> headers;
  for (const auto& c : tables[1].columns) headers.insert(c.header);
  EXPECT_EQ(headers, (std::set<std::string>{"clean", "FGM a", "FGM b", "PGD a", "PGD b", "missing a", "missing b"}));
  EXPECT_NE(tables[2].note.find("(3 steps)"), std::string::npos) << tables[2].note;

  auto r = run("JT", {"a", "b"});
  EvalResult clean;
  clean.evaluated = tables[0].columns[0].evaluated;
  clean.accuracy = 0.875;
  r.results.push_back(clean);
  auto t = accuracy_table(tables[0], {r});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"JT", "0.875", "-", "-"}));
  auto j = accuracy_table_json(tables[0], {r});
  EXPECT_EQ(j["rows"][0]["accuracy"]["clean"].get<double>(), 0.875);
  EXPECT_TRUE(j["rows"][0]["accuracy"]["FGM"].is_null());
}

TEST(PaperFigures, EtaMapsAndSafeSharesComeFromTheCertificate) {
  auto r = run("JT", {"a", "b"});
  EXPECT_TRUE(eta_maps(r).empty());
  EXPECT_TRUE(safe_share_curves(r).empty());
  r.certificate = certificate({"a", "b"});

  auto maps = eta_maps(r);
  ASSERT_EQ(maps.size(), 3u) << "one ratio map (a over the preferred b), then one map per modality";
  EXPECT_EQ(maps[0].name, "JT_eta_ratio_a");
  EXPECT_EQ(maps[1].name, "JT_eta_a");
  EXPECT_EQ(maps[2].name, "JT_eta_b");
  const auto& ratio = std::get<HeatMap>(maps[0].plot);
  EXPECT_EQ(ratio.row_labels, r.class_names);
  EXPECT_TRUE(std::isnan(ratio.values[1][1])) << "the diagonal stays undefined";
  EXPECT_DOUBLE_EQ(ratio.values[0][2], 0.5);
  EXPECT_DOUBLE_EQ(std::get<HeatMap>(maps[2].plot).values[2][0], 2.0);

  auto safe = safe_share_curves(r);
  ASSERT_EQ(safe.size(), 1u);
  const auto& series = line(safe[0]).series;
  ASSERT_EQ(series.size(), 3u) << "each modality, then the joint radius";
  EXPECT_EQ(series[1].title, "b (preferred)");
  EXPECT_EQ(series[0].y, (std::vector<double>{0.5, 0.0}));  // only the correct sample counts
  EXPECT_EQ(series[1].y, (std::vector<double>{0.5, 0.5}));
  EXPECT_TRUE(series[2].dashed);
  EXPECT_EQ(series[2].y, (std::vector<double>{0.5, 0.0}));
  // The title says how the radii were bounded.
  EXPECT_NE(line(safe[0]).title.find("radii by lipschitz-"), std::string::npos) << line(safe[0]).title;
  r.certificate->bound = "crown";
  const auto crown = safe_share_curves(r);
  EXPECT_NE(line(crown[0]).title.find("radii by crown"), std::string::npos) << line(crown[0]).title;
}

TEST(PaperFigures, SafeShareRadiiFollowTheCorrectSamples) {
  auto c = certificate({"a", "b"});
  EXPECT_EQ(safe_share_radii(c, {0.1, 0.2}), (std::vector<double>{0.1, 0.2}));
  auto grid = safe_share_radii(c, {});
  ASSERT_EQ(grid.size(), 41u);
  EXPECT_DOUBLE_EQ(grid.front(), 0.0);
  EXPECT_DOUBLE_EQ(grid.back(), 2.0);  // the largest modality's radius of the one correct sample
}

TEST(PaperFigures, TsneComparisonsAndOverview) {
  auto r = run("JT", {"a", "b"});
  r.tsne = {torch::tensor({0.0, 1.0, 2.0, 3.0, 4.0, 5.0}, torch::kFloat64).view({3, 2})};
  r.tsne_labels = torch::tensor({0, 2, 1}, torch::kLong);
  r.tsne_perplexity = 1.5;
  auto scatters = tsne_scatters(r);
  ASSERT_EQ(scatters.size(), 1u);
  EXPECT_EQ(scatters[0].name, "JT_tsne_a");
  const auto& sp = std::get<ScatterPlot>(scatters[0].plot);
  EXPECT_EQ(sp.x, (std::vector<double>{0, 2, 4}));
  EXPECT_EQ(sp.y, (std::vector<double>{1, 3, 5}));
  EXPECT_EQ(sp.group, (std::vector<int64_t>{0, 2, 1}));

  EXPECT_TRUE(run_comparison_curves({r}).empty()) << "comparisons need two runs";
  auto other = run("B", {"a", "c"});
  auto compared = run_comparison_curves({r, other});
  ASSERT_EQ(compared.size(), 8u) << "FGM and PGD on all, a, b and c";
  EXPECT_EQ(compared[0].name, "compare_fgm_all");
  EXPECT_EQ(line(compared[0]).series.size(), 2u);
  EXPECT_EQ(line(compared[2]).series.size(), 1u) << "only run JT has modality b";
  EXPECT_EQ(paper_figures({r, other}).size(), 2u + 1u + 2u + compared.size());

  other.certificate_error = "unsupported head";
  auto t = runs_overview_table({r, other});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][4], "a, b");
  EXPECT_EQ(t.rows[0][8], "-");
  EXPECT_EQ(t.rows[1][8], "not certified: unsupported head");
}

}  // namespace
}  // namespace crmt
