#include "crmt/report/figures.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "crmt/core/error.h"
#include "report/report_test_util.h"
#include "test_util.h"

namespace crmt {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Figure, QuotesStringsForGnuplot) {
  EXPECT_EQ(gnuplot_quote("plain"), "'plain'");
  EXPECT_EQ(gnuplot_quote("it's"), "'it''s'");
  EXPECT_EQ(gnuplot_quote("a\nb"), "'a b'");
}

TEST(Figure, WritesScriptsAndDrawsPngAndSvg) {
  auto dir = test::temp_dir("figs");
  LinePlot lp;
  lp.title = "Accuracy under PGD";
  lp.xlabel = "eps";
  lp.ylabel = "accuracy";
  lp.ymin = 0, lp.ymax = 1;
  lp.series.push_back({"all modalities", {0, 0.5, 1}, {0.9, 0.6, 0.3}, false});
  lp.series.push_back({"audio's only", {0, 0.5, 1}, {0.9, NAN, 0.5}, true});
  lp.series.push_back({"empty", {}, {}, false});
  auto line = write_line_plot(lp, dir.string(), "line");

  HeatMap hm;
  hm.title = "eta ratio";
  hm.xlabel = "class j";
  hm.ylabel = "class y";
  hm.cblabel = "ratio";
  hm.row_labels = hm.col_labels = {"cat", "dog", "bird_song"};
  hm.values = {{NAN, 0.5, 2.0}, {0.5, NAN, 1.0}, {2.0, 1.0, NAN}};
  auto heat = write_heat_map(hm, dir.string(), "heat");

  ScatterPlot sp;
  sp.title = "t-SNE";
  sp.xlabel = "t-SNE 1";
  sp.ylabel = "t-SNE 2";
  sp.group_names = {"cat", "dog", "never seen"};
  sp.x = {0, 1, 2, 3};
  sp.y = {0, 1, 0, 1};
  sp.group = {0, 0, 1, 1};
  auto scatter = write_scatter_plot(sp, dir.string(), "scatter");

  // The scripts name their data, labels and legend entries.
  const auto gp = slurp(dir / line.script());
  EXPECT_NE(gp.find("'Accuracy under PGD'"), std::string::npos);
  EXPECT_NE(gp.find("'audio''s only'"), std::string::npos);
  EXPECT_NE(gp.find("dt 2"), std::string::npos);
  EXPECT_EQ(gp.find("'empty'"), std::string::npos) << "a series without points gets no legend entry";
  EXPECT_NE(gp.find("set terminal svg"), std::string::npos);
  const auto heat_gp = slurp(dir / heat.script());
  EXPECT_NE(heat_gp.find("'bird_song' 2"), std::string::npos);
  EXPECT_NE(slurp(dir / heat.data()).find("NaN 0.5 2"), std::string::npos);
  const auto sc_gp = slurp(dir / scatter.script());
  EXPECT_NE(sc_gp.find("'dog'"), std::string::npos);
  EXPECT_EQ(sc_gp.find("'never seen'"), std::string::npos);

  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot is not installed; scripts checked, drawing skipped";
  for (auto [f, w, h] : {std::tuple{line, 800, 560}, std::tuple{heat, 720, 620}, std::tuple{scatter, 760, 620}}) {
    EXPECT_EQ(render_figure(dir.string(), f), "") << f.name;
    auto size = test::png_size(dir / f.png());
    EXPECT_EQ(size.first, w) << f.name;
    EXPECT_EQ(size.second, h) << f.name;
    EXPECT_TRUE(test::is_svg(dir / f.svg())) << f.name;
  }
  // A broken script is reported, not ignored.
  std::ofstream(dir / "broken.gp") << "plot 'no-such-file.dat' using 1:2\n";
  EXPECT_NE(render_figure(dir.string(), FigureFiles{"broken"}), "");
}

TEST(Figure, RejectsInconsistentInput) {
  auto dir = test::temp_dir("bad");
  LinePlot lp;
  lp.series.push_back({"x", {0, 1}, {1}, false});
  EXPECT_THROW(write_line_plot(lp, dir.string(), "a"), Error);
  HeatMap hm;
  hm.values = {{1, 2}, {3, 4}};
  hm.row_labels = {"a"};
  hm.col_labels = {"a", "b"};
  EXPECT_THROW(write_heat_map(hm, dir.string(), "b"), Error);
  ScatterPlot sp;
  sp.group_names = {"a"};
  sp.x = sp.y = {0};
  sp.group = {3};
  EXPECT_THROW(write_scatter_plot(sp, dir.string(), "c"), Error);
}

TEST(Figure, MissingGnuplotIsReported) {
  setenv("CRMT_GNUPLOT", "/nonexistent/gnuplot", 1);
  EXPECT_FALSE(gnuplot_available());
  auto dir = test::temp_dir("missing");
  LinePlot lp;
  lp.series.push_back({"x", {0, 1}, {1, 0}, false});
  auto f = write_line_plot(lp, dir.string(), "a");
  auto why = render_figure(dir.string(), f);
  unsetenv("CRMT_GNUPLOT");
  EXPECT_NE(why.find("not installed"), std::string::npos) << why;
  EXPECT_TRUE(std::filesystem::exists(dir / f.script()));
}

}  // namespace
}  // namespace crmt
