#include "orbit/io/plot.hpp"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "orbit/core/error.hpp"
#include "orbit/io/output.hpp"

namespace orbit::plot {
namespace {

// Page and frame in points (1/72 in); PNG pixels are points at scale 1.
constexpr double kWidth = 720, kHeight = 540;
constexpr double kLeft = 80, kRight = 30, kTop = 50, kBottom = 60;
constexpr double kColourBar = 80;  // extra right margin of heat maps for the colour bar
const std::array<unsigned, 8> kColours = {0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e,
                                          0x9467bd, 0x8c564b, 0xe377c2, 0x17becf};

struct Range {
    double lo = 0, hi = 1;
};

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

enum class Kind { svg, png, pdf };
Kind kind_of(const std::string& path) {
    if (ends_with(path, ".svg")) return Kind::svg;
    if (ends_with(path, ".png")) return Kind::png;
    if (ends_with(path, ".pdf")) return Kind::pdf;
    throw UsageError("plot file '" + path + "': expected a .png, .svg or .pdf name");
}

Range padded(double lo, double hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
    if (hi <= lo) {
        double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
        return {lo - d, hi + d};
    }
    double pad = 0.04 * (hi - lo);
    return {lo - pad, hi + pad};
}

// "Nice" tick positions (1, 2, 5 times a power of ten).
std::vector<double> ticks(Range r, int target = 6) {
    double span = r.hi - r.lo;
    double raw = span / target;
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> t;
    for (double v = std::ceil(r.lo / step) * step; v <= r.hi + 1e-9 * span; v += step)
        t.push_back(std::abs(v) < 1e-12 * span ? 0.0 : v);
    return t;
}

std::string fmt(double v) {
    std::ostringstream s;
    s.precision(4);
    s << v;
    return s.str();
}

std::array<double, 3> viridis(double t) {
    // Five anchor colours of a perceptually ordered map, linearly interpolated.
    static const double c[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 4.0;
    int i = std::min(3, static_cast<int>(t));
    double f = t - i;
    std::array<double, 3> rgb{};
    for (int k = 0; k < 3; ++k) rgb[k] = (c[i][k] + f * (c[i + 1][k] - c[i][k])) / 255.0;
    return rgb;
}

void set_colour(cairo_t* cr, unsigned hex) {
    cairo_set_source_rgb(cr, ((hex >> 16) & 255) / 255.0, ((hex >> 8) & 255) / 255.0, (hex & 255) / 255.0);
}

// Maps data coordinates to the plot frame.
struct Frame {
    Range x, y;
    bool log_y = false;
    double right = kRight;
    double x0() const { return kLeft; }
    double x1() const { return kWidth - right; }
    double y0() const { return kTop; }
    double y1() const { return kHeight - kBottom; }
    double px(double v) const { return x0() + (v - x.lo) / (x.hi - x.lo) * (x1() - x0()); }
    double py_scaled(double t) const { return y1() - (t - y.lo) / (y.hi - y.lo) * (y1() - y0()); }
    double py(double v) const { return py_scaled(log_y ? std::log10(std::max(v, 1e-300)) : v); }
};

enum class Align { left, centre, right };
// Text with its baseline at y, anchored at x; rotated a quarter turn for the y label.
void text(cairo_t* cr, const std::string& s, double x, double y, Align align, double size, bool vertical = false) {
    if (s.empty()) return;
    cairo_save(cr);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    double dx = align == Align::left ? 0 : align == Align::centre ? -e.x_advance / 2 : -e.x_advance;
    cairo_translate(cr, x, y);
    if (vertical) cairo_rotate(cr, -M_PI / 2);
    cairo_move_to(cr, dx, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_show_text(cr, s.c_str());
    cairo_restore(cr);
}

// Frame, ticks with their numbers, title and axis labels, drawn over the data.
void decorate(cairo_t* cr, const Axes& axes, const Frame& f) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f.x0() + 0.5, f.y0() + 0.5, f.x1() - f.x0(), f.y1() - f.y0());
    cairo_stroke(cr);
    for (double t : ticks(f.x)) {
        double p = f.px(t);
        cairo_move_to(cr, p, f.y1());
        cairo_line_to(cr, p, f.y1() + 5);
        cairo_stroke(cr);
        text(cr, fmt(t), p, f.y1() + 19, Align::centre, 12);
    }
    for (double t : ticks(f.y)) {
        double p = f.py_scaled(t);
        cairo_move_to(cr, f.x0() - 5, p);
        cairo_line_to(cr, f.x0(), p);
        cairo_stroke(cr);
        text(cr, f.log_y ? "1e" + fmt(t) : fmt(t), f.x0() - 8, p + 4, Align::right, 12);
    }
    text(cr, axes.title, kWidth / 2, 30, Align::centre, 16);
    text(cr, axes.xlabel, (f.x0() + f.x1()) / 2, kHeight - 14, Align::centre, 13);
    text(cr, axes.ylabel, 20, (f.y0() + f.y1()) / 2, Align::centre, 13, true);
}

void legend(cairo_t* cr, const Frame& f, const std::vector<std::pair<std::string, unsigned>>& entries) {
    double y = f.y0() + 18;
    for (auto& [label, colour] : entries) {
        if (label.empty()) continue;
        set_colour(cr, colour);
        cairo_rectangle(cr, f.x1() - 150, y - 10, 12, 12);
        cairo_fill(cr);
        text(cr, label, f.x1() - 132, y, Align::left, 13);
        y += 18;
    }
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

// Draws one picture on the surface the file name asks for and writes it
// atomically (temporary name, then rename), so readers never see half a picture.
void render(const std::string& path, const std::function<void(cairo_t*)>& draw) {
    Kind kind = kind_of(path);
    std::string bytes;
    cairo_surface_t* surface = nullptr;
    if (kind == Kind::png) surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(kWidth), static_cast<int>(kHeight));
    else if (kind == Kind::svg) surface = cairo_svg_surface_create_for_stream(append_bytes, &bytes, kWidth, kHeight);
    else surface = cairo_pdf_surface_create_for_stream(append_bytes, &bytes, kWidth, kHeight);
    std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> owned(surface, cairo_surface_destroy);
    cairo_t* cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    draw(cr);
    cairo_status_t status = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(surface);
    if (kind == Kind::png && status == CAIRO_STATUS_SUCCESS)
        status = cairo_surface_write_to_png_stream(surface, append_bytes, &bytes);
    cairo_surface_finish(surface);  // SVG and PDF are complete only now
    if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface);
    if (status != CAIRO_STATUS_SUCCESS)
        throw Error("plot '" + path + "': drawing failed (" + cairo_status_to_string(status) + ")");
    io::TempFile temp(path);
    {
        std::ofstream out(temp.name(), std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) throw Error("cannot write plot '" + path + "' (disk full?)");
    }
    temp.commit();
}

Range span_of(const std::vector<const std::vector<double>*>& vs, bool log) {
    double lo = INFINITY, hi = -INFINITY;
    for (auto* v : vs)
        for (double x : *v) {
            if (!std::isfinite(x) || (log && x <= 0)) continue;
            double t = log ? std::log10(x) : x;
            lo = std::min(lo, t);
            hi = std::max(hi, t);
        }
    return padded(lo, hi);
}

Series to_series(const Points& p, const std::string& label) {
    Series s;
    s.label = label;
    s.points = true;
    for (Eigen::Index i = 0; i < p.rows(); ++i) {
        s.x.push_back(p(i, 0));
        s.y.push_back(p(i, 1));
    }
    return s;
}

}  // namespace

