#include "crmt/report/figures.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"

namespace crmt {

namespace {

// Twenty distinguishable colours (the first ten are the common "category10" set), cycled.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                   "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#756bb1",
                                   "#636363", "#843c39", "#3182bd", "#fd8d3c", "#74c476", "#ad494a"};
constexpr size_t kNumColors = sizeof(kColors) / sizeof(kColors[0]);
// Filled circle, square, triangle, diamond, inverted triangle, pentagon.
constexpr int kPointTypes[] = {7, 5, 9, 13, 11, 15};

std::string color(size_t i) { return kColors[i % kNumColors]; }
int point_type(size_t i) { return kPointTypes[(i / kNumColors + i) % 6]; }

// The command that runs gnuplot: $CRMT_GNUPLOT if set (tests point it elsewhere), else "gnuplot".
std::string gnuplot_command() {
  const char* env = std::getenv("CRMT_GNUPLOT");
  return env && *env ? env : "gnuplot";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command, returning its exit status and its output (stdout and stderr).
int run_shell(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
    if (output) output->append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.10g}", v) : "NaN"; }

// The script's opening (PNG terminal, title, labels) and its closing (the same plot again as SVG).
std::string preamble(const std::string& name, const FigureSize& size, const std::string& title,
                     const std::string& xlabel, const std::string& ylabel) {
  std::string s = fmt::format(
      "# Written by `crmt report`. Run `gnuplot {0}.gp` in this folder to redraw {0}.png and {0}.svg\n"
      "# from {0}.dat after editing the styles below.\n"
      "set encoding utf8\n"
      "set terminal {1} size {2},{3} noenhanced font 'Sans,11' background rgb 'white'\n"
      "set output '{0}.png'\n",
      name, png_terminal(), size.width, size.height);
  s += fmt::format("set title {} font 'Sans,13'\n", gnuplot_quote(title));
  s += fmt::format("set xlabel {}\nset ylabel {}\n", gnuplot_quote(xlabel), gnuplot_quote(ylabel));
  return s;
}

std::string svg_pass(const std::string& name, const FigureSize& size) {
  return fmt::format(
      "set terminal svg size {1},{2} noenhanced font 'Sans,11' background rgb 'white'\n"
      "set output '{0}.svg'\n"
      "replot\n"
      "unset output\n",
      name, size.width, size.height);
}

// The plot command over `clauses`, or a "no data" notice when there is no curve.
std::string plot_or_no_data(const std::string& clauses) {
  return clauses.empty() ? "set label 1 'no data' at graph 0.5, graph 0.5 center\nplot 1/0 notitle\n"
                         : "plot " + clauses + "\n";
}

// Ends the script with the SVG pass and writes it and its data into `dir`.
FigureFiles write_figure(const std::string& dir, const FigureFiles& files, const std::string& name,
                         const FigureSize& size, std::string script, const std::string& data) {
  script += svg_pass(name, size);
  write_file_atomically((std::filesystem::path(dir) / files.data()).string(), data.empty() ? "# no data\n" : data);
  write_file_atomically((std::filesystem::path(dir) / files.script()).string(), script);
  return files;
}

}  // namespace

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += "''";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "'";
}

bool gnuplot_available() {
  static std::map<std::string, bool> cache;
  const auto cmd = gnuplot_command();
  auto it = cache.find(cmd);
  if (it != cache.end()) return it->second;
  std::string out;
  bool ok = run_shell(shell_quote(cmd) + " --version", &out) == 0 && out.find("gnuplot") != std::string::npos;
  cache[cmd] = ok;
  return ok;
}

std::string png_terminal() {
  static std::map<std::string, std::string> cache;
  const auto cmd = gnuplot_command();
  auto it = cache.find(cmd);
  if (it != cache.end()) return it->second;
  std::string out;
  run_shell(shell_quote(cmd) + " -e 'set terminal'", &out);
  std::string term = out.find("pngcairo") != std::string::npos ? "pngcairo" : "png";
  cache[cmd] = term;
  return term;
}

FigureFiles write_line_plot(const LinePlot& plot, const std::string& dir, const std::string& name) {
  FigureFiles files{name};
  std::string data, clauses;
  size_t block = 0;
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const auto& s = plot.series[i];
    if (s.x.size() != s.y.size())
      fail("figure {}: series '{}' has {} x and {} y values", name, s.title, s.x.size(), s.y.size());
    std::string rows;
    for (size_t k = 0; k < s.x.size(); ++k)
      if (std::isfinite(s.x[k]) && std::isfinite(s.y[k])) rows += num(s.x[k]) + " " + num(s.y[k]) + "\n";
    if (rows.empty()) continue;
    data += fmt::format("{}# {}\n{}", block ? "\n\n" : "", s.title, rows);
    clauses += fmt::format("{}'{}' index {} using 1:2 with linespoints lw 2 pt {} ps 0.9 dt {} lc rgb '{}' title {}",
                           block ? ", \\\n     " : "", files.data(), block, point_type(i), s.dashed ? 2 : 1,
                           color(i), gnuplot_quote(s.title));
    ++block;
  }
  std::string gp = preamble(name, plot.size, plot.title, plot.xlabel, plot.ylabel);
  gp += "set grid\nset key inside top right box opaque samplen 3 width 2\n";
  if (plot.ymax > plot.ymin) gp += fmt::format("set yrange [{}:{}]\n", num(plot.ymin), num(plot.ymax));
  gp += plot_or_no_data(clauses);
  return write_figure(dir, files, name, plot.size, gp, data);
}

