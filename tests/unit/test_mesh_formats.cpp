// Mesh formats read through Assimp (OBJ, STL ascii and binary, glTF, GLB):
// hand-written files whose vertices, triangles and normals are known, the
// mesh path they feed (surface sampling), and damaged files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/geometry/sampling.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/io/pointset.hpp"
#include "fixtures.hpp"

namespace fmt = orbit::io::formats;
using namespace orbit::test;
using orbit::Points;

namespace {

using Corner = std::array<double, 3>;

Corner corner(const Points& v, std::int64_t i) { return {v(i, 0), v(i, 1), v(i, 2)}; }

// The triangles of a shape as sets of corner positions, whatever the vertex order.
std::multiset<std::set<Corner>> triangles(const fmt::Shape& s) {
    std::multiset<std::set<Corner>> out;
    for (Eigen::Index f = 0; f < s.faces.rows(); ++f)
        out.insert({corner(s.vertices, s.faces(f, 0)), corner(s.vertices, s.faces(f, 1)), corner(s.vertices, s.faces(f, 2))});
    return out;
}

std::set<Corner> vertex_set(const Points& v) {
    std::set<Corner> out;
    for (Eigen::Index i = 0; i < v.rows(); ++i) out.insert(corner(v, i));
    return out;
}

// A tetrahedron: its corners and its four faces, outward.
const Corner kTet[4] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
const int kTetFaces[4][3] = {{0, 2, 1}, {0, 1, 3}, {0, 3, 2}, {1, 2, 3}};

std::multiset<std::set<Corner>> tet_triangles() {
    std::multiset<std::set<Corner>> out;
    for (auto& f : kTetFaces) out.insert({kTet[f[0]], kTet[f[1]], kTet[f[2]]});
    return out;
}

std::string ascii_stl() {
    std::string s = "solid tet\n";
    for (auto& f : kTetFaces) {
        s += "facet normal 0 0 0\n outer loop\n";
        for (int k : f) s += "  vertex " + std::to_string(kTet[k][0]) + " " + std::to_string(kTet[k][1]) + " " + std::to_string(kTet[k][2]) + "\n";
        s += " endloop\nendfacet\n";
    }
    return s + "endsolid tet\n";
}

std::string binary_stl(std::uint32_t declared) {
    std::string s(80, ' ');
    s.replace(0, 13, "binary facets");  // a binary header must not start with "solid"
    put<std::uint32_t>(s, declared, false);
    for (auto& f : kTetFaces) {
        for (int k = 0; k < 3; ++k) put<float>(s, 0.f, false);  // the facet normal
        for (int c : f)
            for (int k = 0; k < 3; ++k) put<float>(s, static_cast<float>(kTet[c][k]), false);
        put<std::uint16_t>(s, 0, false);
    }
    return s;
}

std::string base64(const std::string& in) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
        out += abc[(v >> 18) & 63];
        out += abc[(v >> 12) & 63];
        out += i + 1 < in.size() ? abc[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? abc[v & 63] : '=';
    }
    return out;
}

// The tetrahedron as glTF 2.0 buffers: positions (float VEC3) then indices (uint16).
std::string tet_buffer() {
    std::string b;
    for (auto& c : kTet)
        for (double x : c) put<float>(b, static_cast<float>(x), false);
    for (auto& f : kTetFaces)
        for (int k : f) put<std::uint16_t>(b, static_cast<std::uint16_t>(k), false);
    return b;  // 48 + 24 bytes
}

// The glTF document; `uri` empty for a GLB's own binary chunk. The node moves the mesh by (10, 0, 0).
std::string gltf_json(const std::string& uri) {
    return R"({"asset":{"version":"2.0"},"scene":0,"scenes":[{"nodes":[0]}],)"
           R"("nodes":[{"mesh":0,"translation":[10,0,0]}],)"
           R"("meshes":[{"primitives":[{"attributes":{"POSITION":0},"indices":1,"mode":4}]}],)"
           R"("buffers":[{"byteLength":72)" + (uri.empty() ? std::string() : R"(,"uri":")" + uri + "\"") + "}],"
           R"("bufferViews":[{"buffer":0,"byteOffset":0,"byteLength":48,"target":34962},)"
           R"({"buffer":0,"byteOffset":48,"byteLength":24,"target":34963}],)"
           R"("accessors":[{"bufferView":0,"componentType":5126,"count":4,"type":"VEC3","min":[0,0,0],"max":[1,1,1]},)"
           R"({"bufferView":1,"componentType":5123,"count":12,"type":"SCALAR"}]})";
}

std::string glb() {
    std::string json = gltf_json("");
    while (json.size() % 4) json += ' ';
    const std::string bin = tet_buffer();
    std::string s = "glTF";
    put<std::uint32_t>(s, 2, false);
    put<std::uint32_t>(s, static_cast<std::uint32_t>(12 + 8 + json.size() + 8 + bin.size()), false);
    put<std::uint32_t>(s, static_cast<std::uint32_t>(json.size()), false);
    s += "JSON" + json;
    put<std::uint32_t>(s, static_cast<std::uint32_t>(bin.size()), false);
    s += std::string("BIN\0", 4) + bin;
    return s;
}

}  // namespace