void check_path(const std::string& path) { kind_of(path); }

void line_chart(const std::string& path, const Axes& axes, const std::vector<Series>& series) {
    kind_of(path);
    std::vector<const std::vector<double>*> xs, ys;
    for (auto& s : series) {
        if (s.x.size() != s.y.size()) throw Error("plot: series '" + s.label + "' has x and y of different lengths");
        xs.push_back(&s.x);
        ys.push_back(&s.y);
    }
    Frame f{span_of(xs, false), span_of(ys, axes.log_y), axes.log_y};
    // Dense scatters get small dots; a few points get markers.
    std::size_t total = 0;
    for (auto& s : series) total += s.points ? s.x.size() : 0;
    const double radius = total > 2000 ? 0.8 : 3.0;
    render(path, [&](cairo_t* cr) {
        cairo_save(cr);
        cairo_rectangle(cr, f.x0(), f.y0(), f.x1() - f.x0(), f.y1() - f.y0());
        cairo_clip(cr);
        std::vector<std::pair<std::string, unsigned>> entries;
        for (std::size_t k = 0; k < series.size(); ++k) {
            const Series& s = series[k];
            unsigned colour = kColours[k % kColours.size()];
            entries.emplace_back(s.label, colour);
            set_colour(cr, colour);
            if (s.points) {
                for (std::size_t i = 0; i < s.x.size(); ++i) {
                    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
                    cairo_new_sub_path(cr);
                    cairo_arc(cr, f.px(s.x[i]), f.py(s.y[i]), radius, 0, 2 * M_PI);
                }
                cairo_fill(cr);
            } else {
                bool open = false;
                for (std::size_t i = 0; i < s.x.size(); ++i) {
                    if (!std::isfinite(s.y[i]) || (axes.log_y && s.y[i] <= 0)) {
                        open = false;
                        continue;
                    }
                    if (open) cairo_line_to(cr, f.px(s.x[i]), f.py(s.y[i]));
                    else cairo_move_to(cr, f.px(s.x[i]), f.py(s.y[i]));
                    open = true;
                }
                cairo_set_line_width(cr, 2);
                cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
                cairo_stroke(cr);
            }
        }
        cairo_restore(cr);
        decorate(cr, axes, f);
        legend(cr, f, entries);
    });
}

