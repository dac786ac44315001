// PLY: ascii, binary little and big endian; vertices, normals, faces. One
// header parser serves the whole-file reader and the block-wise source.
#include <algorithm>
#include <cstring>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/core/memory.hpp"
#include "orbit/io/formats/binary.hpp"
#include "orbit/io/formats/bytes.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/text.hpp"
#include "orbit/io/formats/values.hpp"

namespace orbit::io::formats {
namespace {

struct PlyProperty {
    std::string name;
    Kind kind = Kind::f32;
    bool is_list = false;
    Kind count_kind = Kind::u8;
};

struct PlyElement {
    std::string name;
    u64 count = 0;
    std::vector<PlyProperty> props;
    bool has_list() const {
        return std::any_of(props.begin(), props.end(), [](const PlyProperty& p) { return p.is_list; });
    }
    std::size_t fixed_size() const {  // bytes of the non-list part plus the list counts
        std::size_t s = 0;
        for (auto& p : props) s += p.is_list ? kind_size(p.count_kind) : kind_size(p.kind);
        return s;
    }
};

enum class Encoding { ascii, le, be };

struct PlyHeader {
    Encoding encoding = Encoding::ascii;
    std::vector<PlyElement> elements;
    const char* body = nullptr;  // the first byte after end_header
    std::size_t lines = 0;       // lines of the header; the body starts on the next
    bool swap() const { return (encoding == Encoding::le) != host_little(); }
};

bool ply_kind(std::string_view name, Kind& k) {
    static const std::pair<const char*, Kind> table[] = {
        {"char", Kind::i8},     {"int8", Kind::i8},     {"uchar", Kind::u8},     {"uint8", Kind::u8},
        {"short", Kind::i16},   {"int16", Kind::i16},   {"ushort", Kind::u16},   {"uint16", Kind::u16},
        {"int", Kind::i32},     {"int32", Kind::i32},   {"uint", Kind::u32},     {"uint32", Kind::u32},
        {"float", Kind::f32},   {"float32", Kind::f32}, {"double", Kind::f64},   {"float64", Kind::f64},
        {"int64", Kind::i64},   {"uint64", Kind::u64}};
    for (auto& [n, kind] : table)
        if (name == n) {
            k = kind;
            return true;
        }
    return false;
}

// One "property ..." line of the header.
PlyProperty parse_property(const std::vector<std::string_view>& t, std::string_view line, const std::string& where) {
    PlyProperty p;
    if (t.size() == 5 && t[1] == "list") {
        p.is_list = true;
        if (!ply_kind(t[2], p.count_kind) || !ply_kind(t[3], p.kind) || is_float_kind(p.count_kind))
            throw Error(where + "malformed list property " + quote(line));
        p.name = t[4];
    } else if (t.size() == 3) {
        if (!ply_kind(t[1], p.kind)) throw Error(where + "unknown property type " + quote(t[1]));
        p.name = t[2];
    } else {
        throw Error(where + "malformed property line " + quote(line));
    }
    return p;
}

// The declared counts against the body size, before anything is allocated.
void check_counts(const PlyHeader& h, std::size_t body_size, const std::string& path) {
    u64 need = 0;
    for (auto& e : h.elements) {
        u64 per = h.encoding == Encoding::ascii ? 2 * e.props.size() : e.fixed_size();
        if (e.count > 0 && per == 0) throw Error(path + ": element '" + e.name + "' has no properties");
        if (exceeds(e.count, per, body_size + 1) || need + e.count * per > body_size + 1)
            throw Error(path + ": header declares " + std::to_string(e.count) + " " + e.name + " records of at least " +
                        std::to_string(per) + " bytes, but only " + std::to_string(body_size) +
                        " bytes follow the header (truncated file or corrupt header)");
        need += e.count * per;
    }
}

// Parses and checks the header: its lines, the vertex element's x, y and z,
// and the declared counts against the bytes that follow.
PlyHeader parse_header(const MappedFile& bytes, const std::string& path) {
    Lines lines(bytes.begin(), bytes.end());
    std::string_view line;
    if (!lines.next(line) || trim(line) != "ply") throw Error(path + ": not a PLY file (the first line is not 'ply')");
    PlyHeader h;
    bool have_format = false, ended = false;
    std::vector<std::string_view> t;
    while (lines.next(line)) {
        split_ws(line, t);
        std::string where = at_line(path, lines.line);
        if (t.empty() || t[0] == "comment" || t[0] == "obj_info") continue;
        if (t[0] == "end_header") {
            ended = true;
            break;
        }
        if (t[0] == "format") {
            if (t.size() != 3) throw Error(where + "malformed format line " + quote(line));
            if (t[1] == "ascii") h.encoding = Encoding::ascii;
            else if (t[1] == "binary_little_endian") h.encoding = Encoding::le;
            else if (t[1] == "binary_big_endian") h.encoding = Encoding::be;
            else throw Error(where + "unknown PLY format " + quote(t[1]));
            have_format = true;
        } else if (t[0] == "element") {
            long long count;
            if (t.size() != 3 || !parse_int(t[2], count) || count < 0)
                throw Error(where + "malformed element line " + quote(line));
            h.elements.push_back(PlyElement{std::string(t[1]), static_cast<u64>(count), {}});
        } else if (t[0] == "property") {
            if (h.elements.empty()) throw Error(where + "property before any element");
            h.elements.back().props.push_back(parse_property(t, line, where));
        } else {
            throw Error(where + "unexpected header line " + quote(line));
        }
    }
    if (!ended) throw Error(path + ": PLY header has no 'end_header' line");
    if (!have_format) throw Error(path + ": PLY header has no 'format' line");
    h.body = lines.p;
    h.lines = lines.line;
    for (auto& e : h.elements)
        if (e.name == "vertex") {
            auto has = [&](const char* n) {
                return std::any_of(e.props.begin(), e.props.end(), [&](const PlyProperty& p) { return p.name == n; });
            };
            if (!has("x") || !has("y") || !has("z")) throw Error(path + ": element 'vertex': expected properties x, y and z");
        }
    check_counts(h, static_cast<std::size_t>(bytes.end() - h.body), path);
    return h;
}

// What is kept of the vertex element: x y z, and nx ny nz when all three are there.
struct VertexColumns {
    std::vector<int> column;  // per property: output column 0..5, or -1
    std::size_t count = 3;    // 3, or 6 with normals
};

VertexColumns vertex_columns(const PlyElement& e, const std::string& what) {
    const char* names[6] = {"x", "y", "z", "nx", "ny", "nz"};
    int found[6] = {-1, -1, -1, -1, -1, -1};
    for (std::size_t i = 0; i < e.props.size(); ++i)
        for (int j = 0; j < 6; ++j)
            if (e.props[i].name == names[j]) {
                if (e.props[i].is_list) throw Error(what + ": property '" + names[j] + "' is a list");
                found[j] = static_cast<int>(i);
            }
    if (found[0] < 0 || found[1] < 0 || found[2] < 0) throw Error(what + ": expected properties x, y and z");
    VertexColumns v;
    v.column.assign(e.props.size(), -1);
    v.count = found[3] >= 0 && found[4] >= 0 && found[5] >= 0 ? 6 : 3;
    for (std::size_t j = 0; j < v.count; ++j) v.column[static_cast<std::size_t>(found[j])] = static_cast<int>(j);
    return v;
}

// Where the kept vertex columns lie in a fixed-size record (no lists).
Fields vertex_fields(const PlyElement& e, const VertexColumns& v) {
    Fields f{std::vector<std::size_t>(v.count), std::vector<Kind>(v.count)};
    std::size_t off = 0;
    for (std::size_t i = 0; i < e.props.size(); ++i) {
        if (v.column[i] >= 0) {
            f.offs[static_cast<std::size_t>(v.column[i])] = off;
            f.kinds[static_cast<std::size_t>(v.column[i])] = e.props[i].kind;
        }
        off += kind_size(e.props[i].kind);
    }
    return f;
}

// Reads the body, element after element, into a Shape.
class BodyReader {
public:
    BodyReader(const PlyHeader& h, const MappedFile& bytes, const std::string& path)
        : h_(h), path_(path), end_(bytes.end()), p_(h.body), tokens_{h.body, bytes.end(), h.lines + 1} {}

