#include "orbit/io/plot.hpp"

#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "orbit/core/error.hpp"
#include "orbit/io/output.hpp"

namespace orbit::plot {
namespace {

constexpr int kWidth = 720, kHeight = 540;
constexpr int kLeft = 80, kRight = 30, kTop = 50, kBottom = 60;
const std::array<const char*, 8> kColours = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                             "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct Range {
    double lo = 0, hi = 1;
};

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

enum class Kind { svg, png };
Kind kind_of(const std::string& path) {
    if (ends_with(path, ".svg")) return Kind::svg;
    if (ends_with(path, ".png")) return Kind::png;
    throw UsageError("plot file '" + path + "': expected a .svg or .png name");
}

// Writes under a temporary name, then renames, so readers never see half a picture.
void write_atomic(const std::string& path, const std::string& bytes) {
    io::TempFile temp(path);
    {
        std::ofstream out(temp.name(), std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) throw Error("cannot write plot '" + path + "' (disk full?)");
    }
    temp.commit();
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

std::string xml_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '&') o += "&amp;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

// Maps data coordinates to pixels inside the plot frame.
struct Frame {
    Range x, y;
    bool log_y = false;
    double px(double v) const { return kLeft + (v - x.lo) / (x.hi - x.lo) * (kWidth - kLeft - kRight); }
    double py(double v) const {
        double t = log_y ? std::log10(std::max(v, 1e-300)) : v;
        return kHeight - kBottom - (t - y.lo) / (y.hi - y.lo) * (kHeight - kTop - kBottom);
    }
};

std::array<unsigned char, 3> viridis(double t) {
    // Five anchor colours of a perceptually ordered map, linearly interpolated.
    static const double c[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 4.0;
    int i = std::min(3, static_cast<int>(t));
    double f = t - i;
    std::array<unsigned char, 3> rgb{};
    for (int k = 0; k < 3; ++k) rgb[k] = static_cast<unsigned char>(c[i][k] + f * (c[i + 1][k] - c[i][k]) + 0.5);
    return rgb;
}

std::array<unsigned char, 3> hex_colour(const char* hex) {
    unsigned v = 0;
    std::sscanf(hex + 1, "%x", &v);
    return {static_cast<unsigned char>(v >> 16), static_cast<unsigned char>((v >> 8) & 255),
            static_cast<unsigned char>(v & 255)};
}

// ---- SVG ------------------------------------------------------------------
class Svg {
public:
    explicit Svg(const Axes& axes, const Frame& frame) : axes_(axes), frame_(frame) {
        s_ << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
           << "\" font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    }
    std::ostringstream& body() { return s_; }
    std::string finish(const std::vector<std::pair<std::string, std::string>>& legend) {
        // Frame, ticks and labels drawn last so they sit on top of the data.
        int x0 = kLeft, x1 = kWidth - kRight, y0 = kTop, y1 = kHeight - kBottom;
        s_ << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << x1 - x0 << "\" height=\"" << y1 - y0
           << "\" fill=\"none\" stroke=\"black\"/>\n";
        for (double t : ticks(frame_.x)) {
            double p = frame_.px(t);
            s_ << "<line x1=\"" << p << "\" y1=\"" << y1 << "\" x2=\"" << p << "\" y2=\"" << y1 + 5
               << "\" stroke=\"black\"/><text x=\"" << p << "\" y=\"" << y1 + 20 << "\" text-anchor=\"middle\">"
               << fmt(t) << "</text>\n";
        }
        for (double t : ticks(frame_.y)) {
            double p = kHeight - kBottom - (t - frame_.y.lo) / (frame_.y.hi - frame_.y.lo) * (y1 - y0);
            std::string label = frame_.log_y ? "1e" + fmt(t) : fmt(t);
            s_ << "<line x1=\"" << x0 - 5 << "\" y1=\"" << p << "\" x2=\"" << x0 << "\" y2=\"" << p
               << "\" stroke=\"black\"/><text x=\"" << x0 - 8 << "\" y=\"" << p + 4 << "\" text-anchor=\"end\">"
               << label << "</text>\n";
        }
        s_ << "<text x=\"" << kWidth / 2 << "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">"
           << xml_escape(axes_.title) << "</text>\n";
        s_ << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << kHeight - 15 << "\" text-anchor=\"middle\">"
           << xml_escape(axes_.xlabel) << "</text>\n";
        s_ << "<text transform=\"translate(18," << (y0 + y1) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
           << xml_escape(axes_.ylabel) << "</text>\n";
        int ly = y0 + 18;
        for (auto& [label, colour] : legend) {
            if (label.empty()) continue;
            s_ << "<rect x=\"" << x1 - 150 << "\" y=\"" << ly - 10 << "\" width=\"12\" height=\"12\" fill=\"" << colour
               << "\"/><text x=\"" << x1 - 132 << "\" y=\"" << ly << "\">" << xml_escape(label) << "</text>\n";
            ly += 18;
        }
        s_ << "</svg>\n";
        return s_.str();
    }

private:
    Axes axes_;
    Frame frame_;
    std::ostringstream s_;
};

// ---- PNG (no text: titles and labels go into PNG text chunks) -------------
class Canvas {
public:
    Canvas() : px_(static_cast<std::size_t>(kWidth * kHeight * 3), 255) {}
    void set(int x, int y, std::array<unsigned char, 3> c) {
        if (x < 0 || y < 0 || x >= kWidth || y >= kHeight) return;
        auto i = static_cast<std::size_t>((y * kWidth + x) * 3);
        px_[i] = c[0];
        px_[i + 1] = c[1];
        px_[i + 2] = c[2];
    }
    void fill(int x0, int y0, int x1, int y1, std::array<unsigned char, 3> c) {
        for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y)
            for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) set(x, y, c);
    }
    void line(double x0, double y0, double x1, double y1, std::array<unsigned char, 3> c) {
        int n = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
        for (int i = 0; i <= n; ++i) {
            double t = static_cast<double>(i) / n;
            int x = static_cast<int>(std::lround(x0 + t * (x1 - x0))), y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
            set(x, y, c);
            set(x + 1, y, c);
        }
    }
    void frame(const Frame& f) {
        std::array<unsigned char, 3> black{0, 0, 0};
        int x0 = kLeft, x1 = kWidth - kRight, y0 = kTop, y1 = kHeight - kBottom;
        line(x0, y0, x1, y0, black);
        line(x0, y1, x1, y1, black);
        line(x0, y0, x0, y1, black);
        line(x1, y0, x1, y1, black);
        for (double t : ticks(f.x)) line(f.px(t), y1, f.px(t), y1 + 6, black);
        for (double t : ticks(f.y)) {
            double p = kHeight - kBottom - (t - f.y.lo) / (f.y.hi - f.y.lo) * (y1 - y0);
            line(x0 - 6, p, x0, p, black);
        }
    }
    std::string encode(const Axes& axes) const {
        std::string out;
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
        png_infop info = png_create_info_struct(png);
        if (!png || !info || setjmp(png_jmpbuf(png))) {
            png_destroy_write_struct(&png, &info);
            throw Error("PNG encoding failed");
        }
        png_set_write_fn(
            png, &out,
            [](png_structp p, png_bytep data, png_size_t n) {
                static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(data), n);
            },
            nullptr);
        png_set_IHDR(png, info, kWidth, kHeight, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        std::string keys[3] = {"Title", "X axis", "Y axis"};
        std::string vals[3] = {axes.title, axes.xlabel, axes.ylabel};
        png_text text[3];
        for (int i = 0; i < 3; ++i) {
            text[i] = png_text{};
            text[i].compression = PNG_TEXT_COMPRESSION_NONE;
            text[i].key = keys[i].data();
            text[i].text = vals[i].data();
        }
        png_set_text(png, info, text, 3);
        png_write_info(png, info);
        for (int y = 0; y < kHeight; ++y)
            png_write_row(png, const_cast<png_bytep>(px_.data() + static_cast<std::size_t>(y * kWidth * 3)));
        png_write_end(png, nullptr);
        png_destroy_write_struct(&png, &info);
        return out;
    }

private:
    std::vector<unsigned char> px_;
};

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

}  // namespace

