// Readers and writers of io/formats: hand-written files of every format,
// round trips, and the bad inputs that must give one clear error.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/io/pointset.hpp"
#include "fixtures.hpp"

namespace fs = std::filesystem;
namespace fmt = orbit::io::formats;
using orbit::Points;

using orbit::test::contains;
using orbit::test::error_of;
using orbit::test::put;
using orbit::test::TempDir;

namespace {

const double kV[4][3] = {{0.5, -1.25, 2.0}, {3.0, 4.5, -6.0}, {-7.0, 8.0, 9.25}, {10.0, -11.0, 12.5}};

// Each {file name, content, part of the message}: `read` refuses the file with one line
// that names the file and holds that part.
void check_errors(const TempDir& d, fmt::Shape (*read)(const std::string&),
                  const std::vector<std::array<std::string, 3>>& cases) {
    for (auto& [name, content, part] : cases) {
        INFO(name);
        const std::string m = error_of([&] { read(d.file(name, content)); });
        CHECK(contains(m, name));
        CHECK(contains(m, part));
    }
}

}  // namespace

TEST_CASE("PLY ascii: vertices, normals, extra properties, quads and other elements") {
    TempDir d;
    std::string ply =
        "ply\r\nformat ascii 1.0\ncomment hand written\nobj_info nothing\n"
        "element vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty float nx\nproperty float ny\nproperty float nz\n"
        "element face 2\nproperty list uchar int vertex_indices\nproperty uchar flags\n"
        "element edge 1\nproperty int vertex1\nproperty int vertex2\n"
        "end_header\n"
        "0.5 -1.25 2 255 1 0 0\n3 4.5 -6 0 0 1 0\n-7 8 9.25 12 0 0 1\n10 -11 12.5 7 0 0 -1\n"
        "4 0 1 2 3 9\n3 3 2 1 0\n"
        "0 1\n";
    fmt::Shape s = fmt::read_ply(d.file("a.ply", ply));
    REQUIRE(s.vertices.rows() == 4);
    REQUIRE(s.vertices.cols() == 3);
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) CHECK(s.vertices(i, j) == kV[i][j]);
    REQUIRE(s.normals.rows() == 4);
    CHECK(s.normals(0, 0) == 1.0);
    CHECK(s.normals(3, 2) == -1.0);
    REQUIRE(s.faces.rows() == 3);  // quad -> 2 fan triangles, plus one triangle
    CHECK(s.faces.row(0) == Eigen::RowVector3<std::int64_t>(0, 1, 2));
    CHECK(s.faces.row(1) == Eigen::RowVector3<std::int64_t>(0, 2, 3));
    CHECK(s.faces.row(2) == Eigen::RowVector3<std::int64_t>(3, 2, 1));
    // Reading by extension goes the same way.
    CHECK(fmt::read_shape(d.name("a.ply")).vertices == s.vertices);
}

// A binary PLY with every property type, in either byte order.
std::string binary_ply(bool big) {
    std::string h = std::string("ply\nformat ") + (big ? "binary_big_endian" : "binary_little_endian") +
                    " 1.0\n"
                    "element vertex 4\n"
                    "property char c\nproperty float x\nproperty uint8 u8\nproperty double y\nproperty short s\n"
                    "property int16 z\nproperty ushort us\nproperty int i\nproperty uint ui\nproperty int32 i32\n"
                    "property float64 f64\nproperty uchar uc\n"
                    "element face 2\nproperty list uchar int vertex_indices\n"
                    "element extra 1\nproperty list int float values\nproperty double w\n"
                    "end_header\n";
    const std::int16_t zs[4] = {2, -6, 9, 12};
    const float xs[4] = {0.5f, 3.0f, -7.0f, 10.0f};
    for (int i = 0; i < 4; ++i) {
        put<std::int8_t>(h, -3, big);
        put<float>(h, xs[i], big);
        put<std::uint8_t>(h, 200, big);
        put<double>(h, kV[i][1], big);
        put<std::int16_t>(h, -5, big);
        put<std::int16_t>(h, zs[i], big);
        put<std::uint16_t>(h, 60000, big);
        put<std::int32_t>(h, -100000, big);
        put<std::uint32_t>(h, 4000000000u, big);
        put<std::int32_t>(h, 7, big);
        put<double>(h, 1e300, big);
        put<std::uint8_t>(h, 1, big);
    }
    // A quad and a triangle.
    put<std::uint8_t>(h, 4, big);
    for (int k : {0, 1, 2, 3}) put<std::int32_t>(h, k, big);
    put<std::uint8_t>(h, 3, big);
    for (int k : {3, 1, 0}) put<std::int32_t>(h, k, big);
    // An element with a list of floats, which must be skipped correctly.
    put<std::int32_t>(h, 2, big);
    put<float>(h, 1.5f, big);
    put<float>(h, 2.5f, big);
    put<double>(h, 3.0, big);
    return h;
}