    Shape read() {
        for (auto& e : h_.elements) element(e);
        if (!have_vertices_) throw Error(path_ + ": no 'vertex' element in the PLY header");
        if (!tris_.empty()) {
            shape_.faces = to_faces(tris_);
            // Faces may come before vertices in exotic files: check indices now.
            if (shape_.faces.maxCoeff() >= shape_.vertices.rows())
                throw Error(path_ + ": a face refers to vertex " + std::to_string(shape_.faces.maxCoeff()) +
                            " but there are " + std::to_string(shape_.vertices.rows()) + " vertices");
        }
        return std::move(shape_);
    }

private:
    const PlyHeader& h_;
    const std::string& path_;
    const char* end_;
    const char* p_;  // binary cursor
    Tokens tokens_;  // ascii cursor
    Shape shape_;
    bool have_vertices_ = false;
    std::vector<std::int64_t> tris_, poly_;
    // The element being read.
    const PlyElement* e_ = nullptr;
    std::string what_;
    VertexColumns cols_;
    int face_list_ = -1;  // the property holding vertex indices, or -1
    Points verts_, norms_;

    bool is_vertex() const { return e_->name == "vertex"; }
    double& slot(u64 r, int c) {
        return c < 3 ? verts_.data()[r * 3 + static_cast<std::size_t>(c)] : norms_.data()[r * 3 + static_cast<std::size_t>(c - 3)];
    }
    // Every corner of poly_ is a vertex (of those read so far).
    bool corners_ok() const {
        return std::none_of(poly_.begin(), poly_.end(), [&](std::int64_t v) {
            return v < 0 || (have_vertices_ && static_cast<Eigen::Index>(v) >= shape_.vertices.rows());
        });
    }
    std::string outside(u64 r) const {
        std::int64_t v = 0;
        for (auto c : poly_)
            if (c < 0 || (have_vertices_ && static_cast<Eigen::Index>(c) >= shape_.vertices.rows())) {
                v = c;
                break;
            }
        return "face " + std::to_string(r) + " refers to vertex " + std::to_string(v) + ", outside 0.." +
               std::to_string(shape_.vertices.rows() - 1);
    }