FigureFiles write_heat_map(const HeatMap& map, const std::string& dir, const std::string& name) {
  FigureFiles files{name};
  const size_t rows = map.values.size();
  const size_t cols = rows ? map.values[0].size() : 0;
  if (rows == 0 || cols == 0) fail("figure {}: the heat map is empty", name);
  if (map.row_labels.size() != rows || map.col_labels.size() != cols)
    fail("figure {}: {} row and {} column labels for a {}x{} matrix", name, map.row_labels.size(),
         map.col_labels.size(), rows, cols);
  double lo = INFINITY, hi = -INFINITY;
  std::string data = "# rows: " + map.ylabel + ", columns: " + map.xlabel + " (NaN = not defined)\n";
  for (const auto& row : map.values) {
    if (row.size() != cols) fail("figure {}: the heat map's rows differ in length", name);
    for (size_t c = 0; c < cols; ++c) {
      data += (c ? " " : "") + num(row[c]);
      if (std::isfinite(row[c])) lo = std::min(lo, row[c]), hi = std::max(hi, row[c]);
    }
    data += "\n";
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi <= lo) hi = lo + (lo == 0 ? 1 : std::abs(lo) * 0.1);
  auto tics = [](const std::vector<std::string>& labels) {
    std::string s = "(";
    for (size_t i = 0; i < labels.size(); ++i) s += fmt::format("{}{} {}", i ? ", " : "", gnuplot_quote(labels[i]), i);
    return s + ")";
  };
  size_t longest = 0;
  for (const auto& l : map.col_labels) longest = std::max(longest, l.size());
  std::string gp = preamble(name, map.size, map.title, map.xlabel, map.ylabel);
  gp += fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n", cols - 0.5, rows - 0.5);
  gp += fmt::format("set xtics {}{}\nset ytics {}\n", tics(map.col_labels), longest > 3 ? " rotate by 45 right" : "",
                    tics(map.row_labels));
  gp += "set tics nomirror scale 0\nset size ratio -1\nunset key\n";
  gp += fmt::format("set cbrange [{}:{}]\nset cblabel {}\n", num(lo), num(hi), gnuplot_quote(map.cblabel));
  gp += "set palette defined (0 '#fff5eb', 0.35 '#fdae6b', 0.7 '#e6550d', 1 '#7f2704')\n";
  gp += "set object 1 rectangle from graph 0,0 to graph 1,1 behind fillcolor rgb '#d9d9d9' fillstyle solid noborder\n";
  gp += fmt::format("plot '{}' matrix with image notitle", files.data());
  if (map.annotate && cols <= 12) {
    // Dark text on light cells, white text on dark ones.
    const double mid = lo + 0.6 * (hi - lo);
    gp += fmt::format(
        ", \\\n     '' matrix using 1:2:(($3 == $3 && $3 < {0}) ? sprintf('%.2f', $3) : '') with labels tc rgb "
        "'black' font 'Sans,9' notitle, \\\n"
        "     '' matrix using 1:2:(($3 == $3 && $3 >= {0}) ? sprintf('%.2f', $3) : '') with labels tc rgb "
        "'white' font 'Sans,9' notitle",
        num(mid));
  }
  return write_figure(dir, files, name, map.size, gp + "\n", data);
}

FigureFiles write_scatter_plot(const ScatterPlot& plot, const std::string& dir, const std::string& name) {
  FigureFiles files{name};
  if (plot.x.size() != plot.y.size() || plot.x.size() != plot.group.size())
    fail("figure {}: {} x, {} y and {} group values", name, plot.x.size(), plot.y.size(), plot.group.size());
  std::vector<std::string> blocks(plot.group_names.size());
  for (size_t i = 0; i < plot.x.size(); ++i) {
    const auto g = plot.group[i];
    if (g < 0 || static_cast<size_t>(g) >= blocks.size())
      fail("figure {}: point {} has group {} but there are {} groups", name, i, g, blocks.size());
    if (std::isfinite(plot.x[i]) && std::isfinite(plot.y[i])) blocks[g] += num(plot.x[i]) + " " + num(plot.y[i]) + "\n";
  }
  std::string data, clauses;
  size_t block = 0;
  for (size_t g = 0; g < blocks.size(); ++g) {
    if (blocks[g].empty()) continue;
    data += fmt::format("{}# {}\n{}", block ? "\n\n" : "", plot.group_names[g], blocks[g]);
    clauses += fmt::format("{}'{}' index {} using 1:2 with points pt {} ps 0.7 lc rgb '{}' title {}",
                           block ? ", \\\n     " : "", files.data(), block, point_type(g), color(g),
                           gnuplot_quote(plot.group_names[g]));
    ++block;
  }
  std::string gp = preamble(name, plot.size, plot.title, plot.xlabel, plot.ylabel);
  gp += "set key outside right top box title 'class' width 2\nset grid\n";
  gp += plot_or_no_data(clauses);
  return write_figure(dir, files, name, plot.size, gp, data);
}

std::string render_figure(const std::string& dir, const FigureFiles& figure) {
  if (!gnuplot_available()) return fmt::format("'{}' is not installed (apt-get install gnuplot-nox)", gnuplot_command());
  std::string out;
  const int rc = run_shell(fmt::format("cd {} && {} {}", shell_quote(dir), shell_quote(gnuplot_command()),
                                       shell_quote(figure.script())),
                           &out);
  auto last_line = [&] {
    std::istringstream in(out);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty() && line.find_first_not_of(" ^") != std::string::npos) last = line;
    return last;
  };
  if (rc != 0) return fmt::format("gnuplot failed on {}: {}", figure.script(), last_line());
  for (const auto& f : {figure.png(), figure.svg()}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(std::filesystem::path(dir) / f, ec);
    if (ec || size == 0) return fmt::format("gnuplot did not write {}", f);
  }
  return "";
}

}  // namespace crmt