void line_chart(const std::string& path, const Axes& axes, const std::vector<Series>& series) {
    Kind kind = kind_of(path);
    std::vector<const std::vector<double>*> xs, ys;
    for (auto& s : series) {
        if (s.x.size() != s.y.size()) throw Error("plot: series '" + s.label + "' has x and y of different lengths");
        xs.push_back(&s.x);
        ys.push_back(&s.y);
    }
    Frame f{span_of(xs, false), span_of(ys, axes.log_y), axes.log_y};
    std::vector<std::pair<std::string, std::string>> legend;
    if (kind == Kind::svg) {
        Svg svg(axes, f);
        for (std::size_t k = 0; k < series.size(); ++k) {
            const auto& s = series[k];
            const char* colour = kColours[k % kColours.size()];
            legend.emplace_back(s.label, colour);
            if (s.points) {
                for (std::size_t i = 0; i < s.x.size(); ++i)
                    if (std::isfinite(s.y[i]))
                        svg.body() << "<circle cx=\"" << f.px(s.x[i]) << "\" cy=\"" << f.py(s.y[i])
                                   << "\" r=\"3\" fill=\"" << colour << "\"/>\n";
            } else {
                svg.body() << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << colour << "\" points=\"";
                for (std::size_t i = 0; i < s.x.size(); ++i)
                    if (std::isfinite(s.y[i])) svg.body() << f.px(s.x[i]) << "," << f.py(s.y[i]) << " ";
                svg.body() << "\"/>\n";
            }
        }
        write_atomic(path, svg.finish(legend));
        return;
    }
    Canvas c;
    for (std::size_t k = 0; k < series.size(); ++k) {
        const auto& s = series[k];
        auto colour = hex_colour(kColours[k % kColours.size()]);
        for (std::size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.y[i])) continue;
            if (s.points) c.fill(static_cast<int>(f.px(s.x[i])) - 2, static_cast<int>(f.py(s.y[i])) - 2,
                                 static_cast<int>(f.px(s.x[i])) + 2, static_cast<int>(f.py(s.y[i])) + 2, colour);
            else if (i > 0 && std::isfinite(s.y[i - 1]))
                c.line(f.px(s.x[i - 1]), f.py(s.y[i - 1]), f.px(s.x[i]), f.py(s.y[i]), colour);
        }
    }
    c.frame(f);
    write_atomic(path, c.encode(axes));
}