TEST_CASE("PLY binary little and big endian: all property types, lists skipped") {
    TempDir d;
    for (bool big : {false, true}) {
        INFO((big ? "big endian" : "little endian"));
        fmt::Shape s = fmt::read_ply(d.file(big ? "be.ply" : "le.ply", binary_ply(big)));
        REQUIRE(s.vertices.rows() == 4);
        CHECK(s.normals.size() == 0);
        for (int i = 0; i < 4; ++i) {
            CHECK(s.vertices(i, 0) == kV[i][0]);
            CHECK(s.vertices(i, 1) == kV[i][1]);
            CHECK(s.vertices(i, 2) == std::trunc(kV[i][2]));  // int16
        }
        REQUIRE(s.faces.rows() == 3);
        CHECK(s.faces.row(1) == Eigen::RowVector3<std::int64_t>(0, 2, 3));
        CHECK(s.faces.row(2) == Eigen::RowVector3<std::int64_t>(3, 1, 0));
    }
}

TEST_CASE("PLY writer round trip: float64 exact, normals, faces, atomic") {
    TempDir d;
    fmt::Shape s;
    s.vertices = Points::Random(50, 3) * 1e3;
    s.vertices(0, 0) = 1.0 / 3.0;
    s.normals = Points::Random(50, 3);
    s.faces.resize(20, 3);
    for (int f = 0; f < 20; ++f) s.faces.row(f) << f, f + 1, 49 - f;
    std::string p = d.name("out.ply");
    fmt::write_ply(p, s);
    CHECK(d.entries() == 1);  // no temporary file left behind
    fmt::Shape r = fmt::read_ply(p);
    CHECK(r.vertices == s.vertices);
    CHECK(r.normals == s.normals);
    CHECK(r.faces == s.faces);
    // Without normals or faces.
    fmt::Shape q;
    q.vertices = s.vertices;
    fmt::write_shape(d.name("pts.ply"), q);
    fmt::Shape rq = fmt::read_shape(d.name("pts.ply"));
    CHECK(rq.vertices == q.vertices);
    CHECK(rq.normals.size() == 0);
    CHECK(rq.faces.size() == 0);
}

TEST_CASE("PLY bad inputs give one-line errors") {
    TempDir d;
    const std::string head = "ply\nformat binary_little_endian 1.0\nelement vertex ";
    const std::string xyz = "property float x\nproperty float y\nproperty float z\n";
    std::string body, fb;  // a truncated body; a face list cut short
    for (int i = 0; i < 5; ++i) put<float>(body, 1.0f, false);
    for (int i = 0; i < 9; ++i) put<float>(fb, 1.0f, false);
    put<std::uint8_t>(fb, 3, false);
    put<std::int32_t>(fb, 0, false);
    check_errors(d, fmt::read_ply,
                 {// Headers declaring 10^12 vertices: refused before allocating.
                  {"huge.ply", head + "1000000000000\n" + xyz + "end_header\n" + std::string(24, '\0'), "1000000000000"},
                  {"hugea.ply", "ply\nformat ascii 1.0\nelement vertex 1000000000000\n" + xyz + "end_header\n1 2 3\n", "1000000000000"},
                  // Truncated bodies.
                  {"trunc.ply", head + "2\n" + xyz + "end_header\n" + body, "trunc.ply"},
                  {"trunca.ply", "ply\nformat ascii 1.0\nelement vertex 3\n" + xyz + "end_header\n1 2 3\n4 5 6\n7 8                \n",
                   "ends in record 2"},
                  {"tface.ply", head + "3\n" + xyz + "element face 1\nproperty list uchar int vertex_indices\nend_header\n" + fb, "face"},
                  // Malformed headers.
                  {"m1.ply", "plx\n", "not a PLY file"},
                  {"m2.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n", "end_header"},
                  {"m3.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty quad x\nend_header\n1\n", "line 4"},
                  {"m4.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n1 2\n",
                   "x, y and z"},
                  {"m5.ply", "ply\nformat binary_middle_endian 1.0\nend_header\n", "unknown PLY format"},
                  // Empty file, NaN values, bad face indices.
                  {"empty.ply", "", "empty"},
                  {"nan.ply", "ply\nformat ascii 1.0\nelement vertex 2\n" + xyz + "end_header\n1 2 3\n4 nan 6\n", "vertex 1 has a NaN"},
                  {"idx.ply",
                   "ply\nformat ascii 1.0\nelement vertex 3\n" + xyz +
                       "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n",
                   "vertex 7"}});
    CHECK(contains(error_of([&] { fmt::read_ply(d.name("missing.ply")); }), "cannot open"));
}

TEST_CASE("OFF: comments, colours, polygons, normals, counts on the keyword line") {
    TempDir d;
    fmt::Shape s = fmt::read_off(d.file("a.off",
                                        "# a comment\nCOFF\n4 2 0 # counts\n\n0.5 -1.25 2 255 0 0 255\n3 4.5 -6 0 0 0 255\n"
                                        "-7 8 9.25 1 2 3 4\n10 -11 12.5 9 9 9 9\n4 0 1 2 3 255 0 0\n3 3 2 1\n"));
    REQUIRE(s.vertices.rows() == 4);
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) CHECK(s.vertices(i, j) == kV[i][j]);
    REQUIRE(s.faces.rows() == 3);
    CHECK(s.faces.row(1) == Eigen::RowVector3<std::int64_t>(0, 2, 3));
    fmt::Shape n = fmt::read_shape(d.file("n.off", "NOFF 3 1 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n3 0 1 2\n"));
    REQUIRE(n.normals.rows() == 3);
    CHECK(n.normals(2, 2) == 1.0);
    CHECK(n.faces.rows() == 1);

    check_errors(d, fmt::read_off,
                 {{"huge.off", "OFF\n1000000000000 1 0\n0 0 0\n", "1000000000000"},
                  {"short.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n# padding comment\n", "after 2 of 3 vertices"},
                  {"bad.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n", "vertex 3"},
                  {"nan.off", "OFF\n3 0 0\n0 0 0\n1 nan 0\n0 1 0\n", "line 4"},
                  {"word.off", "PLY\n3 0 0\n", "not an OFF file"},
                  {"e.off", "", "empty"}});
}