void scatter(const std::string& path, const Axes& axes, const Points& a, const std::string& label_a, const Points& b,
             const std::string& label_b) {
    if (a.cols() < 2 || (b.size() > 0 && b.cols() < 2)) throw Error("plot: scatter needs points with 2 columns");
    std::vector<Series> series{to_series(a, label_a)};
    if (b.size() > 0) series.push_back(to_series(b, label_b));
    line_chart(path, axes, series);
}

void heatmap(const std::string& path, const Axes& axes, const Matrix& values, double x0, double x1, double y0,
             double y1) {
    if (values.size() == 0) throw Error("plot: empty heat map");
    kind_of(path);
    double lo = INFINITY, hi = -INFINITY;
    for (Eigen::Index i = 0; i < values.size(); ++i)
        if (std::isfinite(values.data()[i])) {
            lo = std::min(lo, values.data()[i]);
            hi = std::max(hi, values.data()[i]);
        }
    if (!(hi > lo)) hi = lo + 1;
    Frame f{{x0, x1}, {y0, y1}, false, kRight + kColourBar};
    const int ny = static_cast<int>(values.rows()), nx = static_cast<int>(values.cols());
    // The cells as an image, row 0 at the bottom, scaled onto the frame without smoothing.
    std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> cells(
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, nx, ny), cairo_surface_destroy);
    cairo_surface_flush(cells.get());
    unsigned char* data = cairo_image_surface_get_data(cells.get());
    const int stride = cairo_image_surface_get_stride(cells.get());
    for (int iy = 0; iy < ny; ++iy)
        for (int ix = 0; ix < nx; ++ix) {
            auto c = viridis((values(iy, ix) - lo) / (hi - lo));
            auto* px = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(ny - 1 - iy) * stride) + ix;
            *px = (static_cast<std::uint32_t>(c[0] * 255 + 0.5) << 16) | (static_cast<std::uint32_t>(c[1] * 255 + 0.5) << 8) |
                  static_cast<std::uint32_t>(c[2] * 255 + 0.5);
        }
    cairo_surface_mark_dirty(cells.get());
    render(path, [&](cairo_t* cr) {
        cairo_save(cr);
        cairo_translate(cr, f.x0(), f.y0());
        cairo_scale(cr, (f.x1() - f.x0()) / nx, (f.y1() - f.y0()) / ny);
        cairo_set_source_surface(cr, cells.get(), 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_rectangle(cr, 0, 0, nx, ny);
        cairo_fill(cr);
        cairo_restore(cr);
        decorate(cr, axes, f);
        // Colour bar: the value scale of the cells, with its own ticks.
        const double bx = f.x1() + 20, bw = 16;
        cairo_pattern_t* ramp = cairo_pattern_create_linear(0, f.y1(), 0, f.y0());
        for (int k = 0; k <= 8; ++k) {
            auto c = viridis(k / 8.0);
            cairo_pattern_add_color_stop_rgb(ramp, k / 8.0, c[0], c[1], c[2]);
        }
        cairo_rectangle(cr, bx, f.y0(), bw, f.y1() - f.y0());
        cairo_set_source(cr, ramp);
        cairo_fill(cr);
        cairo_pattern_destroy(ramp);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 1);
        cairo_rectangle(cr, bx + 0.5, f.y0() + 0.5, bw, f.y1() - f.y0());
        cairo_stroke(cr);
        Frame bar{{0, 1}, {lo, hi}, false, kRight + kColourBar};
        for (double t : ticks({lo, hi}, 5)) {
            double p = bar.py_scaled(t);
            cairo_move_to(cr, bx + bw, p);
            cairo_line_to(cr, bx + bw + 4, p);
            cairo_stroke(cr);
            text(cr, fmt(t), bx + bw + 7, p + 4, Align::left, 11);
        }
    });
}

}  // namespace orbit::plot