TEST_CASE("OBJ through Assimp: polygons triangulated, normals kept, point-only files are clouds", "[formats][assimp]") {
    TempDir d;
    const std::string obj =
        "# a unit square and a triangle standing on its edge\n"
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\n"
        "vn 0 0 1\nvn 0 -1 0\n"
        "f 1//1 2//1 3//1 4//1\nf 1//2 2//2 5//2\n";
    const fmt::Shape s = fmt::read_shape(d.file("a.obj", obj));
    REQUIRE(s.faces.rows() == 3);
    // The square's diagonal is Assimp's choice: either split covers the square.
    CHECK(triangles(s).count({Corner{0, 0, 0}, Corner{1, 0, 0}, Corner{0, 0, 1}}) == 1);
    CHECK(vertex_set(s.vertices) == std::set<Corner>{{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0}, {0, 0, 1}});
    CHECK(orbit::geometry::face_areas(s.vertices, s.faces).sum() == Approx(1.5));
    REQUIRE(s.normals.rows() == s.vertices.rows());
    // Each corner keeps the normal its face gave it: the square's up, the triangle's -y.
    for (Eigen::Index f = 0; f < s.faces.rows(); ++f) {
        const bool standing = s.vertices(s.faces(f, 0), 2) + s.vertices(s.faces(f, 1), 2) + s.vertices(s.faces(f, 2), 2) > 0;
        for (int k = 0; k < 3; ++k) {
            const Eigen::RowVector3d n = s.normals.row(s.faces(f, k));
            CHECK((n - (standing ? Eigen::RowVector3d(0, -1, 0) : Eigen::RowVector3d(0, 0, 1))).norm() < 1e-12);
        }
    }
    // The same file as any tool reads it: one cloud with its faces.
    const fmt::Input in = fmt::read_input(d.name("a.obj"));
    CHECK(in.faces.rows() == 3);
    CHECK(orbit::io::read_point_sets(d.name("a.obj"))[0].points.rows() == s.vertices.rows());
    // Vertices only: a point cloud.
    const fmt::Shape p = fmt::read_shape(d.file("p.obj", "v 1 2 3\nv 4 5 6\nv -1 0.5 2\n"));
    CHECK(p.faces.rows() == 0);
    CHECK(vertex_set(p.vertices) == std::set<Corner>{{1, 2, 3}, {4, 5, 6}, {-1, 0.5, 2}});
}

TEST_CASE("STL ascii and binary through Assimp: corners joined, facet normals dropped", "[formats][assimp]") {
    TempDir d;
    for (const auto& [name, content] : {std::pair<std::string, std::string>{"a.stl", ascii_stl()}, {"b.stl", binary_stl(4)}}) {
        INFO(name);
        const fmt::Shape s = fmt::read_shape(d.file(name, content));
        CHECK(s.vertices.rows() == 4);  // 12 facet corners, 4 distinct points
        CHECK(s.normals.size() == 0);
        CHECK(vertex_set(s.vertices) == std::set<Corner>(std::begin(kTet), std::end(kTet)));
        CHECK(triangles(s) == tet_triangles());
        // The mesh path: samples lie on the surface, with unit normals.
        const auto smp = orbit::geometry::sample_surface(s.vertices, s.faces, 500, orbit::Rng(3));
        for (Eigen::Index i = 0; i < smp.points.rows(); ++i) {
            const Eigen::RowVector3d q = smp.points.row(i);
            const bool on_face = std::abs(q.x()) < 1e-12 || std::abs(q.y()) < 1e-12 || std::abs(q.z()) < 1e-12 ||
                                 std::abs(q.sum() - 1) < 1e-12;
            CHECK(on_face);
            CHECK(smp.normals.row(i).norm() == Approx(1.0));
        }
    }
    // A binary STL that declares more facets than it holds.
    const std::string m = error_of([&] { fmt::read_shape(d.file("t.stl", binary_stl(1000))); });
    CHECK(contains(m, "t.stl"));
}

TEST_CASE("glTF and GLB through Assimp: node transforms applied", "[formats][assimp]") {
    TempDir d;
    const std::string gltf = d.file("t.gltf", gltf_json("data:application/octet-stream;base64," + base64(tet_buffer())));
    const std::string bin = d.file("t.glb", glb());
    for (const std::string& path : {gltf, bin}) {
        INFO(path);
        const fmt::Shape s = fmt::read_shape(path);
        REQUIRE(s.vertices.rows() == 4);
        std::set<Corner> moved;
        for (auto& c : kTet) moved.insert({c[0] + 10, c[1], c[2]});
        CHECK(vertex_set(s.vertices) == moved);
        CHECK(s.faces.rows() == 4);
    }
}

TEST_CASE("damaged mesh files give one-line errors naming the file", "[formats][assimp]") {
    TempDir d;
    for (const auto& [name, content] :
         std::vector<std::pair<std::string, std::string>>{{"e.obj", "# nothing here\n"},
                                                          {"g.gltf", "{\"asset\": {\"version\": \"2.0\"}, \"meshes\": [ {"},
                                                          {"h.glb", "glTF\2\0\0\0\xff\0\0\0"},
                                                          {"s.stl", "solid x\nfacet normal 0 0 1\n outer loop\n  vertex 0 0\n"}}) {
        INFO(name);
        const std::string m = error_of([&] { fmt::read_shape(d.file(name, content)); });
        CHECK(contains(m, name));
    }
}
