#include "clients/loadgen/svg_writer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace junction::loadgen {
namespace {

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

// A tick label: no trailing zeros ("0.5", "2", "1500").
std::string TickLabel(double v) {
  std::string s = absl::StrFormat("%.6g", v);
  if (std::fabs(v) < 1e-12) s = "0";
  return s;
}

}  // namespace

SvgWriter::SvgWriter(double width, double height) : width_(width), height_(height) {}

void SvgWriter::Rect(double x, double y, double w, double h, const std::string& fill,
                     const std::string& stroke) {
  absl::StrAppend(&body_, "<rect x=\"", Num(x), "\" y=\"", Num(y), "\" width=\"", Num(w),
                  "\" height=\"", Num(h), "\" fill=\"", fill, "\" stroke=\"", stroke, "\"/>\n");
}

void SvgWriter::Line(double x1, double y1, double x2, double y2, const std::string& stroke,
                     double width, bool dashed) {
  absl::StrAppend(&body_, "<line x1=\"", Num(x1), "\" y1=\"", Num(y1), "\" x2=\"", Num(x2),
                  "\" y2=\"", Num(y2), "\" stroke=\"", stroke, "\" stroke-width=\"", Num(width),
                  "\"", dashed ? " stroke-dasharray=\"5,4\"" : "", "/>\n");
}

void SvgWriter::Polyline(const std::vector<std::pair<double, double>>& points,
                         const std::string& stroke, double width, bool dashed) {
  std::string coords;
  for (const auto& [x, y] : points)
    absl::StrAppend(&coords, coords.empty() ? "" : " ", Num(x), ",", Num(y));
  absl::StrAppend(&body_, "<polyline points=\"", coords, "\" fill=\"none\" stroke=\"", stroke,
                  "\" stroke-width=\"", Num(width), "\"", dashed ? " stroke-dasharray=\"6,4\"" : "",
                  "/>\n");
}

void SvgWriter::Circle(double cx, double cy, double r, const std::string& fill) {
  absl::StrAppend(&body_, "<circle cx=\"", Num(cx), "\" cy=\"", Num(cy), "\" r=\"", Num(r),
                  "\" fill=\"", fill, "\"/>\n");
}

void SvgWriter::Text(double x, double y, const std::string& text, double size,
                     const std::string& anchor, double rotate_deg, const std::string& fill,
                     bool bold) {
  absl::StrAppend(&body_, "<text x=\"", Num(x), "\" y=\"", Num(y), "\" font-size=\"", Num(size),
                  "\" text-anchor=\"", anchor, "\" fill=\"", fill, "\"",
                  bold ? " font-weight=\"bold\"" : "");
  if (rotate_deg != 0) {
    absl::StrAppend(&body_, " transform=\"rotate(", Num(rotate_deg), " ", Num(x), " ", Num(y),
                    ")\"");
  }
  absl::StrAppend(&body_, ">", XmlEscape(text), "</text>\n");
}

std::string SvgWriter::Finish() const {
  return absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", Num(width_),
                      "\" height=\"", Num(height_), "\" viewBox=\"0 0 ", Num(width_), " ",
                      Num(height_), "\" font-family=\"Helvetica, Arial, sans-serif\">\n",
                      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", body_, "</svg>\n");
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const double first = std::floor(lo / step) * step;
  for (double t = first; t < hi + step * 0.999; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

void DrawLineChart(SvgWriter& svg, const LineChart& chart, double x, double y, double w, double h) {
  constexpr double kLeft = 62, kRight = 14, kTop = 28, kBottom = 44;
  const double px = x + kLeft, py = y + kTop, pw = w - kLeft - kRight, ph = h - kTop - kBottom;
  double x_lo = 0, x_hi = 0, y_hi = 0;
  bool first = true;
  for (const ChartSeries& s : chart.series) {
    for (const auto& [vx, vy] : s.points) {
      x_lo = first ? vx : std::min(x_lo, vx);
      x_hi = first ? vx : std::max(x_hi, vx);
      y_hi = std::max(y_hi, vy);
      first = false;
    }
  }
  x_lo = std::min(x_lo, 0.0);
  const std::vector<double> x_ticks = NiceTicks(x_lo, x_hi, 5);
  const std::vector<double> y_ticks = NiceTicks(0, y_hi > 0 ? y_hi : 1, 5);
  const double x0 = x_ticks.front(), x1 = x_ticks.back(), y1 = y_ticks.back();
  auto sx = [&](double v) { return px + (v - x0) / (x1 - x0) * pw; };
  auto sy = [&](double v) { return py + ph - v / y1 * ph; };

  svg.Text(x + w / 2, y + 18, chart.title, 14, "middle", 0, "#111", true);
  for (double t : y_ticks) {
    svg.Line(px, sy(t), px + pw, sy(t), "#e4e4e4");
    svg.Text(px - 6, sy(t) + 4, TickLabel(t), 11, "end");
  }
  for (double t : x_ticks) {
    svg.Line(sx(t), py, sx(t), py + ph, "#f0f0f0");
    svg.Text(sx(t), py + ph + 16, TickLabel(t), 11, "middle");
  }
  svg.Line(px, py + ph, px + pw, py + ph, "#444");
  svg.Line(px, py, px, py + ph, "#444");
  svg.Text(px + pw / 2, y + h - 8, chart.x_label, 12, "middle");
  svg.Text(x + 14, py + ph / 2, chart.y_label, 12, "middle", -90);

  double legend_y = py + 6;
  for (const ChartSeries& s : chart.series) {
    std::vector<std::pair<double, double>> points;
    for (const auto& [vx, vy] : s.points) points.push_back({sx(vx), sy(vy)});
    svg.Polyline(points, s.color, 2, s.dashed);
    for (const auto& [cx, cy] : points) svg.Circle(cx, cy, 3, s.color);
    svg.Line(px + 10, legend_y + 4, px + 30, legend_y + 4, s.color, 2, s.dashed);
    svg.Text(px + 35, legend_y + 8, s.name, 11);
    legend_y += 15;
  }
}

}  // namespace junction::loadgen
