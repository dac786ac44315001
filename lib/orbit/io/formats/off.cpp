// OFF, COFF, NOFF, CNOFF (ascii): vertices, optional normals, polygons fan-triangulated.
#include "orbit/core/error.hpp"
#include "orbit/io/formats/bytes.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/text.hpp"
#include "orbit/io/formats/values.hpp"

namespace orbit::io::formats {
namespace {

// Lines with content, comments removed, split into tokens.
struct Content {
    Lines lines;
    std::string_view line;
    std::vector<std::string_view> t;
    bool next() {
        while (lines.next(line)) {
            auto hash = line.find('#');
            if (hash != std::string_view::npos) line = line.substr(0, hash);
            split_ws(line, t);
            if (!t.empty()) return true;
        }
        return false;
    }
};

struct OffHeader {
    bool normals = false;
    long long vertices = 0, faces = 0;
};

// The keyword line (optional: a file may start with the counts) and the counts.
OffHeader parse_header(Content& in, const char* end, const std::string& path) {
    if (!in.next()) throw Error(path + ": no OFF header");
    OffHeader h;
    std::size_t first = 0;
    std::string_view key = in.t[0];
    if (key.size() >= 3 && key.substr(key.size() - 3) == "OFF") {
        std::string_view prefix = key.substr(0, key.size() - 3);
        for (char c : prefix) {
            if (c == 'N') h.normals = true;
            else if (c == 'C' || c == 'S' || c == 'T') continue;  // colours, texture coordinates: ignored
            else throw Error(at_line(path, in.lines.line) + "unsupported OFF variant " + quote(key));
        }
        if (prefix.find('S') != std::string_view::npos || prefix.find('T') != std::string_view::npos)
            throw Error(at_line(path, in.lines.line) + "texture coordinates (STOFF) are not supported");
        if (in.t.size() > 1 && in.t[1] == "BINARY") throw Error(at_line(path, in.lines.line) + "binary OFF is not supported");
        if (in.t.size() > 1) {
            first = 1;  // counts on the keyword's line
        } else if (!in.next()) {
            throw Error(path + ": OFF header has no counts line");
        }
    } else {
        long long dummy;
        if (!parse_int(key, dummy)) throw Error(path + ": not an OFF file (first word is " + quote(key) + ")");
    }
    const std::string where = at_line(path, in.lines.line);
    if (in.t.size() < first + 2) throw Error(where + "expected 'vertices faces edges', found " + quote(in.line));
    if (!parse_int(in.t[first], h.vertices) || !parse_int(in.t[first + 1], h.faces) || h.vertices < 0 || h.faces < 0)
        throw Error(where + "expected vertex and face counts, found " + quote(in.line));
    if (h.vertices == 0) throw Error(where + "the file declares 0 vertices");
    // Each vertex needs at least 3 numbers and each face 4, every number one
    // character plus a separator: check against the size before allocating.
    const u64 remain = static_cast<u64>(end - in.lines.p);
    const auto nv = static_cast<u64>(h.vertices), nf = static_cast<u64>(h.faces);
    if (exceeds(nv, 6, remain + 1) || exceeds(nf, 8, remain + 1) || nv * 6 + nf * 8 > remain + 1)
        throw Error(where + "header declares " + std::to_string(h.vertices) + " vertices and " + std::to_string(h.faces) +
                    " faces, more than the remaining " + std::to_string(remain) + " bytes can hold");
    return h;
}

std::vector<std::int64_t> read_faces(Content& in, const OffHeader& h, const std::string& path) {
    std::vector<std::int64_t> tris;
    tris.reserve(static_cast<std::size_t>(h.faces) * 3);
    std::vector<std::int64_t> poly;
    for (long long i = 0; i < h.faces; ++i) {
        if (!in.next())
            throw Error(path + ": file ends after " + std::to_string(i) + " of " + std::to_string(h.faces) + " faces");
        const std::string_view first = in.t[0];
        long long n;
        if (!parse_int(first, n) || n < 0) throw Error(at_line(path, in.lines.line) + "expected a corner count, found " + quote(first));
        if (in.t.size() < static_cast<std::size_t>(n) + 1)
            throw Error(at_line(path, in.lines.line) + "face " + std::to_string(i) + " declares " + std::to_string(n) +
                        " corners but lists " + std::to_string(in.t.size() - 1));
        poly.resize(static_cast<std::size_t>(n));
        for (long long k = 0; k < n; ++k) {
            const std::string_view tok = in.t[static_cast<std::size_t>(k) + 1];
            long long idx;
            if (!parse_int(tok, idx)) throw Error(at_line(path, in.lines.line) + "expected a vertex index, found " + quote(tok));
            if (idx < 0 || idx >= h.vertices)
                throw Error(at_line(path, in.lines.line) + "face " + std::to_string(i) + " refers to vertex " +
                            std::to_string(idx) + ", outside 0.." + std::to_string(h.vertices - 1));
            poly[static_cast<std::size_t>(k)] = idx;
        }
        add_polygon(tris, poly.data(), poly.size());
    }
    return tris;
}

}  // namespace

Shape read_off(const std::string& path) {
    MappedFile bytes(path);
    Content in{Lines(bytes.begin(), bytes.end()), {}, {}};
    const OffHeader h = parse_header(in, bytes.end(), path);
    const std::size_t cols = h.normals ? 6 : 3;
    std::vector<double> v(static_cast<std::size_t>(h.vertices) * cols);
    for (long long i = 0; i < h.vertices; ++i) {
        if (!in.next())
            throw Error(path + ": file ends after " + std::to_string(i) + " of " + std::to_string(h.vertices) + " vertices");
        if (in.t.size() < cols)
            throw Error(at_line(path, in.lines.line) + "vertex " + std::to_string(i) + " needs " + std::to_string(cols) +
                        " numbers, found " + std::to_string(in.t.size()));
        for (std::size_t j = 0; j < cols; ++j)
            v[static_cast<std::size_t>(i) * cols + j] = finite_number(in.t[j], path, in.lines.line);
    }
    const std::vector<std::int64_t> tris = read_faces(in, h, path);
    Shape shape;
    Points all = to_points(v, static_cast<std::size_t>(h.vertices), cols);
    shape.vertices = all.leftCols(3);
    if (h.normals) shape.normals = all.rightCols(3);
    shape.faces = to_faces(tris);
    return shape;
}

// OFF (NOFF with normals): the vertices, then the triangles; a point cloud has no faces.
void write_off(const std::string& path, const Shape& shape) {
    const auto n = shape.vertices.rows();
    const bool normals = check_3d_for_writing(shape.vertices, shape.normals, shape.faces, path, "OFF");
    const std::string head = std::string(normals ? "NOFF\n" : "OFF\n") + std::to_string(n) + " " +
                             std::to_string(shape.faces.rows()) + " 0\n";
    std::string faces;
    for (Eigen::Index f = 0; f < shape.faces.rows(); ++f)
        faces += "3 " + std::to_string(shape.faces(f, 0)) + " " + std::to_string(shape.faces(f, 1)) + " " +
                 std::to_string(shape.faces(f, 2)) + "\n";
    write_text_rows(path, head, shape.vertices, normals ? shape.normals : Points(), ' ', faces);
}

const Format& off_format() {
    static const Format f{
        .name = "OFF", .extensions = {".off"}, .read = [](const Source& s) { return read_off(s.path); }, .write = write_off};
    return f;
}

}  // namespace orbit::io::formats
