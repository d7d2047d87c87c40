// A small SVG writer and a line chart on top of it: enough for junction-loadgen's sweep plot,
// with no dependency. Coordinates are SVG user units (pixels), y pointing down.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace junction::loadgen {

class SvgWriter {
 public:
  SvgWriter(double width, double height);

  void Rect(double x, double y, double w, double h, const std::string& fill,
            const std::string& stroke = "none");
  void Line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            bool dashed = false);
  void Polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                double width, bool dashed);
  void Circle(double cx, double cy, double r, const std::string& fill);
  // anchor: "start", "middle" or "end". rotate_deg turns the text about (x, y).
  void Text(double x, double y, const std::string& text, double size = 12,
            const std::string& anchor = "start", double rotate_deg = 0,
            const std::string& fill = "#222", bool bold = false);

  // The finished document.
  std::string Finish() const;

 private:
  double width_, height_;
  std::string body_;
};

// Escapes &, <, >, " for SVG text and attributes.
std::string XmlEscape(const std::string& text);

// About `target` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> NiceTicks(double lo, double hi, int target = 5);

struct ChartSeries {
  std::string name;
  std::string color;
  bool dashed = false;
  std::vector<std::pair<double, double>> points;  // (x, y) in data units
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
};

// Draws `chart` with axes, grid, ticks and a legend in the box (x, y, w, h). The y axis starts
// at 0; both axes end at a nice tick above the data.
void DrawLineChart(SvgWriter& svg, const LineChart& chart, double x, double y, double w, double h);

}  // namespace junction::loadgen
