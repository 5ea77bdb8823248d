#include "crmt/report/html.h"

#include <fmt/format.h>

namespace crmt {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string table_html(const Table& table) {
  std::string s = "<table>\n<thead><tr>";
  for (const auto& h : table.header) s += "<th>" + html_escape(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    s += "<tr>";
    for (size_t c = 0; c < table.header.size(); ++c)
      s += (c == 0 ? "<th>" : "<td>") + html_escape(c < row.size() ? row[c] : "") + (c == 0 ? "</th>" : "</td>");
    s += "</tr>\n";
  }
  return s + "</tbody>\n</table>\n";
}

std::string render_html(const std::string& title, const std::string& intro, const std::vector<HtmlSection>& sections) {
  std::string s = fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{0}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }}
h1 {{ border-bottom: 2px solid #444; }}
h2 {{ border-bottom: 1px solid #aaa; margin-top: 2em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }}
thead th {{ background: #eee; text-align: center; }}
tbody th {{ text-align: left; background: #f7f7f7; }}
caption {{ caption-side: top; text-align: left; font-weight: bold; padding-bottom: 0.3em; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; max-width: 100%; }}
figure img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption {{ font-size: 0.85em; color: #444; max-width: 800px; }}
.missing {{ border: 1px dashed #c00; padding: 1em; color: #900; width: 360px; }}
pre {{ background: #f6f6f6; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }}
.downloads {{ font-size: 0.85em; }}
</style>
</head>
<body>
<h1>{0}</h1>
)",
                              html_escape(title));
  if (!intro.empty()) s += "<p>" + html_escape(intro) + "</p>\n";
  s += "<nav><ul>\n";
  for (const auto& sec : sections)
    s += fmt::format("<li><a href=\"#{}\">{}</a></li>\n", html_escape(sec.id), html_escape(sec.heading));
  s += "</ul></nav>\n";
  for (const auto& sec : sections) {
    s += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n", html_escape(sec.id), html_escape(sec.heading));
    if (!sec.text.empty()) s += "<p>" + html_escape(sec.text) + "</p>\n";
    for (const auto& t : sec.tables) {
      if (!t.caption.empty()) s += "<p><b>" + html_escape(t.caption) + "</b></p>\n";
      s += table_html(t.table);
      if (!t.downloads.empty()) {
        s += "<p class=\"downloads\">Download:";
        for (const auto& d : t.downloads) s += fmt::format(" <a href=\"{0}\">{0}</a>", html_escape(d));
        s += "</p>\n";
      }
    }
    if (!sec.figures.empty()) {
      s += "<div class=\"figures\">\n";
      for (const auto& f : sec.figures) {
        s += "<figure>\n";
        if (f.missing.empty())
          s += fmt::format("<a href=\"{0}\"><img src=\"{1}\" alt=\"{2}\"></a>\n", html_escape(f.svg), html_escape(f.png),
                           html_escape(f.caption));
        else
          s += "<div class=\"missing\">" + html_escape(f.missing) + "</div>\n";
        if (f.missing.empty())
          s += fmt::format("<figcaption>{} (<a href=\"{}\">SVG</a>)</figcaption>\n</figure>\n", html_escape(f.caption),
                           html_escape(f.svg));
        else
          s += fmt::format("<figcaption>{}</figcaption>\n</figure>\n", html_escape(f.caption));
      }
      s += "</div>\n";
    }
    if (!sec.preformatted.empty()) {
      if (!sec.preformatted_title.empty()) s += "<p><b>" + html_escape(sec.preformatted_title) + "</b></p>\n";
      s += "<pre>" + html_escape(sec.preformatted) + "</pre>\n";
    }
    s += "</section>\n";
  }
  return s + "</body>\n</html>\n";
}

}  // namespace crmt
