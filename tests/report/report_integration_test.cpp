#include "crmt/report/report.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crmt/report/figures.h"
#include "crmt/report/html.h"
#include "report/report_test_util.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One tiny synthetic run shared by the tests of this file (trained once per process; ctest runs
// each test in its own process, in parallel, so the folder must be private to the calling test).
const std::string& checkpoint() {
  static std::string ckpt = [] {
    auto dir = test::temp_dir("run");
    auto r = test::run_cli(
        "train data.name=synthetic model.encoder=mlp model.embed_dim=16 model.hidden_dim=32 train.epochs=3 train.lr=0.05 "
        "data.synthetic.samples=400 data.synthetic.test_samples=120 output.progress=false output.dir=" +
        dir.string() + " --threads 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return (dir / "best.pt").string();
  }();
  return ckpt;
}

std::string fast(int tsne_samples = 60) {
  return " --test-size 90 --tsne-samples " + std::to_string(tsne_samples) +
         " --tsne-iterations 250 --eps-list 0,0.5,1 --lipschitz-samples 100 --quiet --threads 1";
}

TEST(Report, WritesTablesFiguresAndPage) {
  const auto out = test::temp_dir("out");
  const auto& ckpt = checkpoint();
  auto r = test::run_cli("report --run JT=" + ckpt + " --run 'JT copy'=" + ckpt + " --out " + out.string() + fast());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("index.html"), std::string::npos) << r.output;

  // Tables 1, 2 and 7 in three formats, one row per run.
  for (const std::string t : {"table1_multimodal_attacks", "table2_unimodal_attacks", "table7_other_attacks"}) {
    for (const std::string ext : {".md", ".csv", ".json"}) ASSERT_TRUE(fs::exists(out / "tables" / (t + ext))) << t << ext;
    auto j = nlohmann::json::parse(slurp(out / "tables" / (t + ".json")));
    ASSERT_EQ(j["rows"].size(), 2u) << t;
    EXPECT_EQ(j["rows"][0]["run"], "JT");
    EXPECT_EQ(j["rows"][1]["run"], "JT copy");
    for (const auto& row : j["rows"])
      for (const auto& [col, acc] : row["accuracy"].items()) {
        ASSERT_TRUE(acc.is_number()) << t << " " << col;
        EXPECT_GE(acc.get<double>(), 0.0);
        EXPECT_LE(acc.get<double>(), 1.0);
      }
    // The same checkpoint twice gives the same numbers.
    EXPECT_EQ(j["rows"][0]["accuracy"], j["rows"][1]["accuracy"]) << t;
    auto csv = slurp(out / "tables" / (t + ".csv"));
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  }
  auto t2 = nlohmann::json::parse(slurp(out / "tables" / "table2_unimodal_attacks.json"));
  std::set<std::string> cols;
  for (const auto& c : t2["columns"]) cols.insert(c["header"].get<std::string>());
  EXPECT_EQ(cols, (std::set<std::string>{"clean", "FGM m0", "FGM m1", "PGD m0", "PGD m1", "missing m0", "missing m1"}));
  auto t1 = nlohmann::json::parse(slurp(out / "tables" / "table1_multimodal_attacks.json"));
  const double clean = t1["rows"][0]["accuracy"]["clean"], pgd = t1["rows"][0]["accuracy"]["PGD"];
  EXPECT_GT(clean, 0.4) << "the tiny model learned something";
  EXPECT_LE(pgd, clean);

  // Every figure: script, data, and (with gnuplot) a PNG of the expected size and an SVG.
  auto summary = nlohmann::json::parse(slurp(out / "report.json"));
  std::set<std::string> figures;
  for (const auto& f : summary["figures"]) figures.insert(f.get<std::string>());
  std::set<std::string> expected;
  for (const std::string run : {"JT", "JT_copy"}) {
    for (const std::string f : {"_fgm_accuracy", "_pgd_accuracy", "_eta_m0", "_eta_m1", "_safe_share", "_tsne_m0",
                                "_tsne_m1"})
      expected.insert(run + f);
  }
  for (const std::string a : {"fgm", "pgd"})
    for (const std::string t : {"all", "m0", "m1"}) expected.insert("compare_" + a + "_" + t);
  int ratios = 0;
  for (const auto& f : figures)
    if (f.find("_eta_ratio_") != std::string::npos) ++ratios;
    else EXPECT_TRUE(expected.count(f)) << "unexpected figure " << f;
  EXPECT_EQ(ratios, 2) << "one eta ratio map per run with two modalities";
  for (const auto& f : expected) EXPECT_TRUE(figures.count(f)) << "missing figure " << f;

  const auto html = slurp(out / "index.html");
  for (const auto& f : figures) {
    EXPECT_TRUE(fs::exists(out / "figures" / (f + ".gp"))) << f;
    EXPECT_TRUE(fs::exists(out / "figures" / (f + ".dat"))) << f;
  }
  // The page shows the tables and each run's stored config.
  EXPECT_NE(html.find("Table 1"), std::string::npos);
  EXPECT_NE(html.find("Table 7"), std::string::npos);
  EXPECT_NE(html.find("method: jt"), std::string::npos);
  EXPECT_TRUE(fs::exists(out / "runs" / "JT_copy" / "config.yaml"));
  EXPECT_TRUE(fs::exists(out / "runs" / "JT" / "certificate.json"));

  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot is not installed: figure files not checked";
  EXPECT_TRUE(summary["figures_rendered"].get<bool>()) << summary["warnings"].dump();
  for (const auto& f : figures) {
    EXPECT_NE(html.find("src=\"figures/" + f + ".png\""), std::string::npos) << f;
    EXPECT_NE(html.find("href=\"figures/" + f + ".svg\""), std::string::npos) << f;
    auto size = test::png_size(out / "figures" / (f + ".png"));
    std::pair<int64_t, int64_t> want{800, 560};
    if (f.find("_eta") != std::string::npos) want = {720, 620};
    if (f.find("_tsne_") != std::string::npos) want = {760, 620};
    EXPECT_EQ(size, want) << f;
    EXPECT_TRUE(test::is_svg(out / "figures" / (f + ".svg"))) << f;
  }
  // Class names label the heat maps and the t-SNE legend.
  auto tsne_gp = slurp(out / "figures" / "JT_tsne_m0.gp");
  auto eta_gp = slurp(out / "figures" / "JT_eta_m0.gp");
  EXPECT_NE(tsne_gp.find("title 'class"), std::string::npos) << tsne_gp;
  EXPECT_NE(eta_gp.find("set xtics ('"), std::string::npos) << eta_gp;
}

