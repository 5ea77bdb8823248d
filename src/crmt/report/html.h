#pragma once
#include <string>
#include <vector>

#include "crmt/core/table.h"

namespace crmt {

// A figure on the page: the PNG is shown (and links to the SVG); paths are relative to the page.
struct HtmlFigure {
  std::string png, svg, caption;
  std::string missing;  // when non-empty the figure was not drawn: shown instead of the image
};

struct HtmlTable {
  std::string caption;
  Table table;
  std::vector<std::string> downloads;  // relative links (markdown, CSV, JSON)
};

// One section of the page: a heading, a paragraph, tables, figures and preformatted text (a config).
struct HtmlSection {
  std::string id;  // anchor for the table of contents
  std::string heading;
  std::string text;
  std::vector<HtmlTable> tables;
  std::vector<HtmlFigure> figures;
  std::string preformatted_title;
  std::string preformatted;
};

// &, <, >, " and ' as entities.
std::string html_escape(const std::string& text);
// A table as an HTML <table> (first row as header).
std::string table_html(const Table& table);
// A self-contained page (inline CSS, no scripts) with a table of contents.
std::string render_html(const std::string& title, const std::string& intro, const std::vector<HtmlSection>& sections);

}  // namespace crmt
