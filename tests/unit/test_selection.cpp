// Cloud selections (FILE:/dataset[K], [A:B]) and table column lists (--columns).
#include <catch2/catch.hpp>

#include "orbit/core/error.hpp"
#include "orbit/io/columns.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;

namespace {
io::PointSets batch(int clouds, int points, int dim) {
    io::PointSets s;
    s.layout = io::PointSets::Layout::batch;
    s.labels = io::PointSets::Labels::per_cloud;
    for (int b = 0; b < clouds; ++b) {
        io::PointSet p;
        p.points = Points::Constant(points, dim, b);
        p.labels = Points::Constant(1, 1, 10 * b);
        s.items.push_back(p);
    }
    return s;
}
}  // namespace

TEST_CASE("split_selection reads [K], [A:B] and open ranges") {
    auto [name, r] = io::split_selection("/data[3]");
    CHECK(name == "/data");
    REQUIRE(r);
    CHECK((r->one && r->begin == 3));
    auto [n2, r2] = io::split_selection("/g/data[2:5]");
    CHECK(n2 == "/g/data");
    CHECK((r2 && !r2->one && r2->begin == 2 && r2->end == 5));
    auto [n3, r3] = io::split_selection("/data[:4]");
    CHECK((r3 && r3->begin == 0 && r3->end == 4));
    auto [n4, r4] = io::split_selection("/data[6:]");
    CHECK((r4 && r4->begin == 6 && r4->end == -1));
    CHECK(!io::split_selection("/data").second);
    CHECK(io::split_selection("/data").first == "/data");
    CHECK_THROWS_AS(io::split_selection("/data[-1]"), UsageError);
    CHECK_THROWS_AS(io::split_selection("/data[x]"), UsageError);
    CHECK_THROWS_AS(io::split_selection("/data[]"), UsageError);
    CHECK_THROWS_AS(io::split_selection("/data[5:5]"), UsageError);
}

TEST_CASE("select_clouds keeps the chosen clouds and their labels") {
    io::PointSets s = batch(5, 4, 3);
    io::select_clouds(s, io::split_selection("/d[1:3]").second.value(), "x");
    REQUIRE(s.size() == 2);
    CHECK(s[0].points(0, 0) == 1);
    CHECK(s[1].labels(0, 0) == 20);
    CHECK(s.layout == io::PointSets::Layout::batch);
    io::PointSets t = batch(5, 4, 3);
    io::select_clouds(t, io::split_selection("/d[4]").second.value(), "x");
    REQUIRE(t.size() == 1);
    CHECK(t.layout == io::PointSets::Layout::single);
    CHECK(t[0].labels(0, 0) == 40);
    io::PointSets u = batch(5, 4, 3);
    CHECK_THROWS_WITH(io::select_clouds(u, io::split_selection("/d[5]").second.value(), "f.h5:/d[5]"),
                      Catch::Contains("holds 5 clouds (0..4)"));
    CHECK_THROWS_AS(io::select_clouds(u, io::split_selection("/d[2:9]").second.value(), "x"), Error);
}

TEST_CASE("parse_columns: indices, negative indices, ranges and names") {
    const std::vector<std::string> names{"a", "b", "c", "d", "kind"};
    using V = std::vector<std::size_t>;
    CHECK(io::parse_columns("0:3", 5, names) == V{0, 1, 2});
    CHECK(io::parse_columns("-1", 5, names) == V{4});
    CHECK(io::parse_columns("3:", 5, {}) == V{3, 4});
    CHECK(io::parse_columns(":2,kind", 5, names) == V{0, 1, 4});
    CHECK(io::parse_columns("d, a", 5, names) == V{3, 0});
    CHECK(io::parse_columns("0:-1", 5, {}) == V{0, 1, 2, 3});
    CHECK_THROWS_AS(io::parse_columns("5", 5, names), UsageError);
    CHECK_THROWS_AS(io::parse_columns("0:9", 5, names), UsageError);
    CHECK_THROWS_AS(io::parse_columns("3:1", 5, names), UsageError);
    CHECK_THROWS_AS(io::parse_columns("e", 5, names), UsageError);
    CHECK_THROWS_WITH(io::parse_columns("a", 5, {}), Catch::Contains("no header of names"));
    CHECK_THROWS_AS(io::parse_columns("0,,1", 5, names), UsageError);
}

TEST_CASE("select_columns moves a label column into per-point labels") {
    io::PointSets s;
    io::PointSet p;
    p.points.resize(2, 4);
    p.points << 1, 2, 3, 0, 4, 5, 6, 1;
    p.normals = Points::Zero(2, 3);
    s.items.push_back(p);
    std::vector<std::string> names{"x", "y", "z", "kind"};
    io::select_columns(s, names, {0, 1, 2}, {3});
    CHECK(s[0].points.cols() == 3);
    CHECK(s[0].points(1, 2) == 6);
    CHECK(s.labels == io::PointSets::Labels::per_point);
    CHECK(s[0].labels(1, 0) == 1);
    CHECK(s[0].normals.size() == 0);  // the kept columns are not the ones the normals described
    CHECK(names == std::vector<std::string>{"x", "y", "z"});
    CHECK_THROWS_AS(io::select_columns(s, names, {0, 1}, {1}), UsageError);
}