    void element(const PlyElement& e) {
        e_ = &e;
        what_ = path_ + ": element '" + e.name + "'";
        cols_ = VertexColumns{std::vector<int>(e.props.size(), -1), 0};
        face_list_ = -1;
        if (is_vertex()) {
            if (have_vertices_) throw Error(path_ + ": more than one 'vertex' element");
            have_vertices_ = true;
            cols_ = vertex_columns(e, what_);
            if (e.count == 0) throw Error(what_ + ": the file declares 0 vertices");
            // Values go straight into the output matrices (no staging copy).
            verts_.resize(static_cast<Eigen::Index>(e.count), 3);
            advise_huge_pages(verts_.data(), static_cast<std::size_t>(verts_.size()) * sizeof(double));
            if (cols_.count == 6) {
                norms_.resize(static_cast<Eigen::Index>(e.count), 3);
                advise_huge_pages(norms_.data(), static_cast<std::size_t>(norms_.size()) * sizeof(double));
            }
        } else if (e.name == "face") {
            for (std::size_t i = 0; i < e.props.size(); ++i)
                if (e.props[i].is_list && (e.props[i].name == "vertex_indices" || e.props[i].name == "vertex_index"))
                    face_list_ = static_cast<int>(i);
        }
        if (h_.encoding == Encoding::ascii) ascii_records();
        else if (!e.has_list()) fixed_records();
        else list_records();
        if (is_vertex()) {
            shape_.vertices = std::move(verts_);
            shape_.normals = std::move(norms_);
            check_values(shape_.vertices, path_, "vertex");
            if (cols_.count == 6) check_values(shape_.normals, path_, "normal of vertex");
        }
    }

    // Fixed-size records: one bounds check, then direct loads.
    void fixed_records() {
        const std::size_t stride = e_->fixed_size(), need = e_->count * stride;
        if (need > static_cast<std::size_t>(end_ - p_))
            throw Error(what_ + ": file is truncated (" + std::to_string(e_->count) + " records of " +
                        std::to_string(stride) + " bytes need " + std::to_string(need) + " bytes, " +
                        std::to_string(end_ - p_) + " remain)");
        if (is_vertex()) {
            Fields f = vertex_fields(*e_, cols_);
            gather(p_, stride, e_->count, f.slice(0, 3), h_.swap(), verts_.data(), 3);
            if (cols_.count == 6) gather(p_, stride, e_->count, f.slice(3, 3), h_.swap(), norms_.data(), 3);
        }
        p_ += need;
    }