void scatter(const std::string& path, const Axes& axes, const Points& a, const std::string& label_a, const Points& b,
             const std::string& label_b) {
    if (a.cols() < 2 || (b.size() > 0 && b.cols() < 2)) throw Error("plot: scatter needs points with 2 columns");
    std::vector<Series> series;
    auto to_series = [](const Points& p, const std::string& label) {
        Series s;
        s.label = label;
        s.points = true;
        for (Eigen::Index i = 0; i < p.rows(); ++i) {
            s.x.push_back(p(i, 0));
            s.y.push_back(p(i, 1));
        }
        return s;
    };
    series.push_back(to_series(a, label_a));
    if (b.size() > 0) series.push_back(to_series(b, label_b));
    if (kind_of(path) == Kind::png) {
        // Dense scatters: one pixel per point reads better than markers.
        std::vector<const std::vector<double>*> xs, ys;
        for (auto& s : series) {
            xs.push_back(&s.x);
            ys.push_back(&s.y);
        }
        Frame f{span_of(xs, false), span_of(ys, false), false};
        Canvas c;
        for (std::size_t k = 0; k < series.size(); ++k) {
            auto colour = hex_colour(kColours[k]);
            for (std::size_t i = 0; i < series[k].x.size(); ++i) {
                int x = static_cast<int>(f.px(series[k].x[i])), y = static_cast<int>(f.py(series[k].y[i]));
                c.fill(x, y, x + 1, y + 1, colour);
            }
        }
        c.frame(f);
        write_atomic(path, c.encode(axes));
        return;
    }
    line_chart(path, axes, series);
}

void heatmap(const std::string& path, const Axes& axes, const Matrix& values, double x0, double x1, double y0,
             double y1) {
    if (values.size() == 0) throw Error("plot: empty heat map");
    Kind kind = kind_of(path);
    double lo = INFINITY, hi = -INFINITY;
    for (Eigen::Index i = 0; i < values.size(); ++i)
        if (std::isfinite(values.data()[i])) {
            lo = std::min(lo, values.data()[i]);
            hi = std::max(hi, values.data()[i]);
        }
    if (!(hi > lo)) hi = lo + 1;
    Frame f{{x0, x1}, {y0, y1}, false};
    const Eigen::Index ny = values.rows(), nx = values.cols();
    auto cell = [&](Eigen::Index iy, Eigen::Index ix) {
        return viridis((values(iy, ix) - lo) / (hi - lo));
    };
    if (kind == Kind::svg) {
        Svg svg(axes, f);
        double w = (kWidth - kLeft - kRight) / static_cast<double>(nx);
        double h = (kHeight - kTop - kBottom) / static_cast<double>(ny);
        for (Eigen::Index iy = 0; iy < ny; ++iy)
            for (Eigen::Index ix = 0; ix < nx; ++ix) {
                auto c = cell(iy, ix);
                char colour[8];
                std::snprintf(colour, sizeof colour, "#%02x%02x%02x", c[0], c[1], c[2]);
                svg.body() << "<rect x=\"" << kLeft + ix * w << "\" y=\"" << kHeight - kBottom - (iy + 1) * h
                           << "\" width=\"" << w + 0.5 << "\" height=\"" << h + 0.5 << "\" fill=\"" << colour
                           << "\"/>\n";
            }
        write_atomic(path, svg.finish({}));
        return;
    }
    Canvas c;
    for (int y = kTop; y < kHeight - kBottom; ++y)
        for (int x = kLeft; x < kWidth - kRight; ++x) {
            auto ix = static_cast<Eigen::Index>((x - kLeft) * nx / (kWidth - kLeft - kRight));
            auto iy = static_cast<Eigen::Index>((kHeight - kBottom - 1 - y) * ny / (kHeight - kTop - kBottom));
            c.set(x, y, cell(std::min(iy, ny - 1), std::min(ix, nx - 1)));
        }
    c.frame(f);
    write_atomic(path, c.encode(axes));
}

}  // namespace orbit::plot