TEST_CASE("XYZ/PTS/TXT: columns, normals, count line, comments, errors") {
    TempDir d;
    fmt::Shape s = fmt::read_shape(d.file("a.xyz", "# x y z\n0.5 -1.25 2\n3\t4.5 -6\n\n-7 8 9.25\r\n10 -11 +12.5\n"));
    REQUIRE(s.vertices.rows() == 4);
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) CHECK(s.vertices(i, j) == kV[i][j]);
    fmt::Shape n = fmt::read_shape(d.file("b.pts", "2\n1 2 3 0 0 1\n4 5 6 1 0 0\n"));
    REQUIRE(n.vertices.rows() == 2);
    REQUIRE(n.normals.rows() == 2);
    CHECK(n.normals(1, 0) == 1.0);
    fmt::Shape t = fmt::read_shape(d.file("c.txt", "1 2 3 4\n5 6 7 8\n"));
    CHECK(t.vertices.cols() == 4);
    CHECK(t.normals.size() == 0);
    check_errors(d, fmt::read_xyz,
                 {{"cols.xyz", "1 2 3\n4 5\n", "line 2"},
                  {"nan.xyz", "1 2 3\n4 NaN 6\n", "NaN"},
                  {"word.xyz", "1 2 3\n4 five 6\n", "'five'"},
                  {"none.xyz", "# nothing\n\n", "no points"}});
}

TEST_CASE("CSV: header detection, scikit-learn description rows, exact round trip, errors") {
    TempDir d;
    fmt::Shape h = fmt::read_csv(d.file("h.csv", "a,\"b\", c\n1,2,3\n4,5,6\n"));
    REQUIRE(h.vertices.rows() == 2);
    CHECK(h.columns == std::vector<std::string>{"a", "b", "c"});
    CHECK(h.vertices(1, 2) == 6.0);
    fmt::Shape n = fmt::read_csv(d.file("n.csv", "1,2\r\n3,4\r\n"));
    CHECK(n.vertices.rows() == 2);
    CHECK(n.columns.empty());
    // scikit-learn's files start with "rows,cols,class names": a header with another width.
    fmt::Shape sk = fmt::read_csv(d.file("sk.csv", "2,3,yes,no\n1,2,3,0\n4,5,6,1\n"));
    CHECK(sk.vertices.rows() == 2);
    CHECK(sk.vertices.cols() == 4);
    CHECK(sk.columns.empty());

    Points t = Points::Random(30, 5);
    t(0, 0) = 0.1;
    t(1, 1) = 1e-300;
    t(2, 2) = -123456789.123456789;
    fmt::write_csv(d.name("rt.csv"), t, {"a", "b", "c", "d", "e"});
    fmt::Shape r = fmt::read_csv(d.name("rt.csv"));
    CHECK(r.vertices == t);
    CHECK(r.columns.size() == 5);
    fmt::write_csv(d.name("rt2.csv"), t);
    CHECK(fmt::read_csv(d.name("rt2.csv")).vertices == t);

    check_errors(d, fmt::read_csv,
                 {{"w.csv", "1,2,3\n4,5\n", "line 2"},
                  {"e.csv", "1,2,3\n4,,6\n", "column 2 is empty"},
                  {"nan.csv", "x,y\n1,2\nnan,3\n", "line 3"},
                  {"only.csv", "x,y\n", "no data rows"}});
}

// An NPY file with a given header dictionary and raw data.
std::string npy(int major, const std::string& dict, const std::string& data) {
    std::string h = dict;
    std::size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string s = "\x93NUMPY";
    s += static_cast<char>(major);
    s += '\0';
    if (major == 1) put<std::uint16_t>(s, static_cast<std::uint16_t>(h.size()), false);
    else put<std::uint32_t>(s, static_cast<std::uint32_t>(h.size()), false);
    return s + h + data;
}

