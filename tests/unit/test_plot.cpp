#include <cairo.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "orbit/core/error.hpp"
#include "orbit/io/plot.hpp"

using namespace orbit;
namespace fs = std::filesystem;

namespace {
std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& tag)
        : path(fs::temp_directory_path() / ("orbit-plot-" + tag + "-" + std::to_string(::getpid()))) {
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// A decoded PNG: width, height and 0xRRGGBB pixels.
struct Image {
    int width = 0, height = 0;
    std::vector<std::uint32_t> px;
    std::uint32_t at(int x, int y) const { return px[static_cast<std::size_t>(y * width + x)] & 0xffffff; }
    int red(int x, int y) const { return static_cast<int>(at(x, y) >> 16); }
    int green(int x, int y) const { return static_cast<int>((at(x, y) >> 8) & 255); }
    // Pixels that are not white inside a rectangle: ink of text or lines.
    int ink(int x0, int y0, int x1, int y1) const {
        int n = 0;
        for (int y = y0; y < y1; ++y)
            for (int x = x0; x < x1; ++x) n += at(x, y) != 0xffffff;
        return n;
    }
};

Image read_png(const std::string& path) {
    std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> s(
        cairo_image_surface_create_from_png(path.c_str()), cairo_surface_destroy);
    REQUIRE(cairo_surface_status(s.get()) == CAIRO_STATUS_SUCCESS);
    Image im;
    im.width = cairo_image_surface_get_width(s.get());
    im.height = cairo_image_surface_get_height(s.get());
    int stride = cairo_image_surface_get_stride(s.get());
    unsigned char* data = cairo_image_surface_get_data(s.get());
    for (int y = 0; y < im.height; ++y)
        for (int x = 0; x < im.width; ++x)
            im.px.push_back(reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride)[x]);
    return im;
}

plot::Series squares() {
    plot::Series s;
    for (int i = 0; i <= 10; ++i) {
        s.x.push_back(i);
        s.y.push_back(i * i);
    }
    s.label = "squares";
    return s;
}
}  // namespace

TEST_CASE("line charts render to PNG, SVG and PDF by the extension, and refuse others") {
    TempDir dir("line");
    plot::Series s = squares();
    plot::line_chart(dir / "a.svg", {"Title <1>", "angle", "error"}, {s});
    plot::line_chart(dir / "a.pdf", {"Title <1>", "angle", "error"}, {s});
    plot::line_chart(dir / "a.png", {"Title <1>", "angle", "error"}, {s});
    std::string svg = slurp(dir / "a.svg");
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("width=\"720pt\"") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(slurp(dir / "a.pdf").rfind("%PDF-", 0) == 0);
    Image im = read_png(dir / "a.png");
    CHECK(im.width == 720);
    CHECK(im.height == 540);
    // The series is drawn in its colour: the curve ends at the top right of the frame.
    bool blue = false;
    for (int y = 45; y < 75; ++y)
        for (int x = 650; x < 700; ++x) blue = blue || im.at(x, y) == 0x1f77b4;
    CHECK(blue);
    CHECK_THROWS_AS(plot::line_chart(dir / "a.jpg", {}, {s}), UsageError);
    CHECK_FALSE(fs::exists(dir / "a.jpg"));
}

TEST_CASE("titles, axis labels and tick numbers are drawn as text") {
    TempDir dir("text");
    plot::Series s = squares();
    plot::line_chart(dir / "bare.png", {"", "", ""}, {s});
    plot::line_chart(dir / "named.png", {"A title", "the x axis", "the y axis"}, {s});
    Image bare = read_png(dir / "bare.png"), named = read_png(dir / "named.png");
    // The title band, the x-label band and the y-label band are empty without labels.
    CHECK(bare.ink(0, 0, 720, 40) == 0);
    CHECK(named.ink(0, 0, 720, 40) > 100);
    CHECK(bare.ink(80, 515, 690, 540) == 0);
    CHECK(named.ink(80, 515, 690, 540) > 100);
    CHECK(bare.ink(0, 50, 28, 480) == 0);
    CHECK(named.ink(0, 50, 28, 480) > 100);
    // Tick numbers under the x axis and left of the y axis, with or without labels.
    CHECK(bare.ink(80, 488, 690, 505) > 100);
    CHECK(bare.ink(30, 50, 72, 480) > 100);
}

TEST_CASE("heat maps put row 0 at the bottom and carry a numbered colour bar") {
    TempDir dir("heat");
    Matrix v(2, 2);
    v << 0, 0, 0, 1;  // only the top-right cell is high
    plot::heatmap(dir / "h.png", {"density", "x", "y"}, v, 0, 1, 0, 1);
    plot::heatmap(dir / "h.svg", {"density", "x", "y"}, v, 0, 1, 0, 1);
    plot::heatmap(dir / "h.pdf", {"density", "x", "y"}, v, 0, 1, 0, 1);
    Image im = read_png(dir / "h.png");
    REQUIRE(im.width == 720);
    REQUIRE(im.height == 540);
    // Top-right of the frame is the high cell (yellow: red and green high), bottom-left low (dark purple).
    CHECK(im.red(600, 100) > 200);
    CHECK(im.green(600, 100) > 200);
    CHECK(im.green(150, 400) < 20);
    // The colour bar right of the frame runs from dark (bottom) to yellow (top), with numbers beside it.
    CHECK(im.green(638, 470) < 40);
    CHECK(im.green(638, 60) > 200);
    CHECK(im.ink(650, 50, 720, 480) > 100);
    CHECK(slurp(dir / "h.pdf").rfind("%PDF-", 0) == 0);
    CHECK_THROWS_AS(plot::heatmap(dir / "e.png", {}, Matrix(), 0, 1, 0, 1), Error);
}

TEST_CASE("scatter plots draw both sets") {
    TempDir dir("scatter");
    Points a(3, 2), b(2, 2);
    a << 0, 0, 1, 1, 2, 2;
    b << 0, 2, 2, 0;
    plot::scatter(dir / "s.png", {"s", "x", "y"}, a, "a", b, "b");
    Image im = read_png(dir / "s.png");
    int blue = 0, red = 0;
    for (int y = 0; y < im.height; ++y)
        for (int x = 0; x < im.width; ++x) {
            blue += im.at(x, y) == 0x1f77b4;
            red += im.at(x, y) == 0xd62728;
        }
    CHECK(blue > 30);
    CHECK(red > 20);
    CHECK_THROWS_AS(plot::scatter(dir / "s.png", {}, Points(3, 1), "a"), Error);
}