TEST(Report, WithoutGnuplotWritesTablesAndWarns) {
  const auto out = test::temp_dir("nognuplot");
  const auto& ckpt = checkpoint();
  setenv("CRMT_GNUPLOT", "/nonexistent/gnuplot", 1);
  auto r = test::run_cli("report --run JT=" + ckpt + " --out " + out.string() + fast(0));
  auto required = test::run_cli("report --run JT=" + ckpt + " --out " + (out / "req").string() + fast(0) +
                                " --require-figures");
  unsetenv("CRMT_GNUPLOT");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: gnuplot not found"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out / "index.html"));
  EXPECT_TRUE(fs::exists(out / "tables" / "table1_multimodal_attacks.md"));
  EXPECT_TRUE(fs::exists(out / "figures" / "JT_pgd_accuracy.gp"));
  EXPECT_FALSE(fs::exists(out / "figures" / "JT_pgd_accuracy.png"));
  EXPECT_EQ(required.exit_code, 1) << required.output;
  EXPECT_NE(required.output.find("figures were required"), std::string::npos) << required.output;
  EXPECT_TRUE(fs::exists(out / "req" / "index.html"));
}

// Figures 6/8c from sound radii: --bound crown certifies by bound propagation and the figure says so.
TEST(Report, SafeSharesByBoundPropagation) {
  const auto out = test::temp_dir("crown");
  setenv("CRMT_GNUPLOT", "/nonexistent/gnuplot", 1);
  auto r = test::run_cli("report --run JT=" + checkpoint() + " --out " + out.string() + fast(0) +
                         " --bound crown --intermediate interval");
  auto bad = test::run_cli("report --run JT=" + checkpoint() + " --out " + out.string() + fast(0) + " --bound box");
  unsetenv("CRMT_GNUPLOT");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto script = slurp(out / "figures" / "JT_safe_share.gp");
  EXPECT_NE(script.find("radii by crown"), std::string::npos) << script;
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("--bound"), std::string::npos) << bad.output;
}

TEST(Report, RejectsBadRuns) {
  const auto out = test::temp_dir("bad");
  auto no_eq = test::run_cli("report --run JT --out " + out.string());
  EXPECT_EQ(no_eq.exit_code, 1) << no_eq.output;
  EXPECT_NE(no_eq.output.find("NAME=CHECKPOINT"), std::string::npos) << no_eq.output;
  auto missing = test::run_cli("report --run JT=/nonexistent.pt --out " + out.string());
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("not found"), std::string::npos) << missing.output;
  const auto& ckpt = checkpoint();
  auto twice = test::run_cli("report --run A=" + ckpt + " --run A=" + ckpt + " --out " + out.string());
  EXPECT_EQ(twice.exit_code, 1) << twice.output;
  auto bad_eps = test::run_cli("report --run A=" + ckpt + " --out " + out.string() + " --eps-list 0,x");
  EXPECT_EQ(bad_eps.exit_code, 1) << bad_eps.output;
  EXPECT_NE(bad_eps.output.find("--eps-list"), std::string::npos) << bad_eps.output;
}

TEST(Report, FileStemsAndHtmlEscaping) {
  EXPECT_EQ(file_stem("CRMT-JT"), "CRMT-JT");
  EXPECT_EQ(file_stem("JT copy/2"), "JT_copy_2");
  EXPECT_EQ(file_stem(".hidden"), "_.hidden");
  EXPECT_EQ(html_escape("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
  Table t{{"run", "acc"}, {{"<x>", "0.5"}}};
  auto h = table_html(t);
  EXPECT_NE(h.find("<th>&lt;x&gt;</th><td>0.5</td>"), std::string::npos) << h;
}

}  // namespace
}  // namespace crmt