TEST_CASE("NPY: v1 and v2 headers, float32/float64, both byte orders, integers") {
    TempDir d;
    std::string f4le, f8be, i4;
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) {
            put<float>(f4le, static_cast<float>(kV[i][j]), false);
            put<double>(f8be, kV[i][j], true);
            put<std::int32_t>(i4, i * 3 + j - 5, false);
        }
    fmt::Shape a = fmt::read_npy(d.file("a.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", f4le)));
    fmt::Shape b = fmt::read_npy(d.file("b.npy", npy(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (4, 3), }", f8be)));
    fmt::Shape c = fmt::read_npy(d.file("c.npy", npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (12,), }", i4)));
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) {
            CHECK(a.vertices(i, j) == kV[i][j]);
            CHECK(b.vertices(i, j) == kV[i][j]);
        }
    REQUIRE(c.vertices.cols() == 1);
    CHECK(c.vertices(11, 0) == 6.0);

    Points t = Points::Random(17, 4);
    fmt::write_npy(d.name("rt.npy"), t);
    CHECK(fmt::read_shape(d.name("rt.npy")).vertices == t);

    CHECK(contains(error_of([&] {
                       fmt::read_npy(d.file("f.npy", npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3), }", f8be)));
                   }),
                   "Fortran"));
    CHECK(contains(error_of([&] {
                       fmt::read_npy(d.file("t.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 3), }", f8be)));
                   }),
                   "the file holds 96"));
    CHECK(contains(error_of([&] {
                       fmt::read_npy(d.file("h.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 3), }",
                                                         f8be)));
                   }),
                   "1000000000000"));
    CHECK(contains(error_of([&] {
                       fmt::read_npy(d.file("s.npy", npy(1, "{'descr': '<U4', 'fortran_order': False, 'shape': (4,), }", "abcd")));
                   }),
                   "unsupported NPY dtype"));
    CHECK(contains(error_of([&] {
                       fmt::read_npy(d.file("r3.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }",
                                                          std::string(32, '\0'))));
                   }),
                   "rank 1 or 2"));
    std::string nan;
    put<double>(nan, 1.0, false);
    put<double>(nan, std::nan(""), false);
    CHECK(contains(error_of([&] {
                       fmt::read_npy(d.file("nan.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }", nan)));
                   }),
                   "row 1 has a NaN"));
    CHECK(contains(error_of([&] { fmt::read_npy(d.file("magic.npy", "not an npy file")); }), "bad magic"));
}

TEST_CASE("NPY v1, v2 and v3 headers in every spelling: whole-file and block-wise reads agree") {
    TempDir d;
    Points t = Points::Random(70000, 3) * 10;  // more than two blocks of the block-wise path
    std::string f8;
    for (Eigen::Index i = 0; i < t.size(); ++i) put<double>(f8, t.data()[i], false);
    const std::vector<std::string> dicts = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (70000, 3), }",  // numpy's own
        "{'descr': '<f8', 'fortran_order': False, 'shape': (70000,3)}",     // no space, no trailing comma
        "{'shape': (70000, 3,), 'fortran_order': False, 'descr': '<f8'}",   // other key order, trailing comma
        "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (70000 , 3)}"};
    int k = 0;
    for (int major : {1, 2, 3})
        for (const std::string& dict : dicts) {
            INFO("version " << major << ", header " << dict);
            const std::string name = "v" + std::to_string(major) + "_" + std::to_string(k++);
            const std::string path = d.file(name + ".npy", npy(major, dict, f8));
            CHECK(fmt::read_npy(path).vertices == t);
            CHECK(fmt::read_input(path).sets[0].points == t);
            fmt::StreamSummary sum;
            REQUIRE(fmt::convert_streaming(path, "", d.name(name + ".h5"), sum));  // no silent fallback
            CHECK(sum.points == 70000);
            CHECK(orbit::io::read_point_sets(d.name(name + ".h5"))[0].points == t);
            REQUIRE(fmt::convert_streaming(path, "", d.name(name + "_out.npy"), sum));
            CHECK(fmt::read_npy(d.name(name + "_out.npy")).vertices == t);
        }
    // Rank 1 and integers stream too, as the whole-file reader reads them.
    std::string i2;
    for (int i = 0; i < 10; ++i) put<std::int16_t>(i2, static_cast<std::int16_t>(i * 7 - 30), true);
    const std::string r1 = d.file("r1.npy", npy(2, "{'descr': '>i2', 'fortran_order': False, 'shape': (10,), }", i2));
    fmt::StreamSummary sum;
    REQUIRE(fmt::convert_streaming(r1, "", d.name("r1.h5"), sum));
    CHECK(sum.dimension == 1);
    CHECK(orbit::io::read_point_sets(d.name("r1.h5"))[0].points == fmt::read_npy(r1).vertices);
    CHECK(fmt::read_npy(r1).vertices(9, 0) == 33.0);
    // A damaged header: the same one-line error from both paths, nothing written.
    const std::string bad = d.file("bad.npy", npy(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (70001,3)}", f8));
    const std::string whole = error_of([&] { fmt::read_input(bad); });
    CHECK(contains(whole, "shape [70001,3] of <f8 needs"));
    CHECK(error_of([&] { fmt::convert_streaming(bad, "", d.name("bad.h5"), sum); }) == whole);
    CHECK_FALSE(fs::exists(d.name("bad.h5")));
    const std::string v4 = d.file("v4.npy", "\x93NUMPY\x04" + std::string("\0\x10\0\0\0", 5) + std::string(16, ' '));
    CHECK(contains(error_of([&] { fmt::convert_streaming(v4, "", d.name("v4.h5"), sum); }), "unsupported NPY version 4"));
}