    // Binary records with lists: walked one by one.
    void list_records() {
        const bool swap = h_.swap();
        for (u64 r = 0; r < e_->count; ++r)
            for (std::size_t i = 0; i < e_->props.size(); ++i) {
                const PlyProperty& pr = e_->props[i];
                auto remain = static_cast<std::size_t>(end_ - p_);
                if (!pr.is_list) {
                    std::size_t s = kind_size(pr.kind);
                    if (s > remain) throw Error(what_ + ": file is truncated in record " + std::to_string(r));
                    if (cols_.column[i] >= 0) slot(r, cols_.column[i]) = load_value(p_, pr.kind, swap);
                    p_ += s;
                    continue;
                }
                std::size_t cs = kind_size(pr.count_kind);
                if (cs > remain) throw Error(what_ + ": file is truncated in record " + std::to_string(r));
                std::int64_t n = load_integer(p_, pr.count_kind, swap);
                p_ += cs;
                std::size_t s = kind_size(pr.kind);
                if (n < 0 || exceeds(static_cast<u64>(n), s, remain - cs))
                    throw Error(what_ + ": record " + std::to_string(r) + " has a list of " + std::to_string(n) +
                                " entries, beyond the end of the file");
                if (static_cast<int>(i) == face_list_) {
                    poly_.resize(static_cast<std::size_t>(n));
                    for (std::int64_t k = 0; k < n; ++k)
                        poly_[static_cast<std::size_t>(k)] = load_integer(p_ + k * static_cast<std::int64_t>(s), pr.kind, swap);
                    if (!corners_ok()) throw Error(what_ + ": " + outside(r));
                    add_polygon(tris_, poly_.data(), poly_.size());
                }
                p_ += static_cast<std::size_t>(n) * s;
            }
    }

    std::string_view next_value(u64 r) {
        std::string_view tok;
        if (!tokens_.next(tok))
            throw Error(what_ + ": file ends in record " + std::to_string(r) + " of " + std::to_string(e_->count));
        return tok;
    }
    [[noreturn]] void not_a_number(u64 r, std::string_view v) {
        throw Error(at_line(path_, tokens_.line) + "expected a number in " + e_->name + " " + std::to_string(r) +
                    ", found " + quote(v));
    }

    // ascii: whitespace-separated values, records usually one per line.
    void ascii_records() {
        for (u64 r = 0; r < e_->count; ++r)
            for (std::size_t i = 0; i < e_->props.size(); ++i) {
                if (!e_->props[i].is_list) {
                    std::string_view v = next_value(r);
                    if (cols_.column[i] >= 0) {
                        double d;
                        if (!parse_double(v, d)) not_a_number(r, v);
                        slot(r, cols_.column[i]) = d;
                    }
                    continue;
                }
                ascii_list(r);
                if (static_cast<int>(i) == face_list_) {
                    if (!corners_ok()) throw Error(at_line(path_, tokens_.line) + outside(r));
                    add_polygon(tris_, poly_.data(), poly_.size());
                }
            }
    }

