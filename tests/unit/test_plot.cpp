#include <png.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "orbit/core/error.hpp"
#include "orbit/io/plot.hpp"
#include "fixtures.hpp"

using namespace orbit;
using orbit::test::slurp;
using orbit::test::TempDir;

TEST_CASE("line charts in SVG carry the series, labels and legend") {
    TempDir dir;
    plot::Series s;
    for (int i = 0; i <= 10; ++i) {
        s.x.push_back(i);
        s.y.push_back(i * i);
    }
    s.label = "squares";
    plot::line_chart(dir / "a.svg", {"Title <1>", "angle", "error"}, {s});
    std::string svg = slurp(dir / "a.svg");
    CHECK(svg.find("<svg") == 0);
    CHECK(svg.find("Title &lt;1&gt;") != std::string::npos);
    CHECK(svg.find("squares") != std::string::npos);
    CHECK(svg.find("<polyline") != std::string::npos);
    CHECK_THROWS_AS(plot::line_chart(dir / "a.jpg", {}, {s}), UsageError);
}

TEST_CASE("heat maps in PNG decode to the right size and colours") {
    TempDir dir;
    Matrix v(2, 2);
    v << 0, 0, 0, 1;  // only the top-right cell is high
    std::string path = dir / "h.png";
    plot::heatmap(path, {"density", "x", "y"}, v, 0, 1, 0, 1);
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_file(&image, path.c_str()));
    image.format = PNG_FORMAT_RGB;
    std::vector<unsigned char> buf(PNG_IMAGE_SIZE(image));
    REQUIRE(png_image_finish_read(&image, nullptr, buf.data(), 0, nullptr));
    CHECK(image.width == 720);
    CHECK(image.height == 540);
    auto pixel = [&](int x, int y) { return &buf[static_cast<std::size_t>((y * 720 + x) * 3)]; };
    // Top-right of the frame is the high cell (yellow: red and green high), bottom-left low (dark purple).
    CHECK(pixel(600, 100)[0] > 200);
    CHECK(pixel(600, 100)[1] > 200);
    CHECK(pixel(150, 400)[1] < 20);
}