namespace {

// A zip archive, as numpy writes NPZ files: each member stored or deflated,
// optionally with its sizes and offset in a zip64 extra field.
struct ZipEntry {
    std::string name, data;
    bool deflate = false, zip64 = false;
    std::uint16_t method = 0;  // forced method number (0: from `deflate`)
};

std::string raw_deflate(const std::string& in) {
    z_stream s{};
    REQUIRE(deflateInit2(&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&s, in.size()), '\0');
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

std::string zip(const std::vector<ZipEntry>& entries) {
    std::string body, dir;
    for (const ZipEntry& e : entries) {
        const std::string packed = e.deflate ? raw_deflate(e.data) : e.data;
        const auto crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), static_cast<uInt>(e.data.size())));
        const std::uint16_t method = e.method ? e.method : (e.deflate ? 8 : 0);
        const auto offset = static_cast<std::uint32_t>(body.size());
        auto header = [&](std::string& s, bool central) {
            put<std::uint32_t>(s, central ? 0x02014b50 : 0x04034b50, false);
            if (central) put<std::uint16_t>(s, 20, false);
            for (std::uint16_t v : {std::uint16_t(45), std::uint16_t(0), method, std::uint16_t(0), std::uint16_t(0x21)})
                put<std::uint16_t>(s, v, false);
            put<std::uint32_t>(s, crc, false);
            const bool big = central && e.zip64;
            put<std::uint32_t>(s, big ? 0xffffffffu : static_cast<std::uint32_t>(packed.size()), false);
            put<std::uint32_t>(s, big ? 0xffffffffu : static_cast<std::uint32_t>(e.data.size()), false);
            put<std::uint16_t>(s, static_cast<std::uint16_t>(e.name.size()), false);
            put<std::uint16_t>(s, big ? 28 : 0, false);  // extra field length
            if (central) {
                for (int k = 0; k < 3; ++k) put<std::uint16_t>(s, 0, false);  // comment length, disk, attributes
                put<std::uint32_t>(s, 0, false);                              // external attributes
                put<std::uint32_t>(s, big ? 0xffffffffu : offset, false);
            }
            s += e.name;
            if (big) {  // zip64 extra: sizes and offset
                put<std::uint16_t>(s, 1, false);
                put<std::uint16_t>(s, 24, false);
                put<std::uint64_t>(s, e.data.size(), false);
                put<std::uint64_t>(s, packed.size(), false);
                put<std::uint64_t>(s, offset, false);
            }
        };
        header(body, false);
        body += packed;
        header(dir, true);
    }
    std::string end;
    put<std::uint32_t>(end, 0x06054b50, false);
    for (int k = 0; k < 2; ++k) put<std::uint16_t>(end, 0, false);
    for (int k = 0; k < 2; ++k) put<std::uint16_t>(end, static_cast<std::uint16_t>(entries.size()), false);
    put<std::uint32_t>(end, static_cast<std::uint32_t>(dir.size()), false);
    put<std::uint32_t>(end, static_cast<std::uint32_t>(body.size()), false);
    put<std::uint16_t>(end, 0, false);
    return body + dir + end;
}

std::string f8_npy(const Points& p) {
    std::string data;
    for (Eigen::Index i = 0; i < p.size(); ++i) put<double>(data, p.data()[i], false);
    return npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(p.rows()) + ", " +
                      std::to_string(p.cols()) + "), }", data);
}

}  // namespace

TEST_CASE("NPZ: stored and deflated members, zip64 fields, members by name, default member") {
    TempDir d;
    const Points a = Points::Random(40000, 3), b = Points::Random(50, 2), c = Points::Random(12, 3);
    std::string batch;
    for (int i = 0; i < 24; ++i) put<float>(batch, static_cast<float>(i), false);
    const std::string npz = d.file("a.npz", zip({{"labels.npy", f8_npy(c), false, false},
                                                  {"points.npy", f8_npy(a), false, false},
                                                  {"b.npy", f8_npy(b), true, false},
                                                  {"z64.npy", f8_npy(c), true, true},
                                                  {"batch.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 3), }", batch), true, false},
                                                  {"readme.txt", "not an array", false, false}}));
    // The default is the member "points", even when it is not the first.
    CHECK(fmt::read_npz(npz).vertices == a);
    CHECK(fmt::read_shape(npz).vertices == a);
    CHECK(fmt::read_npz(npz, "b").vertices == b);              // deflated
    CHECK(fmt::read_npz(npz, "/z64.npy").vertices == c);       // zip64 extra field, full name
    CHECK(fmt::read_input(npz + ":/b").sets[0].points == b);   // FILE:/NAME
    CHECK(fmt::read_input(npz, "b").sets[0].points == b);      // --dataset NAME
    CHECK(orbit::io::read_point_sets(npz + ":/labels")[0].points == c);
    const fmt::Input bi = fmt::read_input(npz + ":/batch");
    REQUIRE(bi.sets.size() == 2);
    CHECK(bi.sets.layout == orbit::io::PointSets::Layout::batch);
    CHECK(bi.sets[1].points(3, 2) == 23.0);
    // Without a member "points", the first array.
    const std::string first = d.file("f.npz", zip({{"x.npy", f8_npy(b), true}, {"y.npy", f8_npy(c)}}));
    CHECK(fmt::read_npz(first).vertices == b);
    // Block-wise: a stored member streams in place, a deflated one is read whole.
    fmt::StreamSummary sum;
    REQUIRE(fmt::convert_streaming(npz, "", d.name("a.h5"), sum));
    CHECK(orbit::io::read_point_sets(d.name("a.h5"))[0].points == a);
    REQUIRE(fmt::convert_streaming(npz + ":/labels", "", d.name("l.npy"), sum));
    CHECK(fmt::read_npy(d.name("l.npy")).vertices == c);
    CHECK_FALSE(fmt::convert_streaming(npz, "b", d.name("b.h5"), sum));
    CHECK_FALSE(fmt::convert_streaming(npz, "batch", d.name("b.h5"), sum));

    // Errors name the archive and the member.
    std::string m = error_of([&] { fmt::read_npz(npz, "nope"); });
    CHECK(contains(m, "a.npz: no array 'nope' (it holds labels, points, b, z64, batch)"));
    CHECK(contains(error_of([&] { fmt::read_npz(npz, "batch"); }), "a.npz:/batch: expected an NPY array of rank 1 or 2"));
    CHECK(contains(error_of([&] { fmt::read_npz(d.file("t.npz", zip({{"t.txt", "text"}}))); }), "holds no .npy arrays"));
    CHECK(contains(error_of([&] { fmt::read_npz(d.file("n.npz", "PK\x03\x04 not really")); }), "not an NPZ file"));
    CHECK(contains(error_of([&] { fmt::read_npz(d.file("m.npz", zip({{"p.npy", f8_npy(c), false, false, 12}}))); }),
                   "method 12 is not supported"));
    std::string flipped = zip({{"p.npy", f8_npy(c), true}});
    flipped[60] = static_cast<char>(flipped[60] ^ 0x55);  // inside the deflated data
    m = error_of([&] { fmt::read_npz(d.file("c.npz", flipped)); });
    CHECK((contains(m, "c.npz:/p: damaged") || contains(m, "CRC")));
    std::string stored = zip({{"p.npy", f8_npy(c)}});
    stored[200] = static_cast<char>(stored[200] ^ 0x01);  // a value of the stored array
    CHECK(contains(error_of([&] { fmt::read_npz(d.file("s.npz", stored)); }), "s.npz:/p: damaged zip entry (CRC mismatch)"));
    CHECK(contains(error_of([&] { fmt::read_shape(d.file("o.off", "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n"), "x"); }),
                   "OFF files hold one array"));
}

