#pragma once
#include <string>
#include <vector>

namespace crmt {

// Figures are drawn by gnuplot. Each figure is written as a data file (NAME.dat) and a script
// (NAME.gp) that, run from the figure's folder (`gnuplot NAME.gp`), writes NAME.png and NAME.svg.
// The scripts use relative paths only, so a user can edit one and rerun it to restyle a figure.

struct FigureSize {
  int width = 800;   // pixels of the PNG (and of the SVG's viewport)
  int height = 560;
};

// A line of an x-y plot.
struct LineSeries {
  std::string title;
  std::vector<double> x, y;  // same length; non-finite y values are left out
  bool dashed = false;
};

struct LinePlot {
  std::string title, xlabel, ylabel;
  std::vector<LineSeries> series;
  double ymin = 0, ymax = 0;  // y range; ymin == ymax lets gnuplot choose
  FigureSize size;
};

// A matrix of values drawn as coloured cells; NaN cells (e.g. a diagonal) stay blank.
struct HeatMap {
  std::string title, xlabel, ylabel, cblabel;
  std::vector<std::string> row_labels, col_labels;  // one per row / column of `values`
  std::vector<std::vector<double>> values;           // [row][column]
  bool annotate = true;  // print each value in its cell (only when the matrix has at most 12 columns)
  FigureSize size{720, 620};
};

// Points coloured by group, with one legend entry per non-empty group.
struct ScatterPlot {
  std::string title, xlabel, ylabel;
  std::vector<std::string> group_names;
  std::vector<double> x, y;
  std::vector<int64_t> group;  // index into group_names, per point
  FigureSize size{760, 620};
};

// What a figure consists of, as file names relative to its folder.
struct FigureFiles {
  std::string name;  // the stem
  std::string script() const { return name + ".gp"; }
  std::string data() const { return name + ".dat"; }
  std::string png() const { return name + ".png"; }
  std::string svg() const { return name + ".svg"; }
};

// Write DIR/NAME.dat and DIR/NAME.gp (the PNG terminal is the one png_terminal() picks). Throw
// crmt::Error when a file cannot be written or the input is inconsistent (lengths, labels).
FigureFiles write_line_plot(const LinePlot& plot, const std::string& dir, const std::string& name);
FigureFiles write_heat_map(const HeatMap& map, const std::string& dir, const std::string& name);
FigureFiles write_scatter_plot(const ScatterPlot& plot, const std::string& dir, const std::string& name);

// Whether `gnuplot` can be run (cached after the first call).
bool gnuplot_available();
// "pngcairo" when gnuplot lists it, else "png" (cached).
std::string png_terminal();

// Runs gnuplot on DIR/NAME.gp (in DIR). Returns "" on success, else a one-line reason (gnuplot's
// first error line, or a missing output file).
std::string render_figure(const std::string& dir, const FigureFiles& figure);

// Quotes `text` as a gnuplot single-quoted string ('' stands for a quote inside).
std::string gnuplot_quote(const std::string& text);

}  // namespace crmt