    // One ascii list into poly_.
    void ascii_list(u64 r) {
        long long n;
        std::string_view c = next_value(r);
        if (!parse_int(c, n) || n < 0)
            throw Error(at_line(path_, tokens_.line) + "expected a list length in " + e_->name + " " + std::to_string(r) +
                        ", found " + quote(c));
        if (static_cast<u64>(n) > static_cast<u64>(end_ - tokens_.p))
            throw Error(at_line(path_, tokens_.line) + "list of " + std::to_string(n) + " entries runs past the end of the file");
        poly_.resize(static_cast<std::size_t>(n));
        for (long long k = 0; k < n; ++k) {
            std::string_view v = next_value(r);
            long long idx;
            double d;
            if (parse_int(v, idx)) poly_[static_cast<std::size_t>(k)] = idx;
            else if (parse_double(v, d)) poly_[static_cast<std::size_t>(k)] = static_cast<std::int64_t>(d);
            else not_a_number(r, v);
        }
    }
};

// A binary point cloud whose only records are fixed-size vertices, read in place.
struct PlySource : RowSource {
    explicit PlySource(const std::string& path) : bytes(path) {}
    MappedFile bytes;
    const char* data = nullptr;
    std::size_t stride = 0;
    Fields fields;
    bool swap = false;
    void read(std::size_t begin, std::size_t count, double* pts, double* nrm) override {
        const char* base = data + begin * stride;
        gather(base, stride, count, fields.slice(0, 3), swap, pts, 3);
        if (normals) gather(base, stride, count, fields.slice(3, 3), swap, nrm, 3);
    }
};

std::unique_ptr<RowSource> open_ply_rows(const Source& s) {
    auto src = std::make_unique<PlySource>(s.path);
    const PlyHeader h = parse_header(src->bytes, s.path);
    // Binary, the vertex element first, fixed-size, and no other records.
    if (h.encoding == Encoding::ascii || h.elements.empty()) return nullptr;
    const PlyElement& v = h.elements.front();
    if (v.name != "vertex" || v.count == 0 || v.has_list()) return nullptr;
    for (std::size_t i = 1; i < h.elements.size(); ++i)
        if (h.elements[i].count != 0 || h.elements[i].name == "vertex") return nullptr;
    const VertexColumns cols = vertex_columns(v, s.path + ": element 'vertex'");
    src->fields = vertex_fields(v, cols);
    src->normals = cols.count == 6;
    src->stride = v.fixed_size();
    src->rows = static_cast<std::size_t>(v.count);
    src->dim = 3;
    src->data = h.body;
    src->swap = h.swap();
    src->name = s.path;
    return src;
}

}  // namespace

Shape read_ply(const std::string& path) {
    MappedFile bytes(path);
    const PlyHeader h = parse_header(bytes, path);
    return BodyReader(h, bytes, path).read();
}

std::string ply_header(std::size_t vertices, bool normals, std::size_t faces, bool colors, const std::string& label) {
    std::string header = "ply\nformat binary_little_endian 1.0\ncomment written by orbit\nelement vertex " +
                         std::to_string(vertices) + "\nproperty double x\nproperty double y\nproperty double z\n";
    if (normals) header += "property double nx\nproperty double ny\nproperty double nz\n";
    if (colors) header += "property uchar red\nproperty uchar green\nproperty uchar blue\n";
    if (!label.empty()) header += "property int " + label + "\n";
    if (faces) header += "element face " + std::to_string(faces) + "\nproperty list uchar int vertex_indices\n";
    return header + "end_header\n";
}

void write_ply(const std::string& path, const Shape& shape) {
    const auto n = static_cast<std::size_t>(shape.vertices.rows());
    if (n == 0 || shape.vertices.cols() != 3)
        throw Error("cannot write '" + path + "' as PLY: expected points of shape [N,3], found [" +
                    std::to_string(shape.vertices.rows()) + "," + std::to_string(shape.vertices.cols()) + "]");
    const bool normals = shape.normals.rows() == shape.vertices.rows() && shape.normals.cols() == 3;
    const auto nf = static_cast<std::size_t>(shape.faces.rows());
    if (nf && (shape.faces.minCoeff() < 0 || shape.faces.maxCoeff() >= static_cast<std::int64_t>(n)))
        throw Error("cannot write '" + path + "': a face refers to a vertex outside 0.." + std::to_string(n - 1));
    if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw Error("cannot write '" + path + "': too many vertices for 32-bit PLY face indices");
    const bool colors = shape.colors.rows() == shape.vertices.rows();
    const bool labels = !shape.label_name.empty();
    if (labels && shape.labels.size() != n)
        throw Error("cannot write '" + path + "': expected one '" + shape.label_name + "' per vertex");
    const std::string header = ply_header(n, normals, nf, colors, labels ? shape.label_name : "");
    write_atomic(path, [&](const Put& put) {
        put(header.data(), header.size());
        Chunks out(put);
        auto put_double = [](char* o, double d) {
            if (!host_little()) d = load<double>(reinterpret_cast<const char*>(&d), true);
            std::memcpy(o, &d, 8);
        };
        for (std::size_t i = 0; i < n; ++i) {
            char* o = out.reserve(55);
            for (int j = 0; j < 3; ++j, o += 8) put_double(o, shape.vertices(static_cast<Eigen::Index>(i), j));
            if (normals)
                for (int j = 0; j < 3; ++j, o += 8) put_double(o, shape.normals(static_cast<Eigen::Index>(i), j));
            if (colors)
                for (int j = 0; j < 3; ++j) *o++ = static_cast<char>(shape.colors(static_cast<Eigen::Index>(i), j));
            if (labels) {
                std::int32_t v = shape.labels[i];
                if (!host_little()) v = load<std::int32_t>(reinterpret_cast<const char*>(&v), true);
                std::memcpy(o, &v, 4);
                o += 4;
            }
            out.commit(o);
        }
        for (std::size_t f = 0; f < nf; ++f) {
            char* o = out.reserve(13);
            *o++ = 3;
            for (int j = 0; j < 3; ++j, o += 4) {
                auto idx = static_cast<std::int32_t>(shape.faces(static_cast<Eigen::Index>(f), j));
                if (!host_little()) idx = load<std::int32_t>(reinterpret_cast<const char*>(&idx), true);
                std::memcpy(o, &idx, 4);
            }
            out.commit(o);
        }
        out.flush();
    });
}

const Format& ply_format() {
    static const Format f{.name = "PLY",
                          .extensions = {".ply"},
                          .read = [](const Source& s) { return read_ply(s.path); },
                          .open_rows = open_ply_rows,
                          .write = write_ply};
    return f;
}

}  // namespace orbit::io::formats