TEST_CASE("PCD: ascii and binary, normals, multi-count fields skipped, errors") {
    TempDir d;
    const std::string head =
        "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z normal_x normal_y normal_z fpfh label\nSIZE 4 4 8 4 4 4 4 1\n"
        "TYPE F F F F F F F U\nCOUNT 1 1 1 1 1 1 3 1\nWIDTH 4\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 4\n";
    std::string ascii = head + "DATA ascii\n";
    std::string bin;
    for (int i = 0; i < 4; ++i) {
        ascii += std::to_string(kV[i][0]) + " " + std::to_string(kV[i][1]) + " " + std::to_string(kV[i][2]) +
                 " 0 0 1 0.1 0.2 0.3 7\n";
        put<float>(bin, static_cast<float>(kV[i][0]), false);
        put<float>(bin, static_cast<float>(kV[i][1]), false);
        put<double>(bin, kV[i][2], false);
        put<float>(bin, 0.f, false);
        put<float>(bin, 0.f, false);
        put<float>(bin, 1.f, false);
        for (int k = 0; k < 3; ++k) put<float>(bin, 0.5f, false);
        put<std::uint8_t>(bin, 7, false);
    }
    for (const std::string& content : {ascii, head + "DATA binary\n" + bin}) {
        fmt::Shape s = fmt::read_shape(d.file("a.pcd", content));
        REQUIRE(s.vertices.rows() == 4);
        REQUIRE(s.normals.rows() == 4);
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 3; ++j) CHECK(s.vertices(i, j) == Approx(kV[i][j]).margin(1e-6));
        CHECK(s.normals(3, 2) == 1.0);
    }
    CHECK(contains(error_of([&] { fmt::read_pcd(d.file("c.pcd", head + "DATA binary_compressed\n" + bin)); }), "binary_compressed"));
    CHECK(contains(error_of([&] { fmt::read_pcd(d.file("t.pcd", head + "DATA binary\n" + bin.substr(0, 100))); }), "4 points"));
    std::string huge = head;
    huge.replace(huge.find("POINTS 4"), 8, "POINTS 1000000000000");
    CHECK(contains(error_of([&] { fmt::read_pcd(d.file("h.pcd", huge + "DATA binary\n" + bin)); }), "1000000000000"));
    CHECK(contains(error_of([&] { fmt::read_pcd(d.file("s.pcd", head + "DATA ascii\n1 2 3 0 0 1 0.1 0.2 0.3 7\n1 2 3\n" +
                                                      "1 2 3 0 0 1 0.1 0.2 0.3 7\n1 2 3 0 0 1 0.1 0.2 0.3 7\n")); }),
                   "line 13"));
    CHECK(contains(error_of([&] {
                       fmt::read_pcd(d.file("n.pcd", "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nHEIGHT 1\n"
                                                     "POINTS 1\nDATA ascii\nnan nan nan\n"));
                   }),
                   "NaN"));
    CHECK(contains(error_of([&] {
                       fmt::read_pcd(d.file("f.pcd", "FIELDS a b\nSIZE 4 4\nTYPE F F\nCOUNT 1 1\nWIDTH 1\nPOINTS 1\nDATA ascii\n1 2\n"));
                   }),
                   "x, y and z"));
}

