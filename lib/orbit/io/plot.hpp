#pragma once
// Pictures for tools: line charts, scatter plots and heat maps with titles,
// numbered ticks, legends and colour bars, drawn once through cairo and
// rendered to PNG, SVG or PDF as the file extension says (.png, .svg, .pdf).
// Files are written atomically (temporary name, then rename).
#include <string>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::plot {

struct Series {
    std::vector<double> x, y;
    std::string label;
    bool points = false;  // markers instead of a line
};

struct Axes {
    std::string title, xlabel, ylabel;
    bool log_y = false;
};

// Throws UsageError unless the file name ends in .png, .svg or .pdf (tools call
// it before any work, so a bad name never costs a run).
void check_path(const std::string& path);

// Line chart (or markers) of one or more series, with axes, ticks and a legend.
void line_chart(const std::string& path, const Axes& axes, const std::vector<Series>& series);

// Scatter of N x 2 points; a second set (may be empty) is drawn in another colour.
void scatter(const std::string& path, const Axes& axes, const Points& a, const std::string& label_a,
             const Points& b = Points(), const std::string& label_b = "");

// Heat map of values[iy, ix] over [x0,x1] x [y0,y1] (row 0 at the bottom), viridis-like colours.
void heatmap(const std::string& path, const Axes& axes, const Matrix& values, double x0, double x1, double y0,
             double y1);

}  // namespace orbit::plot