TEST_CASE("Dispatch by extension and atomic writers") {
    TempDir d;
    CHECK(fmt::is_known("a.PLY"));
    CHECK(fmt::is_known("dir.v2/b.npy"));
    CHECK_FALSE(fmt::is_known("c.h5"));
    CHECK_FALSE(fmt::is_known("noext"));
    CHECK(fmt::is_writable("x.csv"));
    CHECK(fmt::is_writable("x.pcd"));
    CHECK_FALSE(fmt::is_writable("x.npz"));
    CHECK(fmt::is_known("mesh.OBJ"));  // through Assimp
    CHECK(fmt::is_known("a.npz"));
    CHECK(fmt::has_members("a.npz"));
    CHECK_FALSE(fmt::has_members("a.npy"));
    CHECK_FALSE(fmt::is_writable("x.obj"));
    CHECK(contains(error_of([&] { fmt::read_shape(d.file("x.foo", "1 2 3\n")); }), "unknown format"));
    CHECK(contains(error_of([&] { fmt::read_shape(d.name("x.foo"), "points"); }), "unknown format"));
    Points t = Points::Ones(3, 3);
    CHECK(contains(error_of([&] { fmt::write_npy(d.name("nofolder/x.npy"), t); }), "does not exist"));
    CHECK(contains(error_of([&] { fmt::write_csv(d.path.string(), t); }), "directory"));
    fmt::Shape s;
    s.vertices = t;
    CHECK(contains(error_of([&] { fmt::write_shape(d.name("x.obj"), s); }), "unknown output format"));
    CHECK(d.entries() == 1);  // only x.foo, no temporary files left
    // A failing write leaves an existing file untouched.
    fmt::write_csv(d.name("keep.csv"), t);
    fmt::Shape bad;
    bad.vertices = Points::Ones(2, 3);
    bad.faces.resize(1, 3);
    bad.faces << 0, 1, 5;
    CHECK(contains(error_of([&] { fmt::write_ply(d.name("keep.csv"), bad); }), "outside"));
    CHECK(fmt::read_csv(d.name("keep.csv")).vertices == t);
}

TEST_CASE("damaged files: truncations and flipped bytes never crash, they read or throw orbit::Error") {
    TempDir d;
    std::string pcd_bin = "FIELDS x y z normal_x normal_y normal_z\nSIZE 4 4 4 4 4 4\nTYPE F F F F F F\nCOUNT 1 1 1 1 1 1\n"
                          "WIDTH 3\nHEIGHT 1\nPOINTS 3\nDATA binary\n";
    for (int i = 0; i < 18; ++i) put<float>(pcd_bin, static_cast<float>(i), false);
    const std::vector<std::pair<std::string, std::string>> samples = {
        {"le.ply", binary_ply(false)},
        {"be.ply", binary_ply(true)},
        {"a.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                  "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"},
        {"a.off", "OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n4 0 1 2 3\n"},
        {"a.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", std::string(48, '\1'))},
        {"a.pcd", pcd_bin},
        {"a.csv", "x,y,z\n1,2,3\n4,5,6\n"},
        {"a.xyz", "3\n1 2 3\n4 5 6\n7 8 9\n"},
        {"s.npz", zip({{"points.npy", f8_npy(Points::Ones(4, 3))}, {"b.npy", f8_npy(Points::Zero(2, 2))}})},
        {"d.npz", zip({{"points.npy", f8_npy(Points::Ones(4, 3)), true}, {"z.npy", f8_npy(Points::Ones(2, 3)), true, true}})},
    };
    std::uint64_t state = 12345;
    auto next = [&] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return state >> 33;
    };
    int read = 0, refused = 0;
    for (auto& [name, content] : samples) {
        for (int trial = 0; trial < 150; ++trial) {
            std::string bytes = content;
            if (trial % 3 == 0) {
                bytes.resize(next() % bytes.size());  // truncated
            } else {
                for (int k = 0; k < 1 + trial % 4; ++k) bytes[next() % bytes.size()] = static_cast<char>(next() & 0xff);
            }
            std::string p = d.file(name, bytes);
            try {
                fmt::Shape s = fmt::read_shape(p);
                // What was read is consistent.
                REQUIRE(s.vertices.rows() > 0);
                REQUIRE(std::isfinite(s.vertices.sum()));
                if (s.faces.size()) REQUIRE((s.faces.minCoeff() >= 0 && s.faces.maxCoeff() < s.vertices.rows()));
                ++read;
            } catch (const orbit::Error& e) {
                REQUIRE(std::string(e.what()).find('\n') == std::string::npos);
                ++refused;
            }
        }
    }
    CHECK(read + refused == static_cast<int>(samples.size()) * 150);
    CHECK(refused > 0);
}

TEST_CASE("block-wise conversion gives what the general readers and writers give") {
    TempDir d;
    const int n = 70000;  // more than two blocks
    fmt::Shape s;
    s.vertices = Points::Random(n, 3) * 100;
    s.normals = Points::Random(n, 3);
    fmt::write_ply(d.name("in.ply"), s);
    fmt::write_npy(d.name("in.npy"), s.vertices);
    Points table = Points::Random(n, 5);
    fmt::write_npy(d.name("tab.npy"), table);
    // A float32 big-endian NPY, converted exactly to float64.
    std::string f4;
    for (int i = 0; i < 300; ++i) put<float>(f4, static_cast<float>(i) * 0.25f, true);
    d.file("f4.npy", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (100, 3), }", f4));

    fmt::StreamSummary sum;
    REQUIRE(fmt::convert_streaming(d.name("in.ply"), "", d.name("a.h5"), sum));
    CHECK(sum.points == n);
    CHECK(sum.normals);
    auto a = orbit::io::read_point_sets(d.name("a.h5"));
    CHECK(a[0].points == s.vertices);
    CHECK(a[0].normals == s.normals);
    REQUIRE(fmt::convert_streaming(d.name("a.h5"), "", d.name("b.ply"), sum));
    fmt::Shape b = fmt::read_ply(d.name("b.ply"));
    CHECK(b.vertices == s.vertices);
    CHECK(b.normals == s.normals);
    REQUIRE(fmt::convert_streaming(d.name("a.h5"), "", d.name("c.npy"), sum));
    CHECK(fmt::read_npy(d.name("c.npy")).vertices == s.vertices);
    REQUIRE(fmt::convert_streaming(d.name("in.npy"), "", d.name("d.h5"), sum));
    CHECK(orbit::io::read_point_sets(d.name("d.h5"))[0].points == s.vertices);
    REQUIRE(fmt::convert_streaming(d.name("tab.npy"), "", d.name("t.h5"), sum));
    CHECK(sum.dimension == 5);
    CHECK(orbit::io::read_point_sets(d.name("t.h5"))[0].points == table);
    REQUIRE(fmt::convert_streaming(d.name("t.h5"), "/points", d.name("t.npy"), sum));
    CHECK(fmt::read_npy(d.name("t.npy")).vertices == table);
    REQUIRE(fmt::convert_streaming(d.name("f4.npy"), "", d.name("f4.h5"), sum));
    CHECK(orbit::io::read_point_sets(d.name("f4.h5"))[0].points == fmt::read_npy(d.name("f4.npy")).vertices);
    CHECK(orbit::io::read_point_sets(d.name("f4.h5"))[0].points(99, 2) == 299 * 0.25);

    // Not for this path: ascii inputs, meshes, streams, CSV outputs, 5-D to PLY.
    std::size_t before = d.entries();
    fmt::Shape mesh = s;
    mesh.faces.resize(1, 3);
    mesh.faces << 0, 1, 2;
    fmt::write_ply(d.name("mesh.ply"), mesh);
    CHECK_FALSE(fmt::convert_streaming(d.name("mesh.ply"), "", d.name("x.h5"), sum));
    CHECK_FALSE(fmt::convert_streaming(d.name("in.npy"), "", d.name("x.csv"), sum));
    CHECK_FALSE(fmt::convert_streaming("-", "", d.name("x.h5"), sum));
    CHECK_FALSE(fmt::convert_streaming(d.name("tab.npy"), "", d.name("x.ply"), sum));
    CHECK(d.entries() == before + 1);  // only mesh.ply was added

    // A NaN in the third block: an error naming the row, and no output.
    Points bad = s.vertices;
    bad(66000, 1) = std::nan("");
    fmt::write_npy(d.name("bad.npy"), bad);
    before = d.entries();
    CHECK(contains(error_of([&] { fmt::convert_streaming(d.name("bad.npy"), "", d.name("bad.h5"), sum); }), "row 66000"));
    CHECK(contains(error_of([&] { fmt::convert_streaming(d.name("bad.npy"), "", d.name("bad.ply"), sum); }), "row 66000"));
    CHECK(d.entries() == before);
}

TEST_CASE("OFF, PCD and XYZ writers read back exactly") {
    TempDir d;
    fmt::Shape s;
    s.vertices.resize(4, 3);
    s.vertices << 0.1, -2.5e-17, 3, 1.0 / 3.0, 0, 0, 0, 1e300, 0, 0, 0, -7.125;
    s.normals = Points::Zero(4, 3);
    s.normals.col(2).setOnes();
    s.faces.resize(2, 3);
    s.faces << 0, 1, 2, 0, 2, 3;
    fmt::write_shape(d.name("m.off"), s);
    fmt::Shape off = fmt::read_off(d.name("m.off"));
    CHECK(off.vertices == s.vertices);
    CHECK(off.normals == s.normals);
    CHECK(off.faces == s.faces);
    for (const char* name : {"m.pcd", "m.xyz", "m.pts"}) {
        fmt::write_shape(d.name(name), s);
        fmt::Shape r = fmt::read_shape(d.name(name));
        CHECK(r.vertices == s.vertices);
        CHECK(r.normals == s.normals);
        CHECK(r.faces.rows() == 0);
    }
    fmt::Shape flat;
    flat.vertices = Points::Ones(3, 2);
    CHECK(contains(error_of([&] { fmt::write_shape(d.name("f.off"), flat); }), "expected points of shape [N,3]"));
    CHECK(contains(error_of([&] { fmt::write_shape(d.name("f.pcd"), flat); }), "as PCD"));
    fmt::Shape bad = s;
    bad.faces(1, 2) = 4;
    CHECK(contains(error_of([&] { fmt::write_shape(d.name("b.off"), bad); }), "outside 0..3"));
    CHECK(!std::filesystem::exists(d.name("f.off")));
    CHECK(!std::filesystem::exists(d.name("b.off")));
}
