#include "orbit/io/formats.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string_view>

#include "orbit/core/error.hpp"
#include "orbit/core/memory.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/output.hpp"

namespace orbit::io::formats {
namespace {

using u64 = std::uint64_t;

// ---------------------------------------------------------------------------
// Whole-file input: one read, no initialisation of the buffer.

// The file is mapped rather than copied: reading a large binary file then
// costs no more than the conversion into the destination matrix.
struct Bytes {
    const char* ptr = nullptr;
    std::size_t size = 0;
    Bytes() = default;
    Bytes(const Bytes&) = delete;
    Bytes& operator=(const Bytes&) = delete;
    ~Bytes() {
        if (ptr) ::munmap(const_cast<char*>(ptr), size);
    }
    const char* begin() const { return ptr; }
    const char* end() const { return ptr + size; }
};

void read_all(const std::string& path, Bytes& b) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error("cannot read '" + path + "': not a regular file");
    }
    if (st.st_size == 0) {
        ::close(fd);
        throw Error(path + ": file is empty");
    }
    void* m = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    int err = errno;
    ::close(fd);
    if (m == MAP_FAILED) throw Error("cannot read '" + path + "': " + std::strerror(err));
    ::madvise(m, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
    b.ptr = static_cast<const char*>(m);
    b.size = static_cast<std::size_t>(st.st_size);
}

// Receives the bytes of an output in pieces.
using Put = std::function<void(const char*, std::size_t)>;

// Writes what `produce` emits to a temporary file in the destination folder,
// then renames it into place; on any failure the temporary file is removed.
void write_atomic(const std::string& path, const std::function<void(const Put&)>& produce) {
    TempFile temp(path);  // removed on failure and on SIGINT/SIGTERM/SIGHUP
    int fd = ::open(temp.name().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) throw Error("cannot write '" + path + "': " + std::strerror(errno));
    bool ok = true;
    int err = 0;
    Put put = [&](const char* p, std::size_t n) {
        while (ok && n > 0) {
            ssize_t w = ::write(fd, p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                ok = false;
                err = w < 0 ? errno : ENOSPC;
                return;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    };
    try {
        produce(put);
    } catch (...) {
        ::close(fd);
        throw;
    }
    if (::close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) throw Error("cannot write '" + path + "': " + std::strerror(err));
    temp.commit();
}

// Collects small writes into 1 MiB pieces, so large outputs need no
// full-size staging buffer.
class Chunks {
public:
    explicit Chunks(const Put& put) : put_(put), buf_(kSize) {}
    ~Chunks() = default;
    // Room for at least n more bytes; flushes when needed.
    char* reserve(std::size_t n) {
        if (used_ + n > buf_.size()) flush();
        if (n > buf_.size()) buf_.resize(n);
        return buf_.data() + used_;
    }
    void commit(char* end) { used_ = static_cast<std::size_t>(end - buf_.data()); }
    void flush() {
        if (used_) put_(buf_.data(), used_);
        used_ = 0;
    }

private:
    static constexpr std::size_t kSize = 1 << 20;
    const Put& put_;
    std::vector<char> buf_;
    std::size_t used_ = 0;
};

// ---------------------------------------------------------------------------
// Text scanning helpers.

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Parses a whole token as a double; accepts a leading '+'. Returns false when it is not a number.
bool parse_double(std::string_view tok, double& v) {
    const char* b = tok.data();
    const char* e = b + tok.size();
    if (b != e && *b == '+') ++b;
    if (b == e) return false;
    auto r = std::from_chars(b, e, v);
    return r.ec == std::errc() && r.ptr == e;
}

bool parse_int(std::string_view tok, long long& v) {
    const char* b = tok.data();
    const char* e = b + tok.size();
    if (b != e && *b == '+') ++b;
    if (b == e) return false;
    auto r = std::from_chars(b, e, v);
    return r.ec == std::errc() && r.ptr == e;
}

// Splits a line on whitespace.
void split_ws(std::string_view line, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0, n = line.size();
    while (i < n) {
        while (i < n && is_space(line[i])) ++i;
        if (i >= n) break;
        std::size_t j = i;
        while (j < n && !is_space(line[j])) ++j;
        out.push_back(line.substr(i, j - i));
        i = j;
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (is_space(s.back()) || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

// Iterates over lines, counting them (1-based) for messages.
struct Lines {
    const char* p;
    const char* end;
    std::size_t line = 0;
    Lines(const char* b, const char* e) : p(b), end(e) {}
    bool next(std::string_view& out) {
        if (p >= end) return false;
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* stop = nl ? nl : end;
        out = std::string_view(p, static_cast<std::size_t>(stop - p));
        if (!out.empty() && out.back() == '\r') out.remove_suffix(1);
        p = nl ? nl + 1 : end;
        ++line;
        return true;
    }
};

std::string quote(std::string_view s) {
    std::string t(s.substr(0, 40));
    for (char& c : t)
        if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    return "'" + t + (s.size() > 40 ? "...'" : "'");
}

std::string at_line(const std::string& path, std::size_t line) { return path + ", line " + std::to_string(line) + ": "; }

double finite_number(std::string_view tok, const std::string& path, std::size_t line) {
    double v;
    if (!parse_double(tok, v)) throw Error(at_line(path, line) + "expected a number, found " + quote(tok));
    if (!std::isfinite(v))
        throw Error(at_line(path, line) + "value is " + (std::isnan(v) ? "NaN" : "infinite") + " (" + quote(tok) + ")");
    return v;
}

Points to_points(const std::vector<double>& v, std::size_t rows, std::size_t cols) {
    Points m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    if (rows * cols > 0) std::memcpy(m.data(), v.data(), rows * cols * sizeof(double));
    return m;
}

Faces to_faces(const std::vector<std::int64_t>& v) {
    Faces f(static_cast<Eigen::Index>(v.size() / 3), 3);
    if (!v.empty()) std::memcpy(f.data(), v.data(), v.size() * sizeof(std::int64_t));
    return f;
}

// count * per > limit, without overflow.
bool exceeds(u64 count, u64 per, u64 limit) {
    if (per == 0) return false;
    return count > limit / per;
}

// ---------------------------------------------------------------------------
// Binary values.

enum class Kind { i8, u8, i16, u16, i32, u32, i64, u64, f32, f64 };

std::size_t kind_size(Kind k) {
    switch (k) {
        case Kind::i8: case Kind::u8: return 1;
        case Kind::i16: case Kind::u16: return 2;
        case Kind::i32: case Kind::u32: case Kind::f32: return 4;
        default: return 8;
    }
}

template <class T>
inline T load(const char* p, bool swap) {
    T v;
    if (swap) {
        char b[sizeof(T)];
        for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = p[sizeof(T) - 1 - i];
        std::memcpy(&v, b, sizeof(T));
    } else {
        std::memcpy(&v, p, sizeof(T));
    }
    return v;
}

inline double load_value(const char* p, Kind k, bool swap) {
    switch (k) {
        case Kind::i8: return static_cast<double>(static_cast<std::int8_t>(*p));
        case Kind::u8: return static_cast<double>(static_cast<std::uint8_t>(*p));
        case Kind::i16: return load<std::int16_t>(p, swap);
        case Kind::u16: return load<std::uint16_t>(p, swap);
        case Kind::i32: return load<std::int32_t>(p, swap);
        case Kind::u32: return load<std::uint32_t>(p, swap);
        case Kind::i64: return static_cast<double>(load<std::int64_t>(p, swap));
        case Kind::u64: return static_cast<double>(load<std::uint64_t>(p, swap));
        case Kind::f32: return load<float>(p, swap);
        case Kind::f64: return load<double>(p, swap);
    }
    return 0;
}

inline std::int64_t load_integer(const char* p, Kind k, bool swap) {
    switch (k) {
        case Kind::i8: return static_cast<std::int8_t>(*p);
        case Kind::u8: return static_cast<std::uint8_t>(*p);
        case Kind::i16: return load<std::int16_t>(p, swap);
        case Kind::u16: return load<std::uint16_t>(p, swap);
        case Kind::i32: return load<std::int32_t>(p, swap);
        case Kind::u32: return load<std::uint32_t>(p, swap);
        case Kind::i64: return load<std::int64_t>(p, swap);
        case Kind::u64: return static_cast<std::int64_t>(load<std::uint64_t>(p, swap));
        case Kind::f32: return static_cast<std::int64_t>(load<float>(p, swap));
        case Kind::f64: return static_cast<std::int64_t>(load<double>(p, swap));
    }
    return 0;
}

bool is_float_kind(Kind k) { return k == Kind::f32 || k == Kind::f64; }

// Gathers `cols` fields of type T at byte offsets `offs` from fixed-size
// records into a row-major matrix. The common case (all float or all double)
// takes this path, which the compiler turns into plain loads.
template <class T>
void gather_fields(const char* base, std::size_t stride, std::size_t count, const std::vector<std::size_t>& offs,
                   bool swap, double* out, std::size_t out_stride, std::size_t out_col) {
    const std::size_t k = offs.size();
    for (std::size_t r = 0; r < count; ++r) {
        const char* rec = base + r * stride;
        double* o = out + r * out_stride + out_col;
        for (std::size_t j = 0; j < k; ++j) o[j] = static_cast<double>(load<T>(rec + offs[j], swap));
    }
}

void gather(const char* base, std::size_t stride, std::size_t count, const std::vector<std::size_t>& offs,
            const std::vector<Kind>& kinds, bool swap, double* out, std::size_t out_stride, std::size_t out_col) {
    bool same = std::all_of(kinds.begin(), kinds.end(), [&](Kind k) { return k == kinds[0]; });
    if (same && kinds[0] == Kind::f32) return gather_fields<float>(base, stride, count, offs, swap, out, out_stride, out_col);
    if (same && kinds[0] == Kind::f64) return gather_fields<double>(base, stride, count, offs, swap, out, out_stride, out_col);
    for (std::size_t r = 0; r < count; ++r) {
        const char* rec = base + r * stride;
        for (std::size_t j = 0; j < offs.size(); ++j)
            out[r * out_stride + out_col + j] = load_value(rec + offs[j], kinds[j], swap);
    }
}

// First non-finite entry of a matrix, as "row r" for messages; empty when all are finite.
std::ptrdiff_t first_non_finite(const double* v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(v[i])) return static_cast<std::ptrdiff_t>(i);
    return -1;
}

void check_values(const Points& m, const std::string& path, const std::string& what) {
    auto i = first_non_finite(m.data(), static_cast<std::size_t>(m.size()));
    if (i < 0) return;
    auto row = static_cast<std::size_t>(i) / static_cast<std::size_t>(m.cols());
    throw Error(path + ": " + what + " " + std::to_string(row) + " has a " +
                (std::isnan(m.data()[i]) ? "NaN" : "infinite") + " value");
}

bool host_little() { return std::endian::native == std::endian::little; }

// ---------------------------------------------------------------------------
// PLY

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

// Reads one ascii token from a whitespace stream, counting lines.
struct Tokens {
    const char* p;
    const char* end;
    std::size_t line;
    bool next(std::string_view& tok) {
        while (p < end && (is_space(*p) || *p == '\n')) {
            if (*p == '\n') ++line;
            ++p;
        }
        if (p >= end) return false;
        const char* s = p;
        while (p < end && !is_space(*p) && *p != '\n') ++p;
        tok = std::string_view(s, static_cast<std::size_t>(p - s));
        return true;
    }
};

// Polygons with n >= 3 corners become n-2 triangles (a fan from the first corner).
void add_polygon(std::vector<std::int64_t>& tris, const std::int64_t* idx, std::size_t n) {
    for (std::size_t k = 1; k + 1 < n; ++k) {
        tris.push_back(idx[0]);
        tris.push_back(idx[k]);
        tris.push_back(idx[k + 1]);
    }
}

}  // namespace

Shape read_ply(const std::string& path) {
    Bytes bytes;
    read_all(path, bytes);
    Lines lines(bytes.begin(), bytes.end());
    std::string_view line;
    if (!lines.next(line) || trim(line) != "ply") throw Error(path + ": not a PLY file (the first line is not 'ply')");
    enum class Format { ascii, le, be } format = Format::ascii;
    bool have_format = false, ended = false;
    std::vector<PlyElement> elements;
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
            if (t[1] == "ascii") format = Format::ascii;
            else if (t[1] == "binary_little_endian") format = Format::le;
            else if (t[1] == "binary_big_endian") format = Format::be;
            else throw Error(where + "unknown PLY format " + quote(t[1]));
            have_format = true;
        } else if (t[0] == "element") {
            long long count;
            if (t.size() != 3 || !parse_int(t[2], count) || count < 0)
                throw Error(where + "malformed element line " + quote(line));
            elements.push_back(PlyElement{std::string(t[1]), static_cast<u64>(count), {}});
        } else if (t[0] == "property") {
            if (elements.empty()) throw Error(where + "property before any element");
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
            elements.back().props.push_back(p);
        } else {
            throw Error(where + "unexpected header line " + quote(line));
        }
    }
    if (!ended) throw Error(path + ": PLY header has no 'end_header' line");
    if (!have_format) throw Error(path + ": PLY header has no 'format' line");
    const char* body = lines.p;
    const std::size_t body_size = static_cast<std::size_t>(bytes.end() - body);
    const bool swap = (format == Format::le) != host_little();

    for (auto& e : elements)
        if (e.name == "vertex") {
            auto has = [&](const char* n) {
                return std::any_of(e.props.begin(), e.props.end(), [&](const PlyProperty& p) { return p.name == n; });
            };
            if (!has("x") || !has("y") || !has("z")) throw Error(path + ": element 'vertex': expected properties x, y and z");
        }
    // Check the declared counts against the body size before allocating anything.
    {
        u64 need = 0;
        for (auto& e : elements) {
            u64 per = format == Format::ascii ? 2 * e.props.size() : e.fixed_size();
            if (e.count > 0 && per == 0) throw Error(path + ": element '" + e.name + "' has no properties");
            if (exceeds(e.count, per, body_size + 1) || need + e.count * per > body_size + 1)
                throw Error(path + ": header declares " + std::to_string(e.count) + " " + e.name + " records of at least " +
                            std::to_string(per) + " bytes, but only " + std::to_string(body_size) +
                            " bytes follow the header (truncated file or corrupt header)");
            need += e.count * per;
        }
    }

    Shape shape;
    bool have_vertices = false;
    const char* p = body;
    Tokens tokens{body, bytes.end(), lines.line + 1};
    std::vector<std::int64_t> tris;
    std::vector<std::int64_t> poly;
    for (auto& e : elements) {
        const bool is_vertex = e.name == "vertex";
        const bool is_face = e.name == "face";
        std::string what = path + ": element '" + e.name + "'";
        // Which columns we keep: x y z [nx ny nz] for vertices; the index list for faces.
        std::vector<int> column(e.props.size(), -1);
        int face_list = -1;
        std::size_t ncols = 0;
        if (is_vertex) {
            if (have_vertices) throw Error(path + ": more than one 'vertex' element");
            have_vertices = true;
            const char* names[6] = {"x", "y", "z", "nx", "ny", "nz"};
            int found[6] = {-1, -1, -1, -1, -1, -1};
            for (std::size_t i = 0; i < e.props.size(); ++i)
                for (int j = 0; j < 6; ++j)
                    if (e.props[i].name == names[j]) {
                        if (e.props[i].is_list) throw Error(what + ": property '" + names[j] + "' is a list");
                        found[j] = static_cast<int>(i);
                    }
            if (found[0] < 0 || found[1] < 0 || found[2] < 0)
                throw Error(what + ": expected properties x, y and z");
            bool normals = found[3] >= 0 && found[4] >= 0 && found[5] >= 0;
            ncols = normals ? 6 : 3;
            for (std::size_t j = 0; j < ncols; ++j) column[static_cast<std::size_t>(found[j])] = static_cast<int>(j);
            if (e.count == 0) throw Error(what + ": the file declares 0 vertices");
        } else if (is_face) {
            for (std::size_t i = 0; i < e.props.size(); ++i)
                if (e.props[i].is_list && (e.props[i].name == "vertex_indices" || e.props[i].name == "vertex_index"))
                    face_list = static_cast<int>(i);
        }
        // Vertex values go straight into the output matrices (no staging copy).
        Points verts, norms;
        if (is_vertex) {
            verts.resize(static_cast<Eigen::Index>(e.count), 3);
            advise_huge_pages(verts.data(), static_cast<std::size_t>(verts.size()) * sizeof(double));
            if (ncols == 6) {
                norms.resize(static_cast<Eigen::Index>(e.count), 3);
                advise_huge_pages(norms.data(), static_cast<std::size_t>(norms.size()) * sizeof(double));
            }
        }
        auto slot = [&](u64 r, int c) -> double& {
            return c < 3 ? verts.data()[r * 3 + static_cast<std::size_t>(c)] : norms.data()[r * 3 + static_cast<std::size_t>(c - 3)];
        };

        if (format != Format::ascii && !e.has_list()) {
            // Fixed-size records: one bounds check, then direct loads.
            std::size_t stride = e.fixed_size();
            std::size_t need = e.count * stride;
            if (need > static_cast<std::size_t>(bytes.end() - p))
                throw Error(what + ": file is truncated (" + std::to_string(e.count) + " records of " +
                            std::to_string(stride) + " bytes need " + std::to_string(need) + " bytes, " +
                            std::to_string(bytes.end() - p) + " remain)");
            if (is_vertex) {
                std::vector<std::size_t> offs(ncols);
                std::vector<Kind> kinds(ncols);
                std::size_t off = 0;
                for (std::size_t i = 0; i < e.props.size(); ++i) {
                    if (column[i] >= 0) {
                        offs[static_cast<std::size_t>(column[i])] = off;
                        kinds[static_cast<std::size_t>(column[i])] = e.props[i].kind;
                    }
                    off += kind_size(e.props[i].kind);
                }
                gather(p, stride, e.count, {offs.begin(), offs.begin() + 3}, {kinds.begin(), kinds.begin() + 3}, swap,
                       verts.data(), 3, 0);
                if (ncols == 6)
                    gather(p, stride, e.count, {offs.begin() + 3, offs.end()}, {kinds.begin() + 3, kinds.end()}, swap,
                           norms.data(), 3, 0);
            }
            p += need;
        } else if (format != Format::ascii) {
            // Records with lists: walk them one by one.
            for (u64 r = 0; r < e.count; ++r) {
                for (std::size_t i = 0; i < e.props.size(); ++i) {
                    const PlyProperty& pr = e.props[i];
                    auto remain = static_cast<std::size_t>(bytes.end() - p);
                    if (!pr.is_list) {
                        std::size_t s = kind_size(pr.kind);
                        if (s > remain) throw Error(what + ": file is truncated in record " + std::to_string(r));
                        if (column[i] >= 0) slot(r, column[i]) = load_value(p, pr.kind, swap);
                        p += s;
                        continue;
                    }
                    std::size_t cs = kind_size(pr.count_kind);
                    if (cs > remain) throw Error(what + ": file is truncated in record " + std::to_string(r));
                    std::int64_t n = load_integer(p, pr.count_kind, swap);
                    p += cs;
                    std::size_t s = kind_size(pr.kind);
                    if (n < 0 || exceeds(static_cast<u64>(n), s, remain - cs))
                        throw Error(what + ": record " + std::to_string(r) + " has a list of " + std::to_string(n) +
                                    " entries, beyond the end of the file");
                    if (static_cast<int>(i) == face_list) {
                        poly.resize(static_cast<std::size_t>(n));
                        for (std::int64_t k = 0; k < n; ++k) poly[static_cast<std::size_t>(k)] = load_integer(p + k * static_cast<std::int64_t>(s), pr.kind, swap);
                        for (auto v : poly)
                            if (v < 0 || (have_vertices && static_cast<Eigen::Index>(v) >= shape.vertices.rows()))
                                throw Error(what + ": face " + std::to_string(r) + " refers to vertex " +
                                            std::to_string(v) + ", outside 0.." +
                                            std::to_string(shape.vertices.rows() - 1));
                        add_polygon(tris, poly.data(), poly.size());
                    }
                    p += static_cast<std::size_t>(n) * s;
                }
            }
        } else {
            // ascii: whitespace-separated values, records usually one per line.
            std::string_view tok;
            auto next_value = [&](u64 r) -> std::string_view {
                if (!tokens.next(tok))
                    throw Error(what + ": file ends in record " + std::to_string(r) + " of " + std::to_string(e.count));
                return tok;
            };
            for (u64 r = 0; r < e.count; ++r) {
                for (std::size_t i = 0; i < e.props.size(); ++i) {
                    const PlyProperty& pr = e.props[i];
                    if (!pr.is_list) {
                        std::string_view v = next_value(r);
                        if (column[i] >= 0) {
                            double d;
                            if (!parse_double(v, d))
                                throw Error(at_line(path, tokens.line) + "expected a number in " + e.name + " " +
                                            std::to_string(r) + ", found " + quote(v));
                            slot(r, column[i]) = d;
                        }
                        continue;
                    }
                    long long n;
                    std::string_view c = next_value(r);
                    if (!parse_int(c, n) || n < 0)
                        throw Error(at_line(path, tokens.line) + "expected a list length in " + e.name + " " +
                                    std::to_string(r) + ", found " + quote(c));
                    if (static_cast<u64>(n) > static_cast<u64>(bytes.end() - tokens.p))
                        throw Error(at_line(path, tokens.line) + "list of " + std::to_string(n) + " entries runs past the end of the file");
                    poly.resize(static_cast<std::size_t>(n));
                    for (long long k = 0; k < n; ++k) {
                        std::string_view v = next_value(r);
                        long long idx;
                        double d;
                        if (parse_int(v, idx)) poly[static_cast<std::size_t>(k)] = idx;
                        else if (parse_double(v, d)) poly[static_cast<std::size_t>(k)] = static_cast<std::int64_t>(d);
                        else
                            throw Error(at_line(path, tokens.line) + "expected a number in " + e.name + " " +
                                        std::to_string(r) + ", found " + quote(v));
                    }
                    if (static_cast<int>(i) == face_list) {
                        for (auto v : poly)
                            if (v < 0 || (have_vertices && static_cast<Eigen::Index>(v) >= shape.vertices.rows()))
                                throw Error(at_line(path, tokens.line) + "face " + std::to_string(r) + " refers to vertex " +
                                            std::to_string(v) + ", outside 0.." + std::to_string(shape.vertices.rows() - 1));
                        add_polygon(tris, poly.data(), poly.size());
                    }
                }
            }
        }
        if (is_vertex) {
            shape.vertices = std::move(verts);
            shape.normals = std::move(norms);
            check_values(shape.vertices, path, "vertex");
            if (ncols == 6) check_values(shape.normals, path, "normal of vertex");
        }
    }
    if (!have_vertices) throw Error(path + ": no 'vertex' element in the PLY header");
    if (!tris.empty()) {
        shape.faces = to_faces(tris);
        // Faces may come before vertices in exotic files: check indices now.
        if (shape.faces.maxCoeff() >= shape.vertices.rows())
            throw Error(path + ": a face refers to vertex " + std::to_string(shape.faces.maxCoeff()) + " but there are " +
                        std::to_string(shape.vertices.rows()) + " vertices");
    }
    return shape;
}

// ---------------------------------------------------------------------------
// OFF

Shape read_off(const std::string& path) {
    Bytes bytes;
    read_all(path, bytes);
    Lines lines(bytes.begin(), bytes.end());
    std::string_view line;
    std::vector<std::string_view> t;
    // Next line with content, comments removed.
    auto next_content = [&]() -> bool {
        while (lines.next(line)) {
            auto hash = line.find('#');
            if (hash != std::string_view::npos) line = line.substr(0, hash);
            split_ws(line, t);
            if (!t.empty()) return true;
        }
        return false;
    };
    if (!next_content()) throw Error(path + ": no OFF header");
    bool normals = false;
    std::size_t first = 0;
    std::string_view key = t[0];
    if (key.size() >= 3 && key.substr(key.size() - 3) == "OFF") {
        std::string_view prefix = key.substr(0, key.size() - 3);
        for (char c : prefix) {
            if (c == 'N') normals = true;
            else if (c == 'C' || c == 'S' || c == 'T') continue;  // colours, texture coordinates: ignored
            else throw Error(at_line(path, lines.line) + "unsupported OFF variant " + quote(key));
        }
        if (prefix.find('S') != std::string_view::npos || prefix.find('T') != std::string_view::npos)
            throw Error(at_line(path, lines.line) + "texture coordinates (STOFF) are not supported");
        if (t.size() > 1 && t[1] == "BINARY") throw Error(at_line(path, lines.line) + "binary OFF is not supported");
        if (t.size() > 1) {
            first = 1;  // counts on the keyword's line
        } else if (!next_content()) {
            throw Error(path + ": OFF header has no counts line");
        }
    } else {
        long long dummy;
        if (!parse_int(key, dummy)) throw Error(path + ": not an OFF file (first word is " + quote(key) + ")");
    }
    if (t.size() < first + 2) throw Error(at_line(path, lines.line) + "expected 'vertices faces edges', found " + quote(line));
    long long nv, nf;
    if (!parse_int(t[first], nv) || !parse_int(t[first + 1], nf) || nv < 0 || nf < 0)
        throw Error(at_line(path, lines.line) + "expected vertex and face counts, found " + quote(line));
    if (nv == 0) throw Error(at_line(path, lines.line) + "the file declares 0 vertices");
    // Each vertex needs at least 3 numbers and each face 4, every number one
    // character plus a separator: check against the size before allocating.
    const u64 remain = static_cast<u64>(bytes.end() - lines.p);
    if (exceeds(static_cast<u64>(nv), 6, remain + 1) || exceeds(static_cast<u64>(nf), 8, remain + 1) ||
        static_cast<u64>(nv) * 6 + static_cast<u64>(nf) * 8 > remain + 1)
        throw Error(at_line(path, lines.line) + "header declares " + std::to_string(nv) + " vertices and " +
                    std::to_string(nf) + " faces, more than the remaining " + std::to_string(remain) +
                    " bytes can hold");
    const std::size_t cols = normals ? 6 : 3;
    std::vector<double> v(static_cast<std::size_t>(nv) * cols);
    for (long long i = 0; i < nv; ++i) {
        if (!next_content())
            throw Error(path + ": file ends after " + std::to_string(i) + " of " + std::to_string(nv) + " vertices");
        if (t.size() < cols)
            throw Error(at_line(path, lines.line) + "vertex " + std::to_string(i) + " needs " + std::to_string(cols) +
                        " numbers, found " + std::to_string(t.size()));
        for (std::size_t j = 0; j < cols; ++j) v[static_cast<std::size_t>(i) * cols + j] = finite_number(t[j], path, lines.line);
    }
    std::vector<std::int64_t> tris;
    tris.reserve(static_cast<std::size_t>(nf) * 3);
    std::vector<std::int64_t> poly;
    for (long long i = 0; i < nf; ++i) {
        if (!next_content())
            throw Error(path + ": file ends after " + std::to_string(i) + " of " + std::to_string(nf) + " faces");
        long long n;
        if (!parse_int(t[0], n) || n < 0) throw Error(at_line(path, lines.line) + "expected a corner count, found " + quote(t[0]));
        if (t.size() < static_cast<std::size_t>(n) + 1)
            throw Error(at_line(path, lines.line) + "face " + std::to_string(i) + " declares " + std::to_string(n) +
                        " corners but lists " + std::to_string(t.size() - 1));
        poly.resize(static_cast<std::size_t>(n));
        for (long long k = 0; k < n; ++k) {
            long long idx;
            if (!parse_int(t[static_cast<std::size_t>(k) + 1], idx))
                throw Error(at_line(path, lines.line) + "expected a vertex index, found " + quote(t[static_cast<std::size_t>(k) + 1]));
            if (idx < 0 || idx >= nv)
                throw Error(at_line(path, lines.line) + "face " + std::to_string(i) + " refers to vertex " + std::to_string(idx) +
                            ", outside 0.." + std::to_string(nv - 1));
            poly[static_cast<std::size_t>(k)] = idx;
        }
        add_polygon(tris, poly.data(), poly.size());
    }
    Shape shape;
    Points all = to_points(v, static_cast<std::size_t>(nv), cols);
    shape.vertices = all.leftCols(3);
    if (normals) shape.normals = all.rightCols(3);
    shape.faces = to_faces(tris);
    return shape;
}

// ---------------------------------------------------------------------------
// XYZ / PTS / TXT

Shape read_xyz(const std::string& path) {
    Bytes bytes;
    read_all(path, bytes);
    Lines lines(bytes.begin(), bytes.end());
    std::string_view line;
    std::vector<std::string_view> t;
    std::vector<double> v;
    v.reserve(bytes.size / 8);
    std::size_t cols = 0, rows = 0, first_line = 0;
    bool skipped_count = false;
    while (lines.next(line)) {
        std::string_view s = trim(line);
        if (s.empty() || s[0] == '#' || (s.size() > 1 && s[0] == '/' && s[1] == '/')) continue;
        split_ws(s, t);
        if (cols == 0) {
            long long count;
            // A leading line with a single integer is a point count (.pts files).
            if (t.size() == 1 && !skipped_count && parse_int(t[0], count) && rows == 0) {
                skipped_count = true;
                continue;
            }
            cols = t.size();
            first_line = lines.line;
        }
        if (t.size() != cols)
            throw Error(at_line(path, lines.line) + "expected " + std::to_string(cols) + " columns (as on line " +
                        std::to_string(first_line) + "), found " + std::to_string(t.size()));
        for (auto tok : t) v.push_back(finite_number(tok, path, lines.line));
        ++rows;
    }
    if (rows == 0) throw Error(path + ": contains no points");
    Shape shape;
    Points all = to_points(v, rows, cols);
    if (cols == 6) {
        shape.vertices = all.leftCols(3);
        shape.normals = all.rightCols(3);
    } else {
        shape.vertices = std::move(all);
    }
    return shape;
}

// ---------------------------------------------------------------------------
// CSV

Shape read_csv(const std::string& path) {
    Bytes bytes;
    read_all(path, bytes);
    Lines lines(bytes.begin(), bytes.end());
    std::string_view line;
    std::vector<std::string_view> fields;
    auto split = [&](std::string_view s) {
        fields.clear();
        std::size_t start = 0;
        while (true) {
            std::size_t comma = s.find(',', start);
            std::string_view f = trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
            if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
            fields.push_back(f);
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    };
    std::vector<double> v;
    v.reserve(bytes.size / 4);
    std::vector<std::string> header;
    std::size_t cols = 0, rows = 0, first_line = 0;
    bool first = true;
    while (lines.next(line)) {
        if (trim(line).empty()) continue;
        split(line);
        if (first) {
            first = false;
            double d;
            bool numeric = std::all_of(fields.begin(), fields.end(), [&](std::string_view f) { return parse_double(f, d); });
            if (!numeric) {  // a header row: names, or a description line such as scikit-learn's
                for (auto f : fields) header.emplace_back(f);
                continue;
            }
        }
        if (cols == 0) {
            cols = fields.size();
            first_line = lines.line;
        }
        if (fields.size() != cols)
            throw Error(at_line(path, lines.line) + "expected " + std::to_string(cols) + " columns (as on line " +
                        std::to_string(first_line) + "), found " + std::to_string(fields.size()));
        for (std::size_t j = 0; j < cols; ++j) {
            if (fields[j].empty())
                throw Error(at_line(path, lines.line) + "column " + std::to_string(j + 1) + " is empty");
            v.push_back(finite_number(fields[j], path, lines.line));
        }
        ++rows;
    }
    if (rows == 0) throw Error(path + ": contains no data rows");
    Shape shape;
    shape.vertices = to_points(v, rows, cols);
    // Names only when they are names: scikit-learn's first row ("150,4,setosa,...") describes the table instead.
    double d;
    bool names = header.size() == cols &&
                 std::none_of(header.begin(), header.end(), [&](const std::string& h) { return parse_double(h, d); });
    if (names) shape.columns = std::move(header);
    return shape;
}

// ---------------------------------------------------------------------------
// NPY

namespace {

// Reads an NPY array of rank 1..max_rank as rows of its last axis
// ([N] -> N x 1, [N,D] -> N x D, [B,N,D] -> B*N x D); `shape` gets the stored shape.
Points read_npy_rows(const std::string& path, std::vector<u64>& shape, std::size_t max_rank) {
    Bytes bytes;
    read_all(path, bytes);
    const char* b = bytes.begin();
    if (bytes.size < 10 || std::memcmp(b, "\x93NUMPY", 6) != 0) throw Error(path + ": not an NPY file (bad magic)");
    int major = static_cast<unsigned char>(b[6]);
    std::size_t hlen, hstart;
    if (major == 1) {
        hlen = static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size < 12) throw Error(path + ": NPY header is truncated");
        hlen = 0;
        for (int i = 0; i < 4; ++i) hlen |= static_cast<std::size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
        hstart = 12;
    } else {
        throw Error(path + ": unsupported NPY version " + std::to_string(major));
    }
    if (hlen > bytes.size - hstart) throw Error(path + ": NPY header is truncated");
    std::string_view h(b + hstart, hlen);
    auto value_of = [&](std::string_view key) -> std::string_view {
        auto k = h.find(key);
        if (k == std::string_view::npos) throw Error(path + ": NPY header has no " + std::string(key) + " entry");
        auto colon = h.find(':', k + key.size());
        if (colon == std::string_view::npos) throw Error(path + ": malformed NPY header");
        return trim(h.substr(colon + 1));
    };
    std::string_view d = value_of("'descr'");
    if (d.size() < 2 || (d[0] != '\'' && d[0] != '"')) throw Error(path + ": malformed NPY dtype");
    auto dq = d.find(d[0], 1);
    if (dq == std::string_view::npos) throw Error(path + ": malformed NPY dtype");
    std::string descr(d.substr(1, dq - 1));
    std::string_view fo = value_of("'fortran_order'");
    if (fo.substr(0, 4) == "True") throw Error(path + ": Fortran-order NPY arrays are not supported (save with C order)");
    if (fo.substr(0, 5) != "False") throw Error(path + ": malformed NPY header (fortran_order)");
    std::string_view sh = value_of("'shape'");
    if (sh.empty() || sh[0] != '(') throw Error(path + ": malformed NPY shape");
    auto close = sh.find(')');
    if (close == std::string_view::npos) throw Error(path + ": malformed NPY shape");
    shape.clear();
    {
        std::string_view inner = sh.substr(1, close - 1);
        std::size_t start = 0;
        while (start <= inner.size()) {
            auto comma = inner.find(',', start);
            std::string_view f = trim(inner.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
            long long n;
            if (!f.empty()) {
                if (!parse_int(f, n) || n < 0) throw Error(path + ": malformed NPY shape " + quote(sh.substr(0, close + 1)));
                shape.push_back(static_cast<u64>(n));
            }
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    }
    if (descr.size() < 3) throw Error(path + ": unsupported NPY dtype '" + descr + "'");
    char order = descr[0];
    bool big = order == '>';
    if (order != '<' && order != '>' && order != '|' && order != '=')
        throw Error(path + ": unsupported NPY dtype '" + descr + "'");
    Kind kind;
    std::string code = descr.substr(1);
    if (code == "f4") kind = Kind::f32;
    else if (code == "f8") kind = Kind::f64;
    else if (code == "i1") kind = Kind::i8;
    else if (code == "u1") kind = Kind::u8;
    else if (code == "i2") kind = Kind::i16;
    else if (code == "u2") kind = Kind::u16;
    else if (code == "i4") kind = Kind::i32;
    else if (code == "u4") kind = Kind::u32;
    else if (code == "i8") kind = Kind::i64;
    else if (code == "u8") kind = Kind::u64;
    else throw Error(path + ": unsupported NPY dtype '" + descr + "' (expected float32, float64 or an integer type)");
    if (shape.empty() || shape.size() > max_rank)
        throw Error(path + ": expected an NPY array of rank 1 " + (max_rank == 3 ? "to 3" : "or 2") + ", found shape " +
                    shape_string(shape));
    u64 rows = shape[0], cols = shape.size() >= 2 ? shape.back() : 1;
    if (shape.size() == 3 && !exceeds(shape[0], shape[1], std::numeric_limits<u64>::max())) rows = shape[0] * shape[1];
    else if (shape.size() == 3) throw Error(path + ": shape " + shape_string(shape) + " is too large");
    if (rows == 0 || cols == 0) throw Error(path + ": array is empty, shape " + shape_string(shape));
    const std::size_t s = kind_size(kind);
    const std::size_t avail = bytes.size - hstart - hlen;
    if (exceeds(rows, cols, avail) || exceeds(rows * cols, s, avail) || rows * cols * s != avail)
        throw Error(path + ": shape " + shape_string(shape) + " of " + descr + " needs " +
                    (exceeds(rows, cols, avail) || exceeds(rows * cols, s, avail) ? std::string("more than ") + std::to_string(avail)
                                                                                   : std::to_string(rows * cols * s)) +
                    " bytes of data, the file holds " + std::to_string(avail));
    const char* data = b + hstart + hlen;
    const bool swap = (big != !host_little()) && s > 1 && order != '|';
    Points out(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    double* o = out.data();
    const std::size_t n = rows * cols;
    advise_huge_pages(o, n * sizeof(double));
    if (kind == Kind::f64 && !swap) std::memcpy(o, data, n * 8);
    else if (kind == Kind::f32 && !swap)
        for (std::size_t i = 0; i < n; ++i) o[i] = load<float>(data + 4 * i, false);
    else
        for (std::size_t i = 0; i < n; ++i) o[i] = load_value(data + s * i, kind, swap);
    check_values(out, path, "row");
    return out;
}

}  // namespace

Shape read_npy(const std::string& path) {
    std::vector<u64> shape;
    Shape out;
    out.vertices = read_npy_rows(path, shape, 2);
    return out;
}

// ---------------------------------------------------------------------------
// PCD

Shape read_pcd(const std::string& path) {
    Bytes bytes;
    read_all(path, bytes);
    Lines lines(bytes.begin(), bytes.end());
    std::string_view line;
    std::vector<std::string_view> t;
    std::vector<std::string> fields;
    std::vector<std::size_t> sizes, counts;
    std::vector<char> types;
    long long width = -1, height = 1, points = -1;
    std::string data;
    while (lines.next(line)) {
        std::string_view s = trim(line);
        if (s.empty() || s[0] == '#') continue;
        split_ws(s, t);
        std::string where = at_line(path, lines.line);
        std::string_view key = t[0];
        auto ints = [&](std::vector<std::size_t>& out) {
            out.clear();
            for (std::size_t i = 1; i < t.size(); ++i) {
                long long n;
                if (!parse_int(t[i], n) || n <= 0) throw Error(where + "expected positive integers, found " + quote(t[i]));
                out.push_back(static_cast<std::size_t>(n));
            }
        };
        if (key == "VERSION" || key == "VIEWPOINT") continue;
        if (key == "FIELDS") {
            fields.assign(t.begin() + 1, t.end());
        } else if (key == "SIZE") {
            ints(sizes);
        } else if (key == "COUNT") {
            ints(counts);
        } else if (key == "TYPE") {
            types.clear();
            for (std::size_t i = 1; i < t.size(); ++i) {
                if (t[i].size() != 1 || (t[i][0] != 'F' && t[i][0] != 'I' && t[i][0] != 'U'))
                    throw Error(where + "unknown field type " + quote(t[i]));
                types.push_back(t[i][0]);
            }
        } else if (key == "WIDTH" || key == "HEIGHT" || key == "POINTS") {
            long long n;
            if (t.size() != 2 || !parse_int(t[1], n) || n < 0) throw Error(where + "malformed " + std::string(key) + " line");
            (key == "WIDTH" ? width : key == "HEIGHT" ? height : points) = n;
        } else if (key == "DATA") {
            if (t.size() != 2) throw Error(where + "malformed DATA line");
            data = t[1];
            break;
        } else {
            throw Error(where + "unexpected PCD header line " + quote(s));
        }
    }
    if (data.empty()) throw Error(path + ": PCD header has no DATA line");
    if (data == "binary_compressed")
        throw Error(path + ": binary_compressed PCD is not supported (save as binary or ascii, e.g. pcl_convert_pcd_ascii_binary)");
    if (data != "ascii" && data != "binary") throw Error(path + ": unknown PCD DATA kind " + quote(data));
    if (fields.empty()) throw Error(path + ": PCD header has no FIELDS line");
    if (counts.empty()) counts.assign(fields.size(), 1);
    if (sizes.size() != fields.size() || types.size() != fields.size() || counts.size() != fields.size())
        throw Error(path + ": PCD header lists " + std::to_string(fields.size()) + " FIELDS but " +
                    std::to_string(sizes.size()) + " SIZE, " + std::to_string(types.size()) + " TYPE and " +
                    std::to_string(counts.size()) + " COUNT entries");
    if (points < 0) {
        if (width < 0) throw Error(path + ": PCD header has neither POINTS nor WIDTH");
        if (height > 0 && width > std::numeric_limits<long long>::max() / height)
            throw Error(path + ": WIDTH x HEIGHT is too large");
        points = width * height;
    }
    if (points == 0) throw Error(path + ": the file declares 0 points");
    const char* names[6] = {"x", "y", "z", "normal_x", "normal_y", "normal_z"};
    int found[6] = {-1, -1, -1, -1, -1, -1};
    std::vector<Kind> kinds(fields.size());
    std::vector<std::size_t> offsets(fields.size());
    std::size_t record = 0, values_per_point = 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        std::size_t s = sizes[i];
        char ty = types[i];
        bool ok = true;
        if (ty == 'F') {
            ok = s == 4 || s == 8;
            kinds[i] = s == 4 ? Kind::f32 : Kind::f64;
        } else {
            ok = s == 1 || s == 2 || s == 4 || s == 8;
            const bool sign = ty == 'I';
            kinds[i] = s == 1 ? (sign ? Kind::i8 : Kind::u8)
                       : s == 2 ? (sign ? Kind::i16 : Kind::u16)
                       : s == 4 ? (sign ? Kind::i32 : Kind::u32)
                                : (sign ? Kind::i64 : Kind::u64);
        }
        if (!ok) throw Error(path + ": field '" + fields[i] + "' has type " + ty + " of unsupported size " + std::to_string(s));
        offsets[i] = record;
        record += s * counts[i];
        values_per_point += counts[i];
        for (int j = 0; j < 6; ++j)
            if (fields[i] == names[j]) {
                if (counts[i] != 1) throw Error(path + ": field '" + fields[i] + "' has COUNT " + std::to_string(counts[i]));
                found[j] = static_cast<int>(i);
            }
    }
    if (found[0] < 0 || found[1] < 0 || found[2] < 0)
        throw Error(path + ": expected fields x, y and z, found " + [&] {
            std::string s;
            for (auto& f : fields) s += (s.empty() ? "" : " ") + f;
            return s;
        }());
    const bool normals = found[3] >= 0 && found[4] >= 0 && found[5] >= 0;
    const std::size_t cols = normals ? 6 : 3;
    const u64 n = static_cast<u64>(points);
    const u64 remain = static_cast<u64>(bytes.end() - lines.p);
    const u64 per = data == "binary" ? record : 2 * values_per_point;
    if (exceeds(n, per, remain + 1) || (data == "binary" && n * per > remain))
        throw Error(path + ": header declares " + std::to_string(n) + " points, more than the " + std::to_string(remain) +
                    " bytes after the header can hold" + (data == "binary" ? " (file truncated?)" : ""));
    std::vector<double> v(n * cols);
    if (data == "binary") {
        std::vector<std::size_t> offs(cols);
        std::vector<Kind> ks(cols);
        for (std::size_t j = 0; j < cols; ++j) {
            offs[j] = offsets[static_cast<std::size_t>(found[j])];
            ks[j] = kinds[static_cast<std::size_t>(found[j])];
        }
        // PCL writes binary data in the machine's order, which is little endian in practice.
        gather(lines.p, record, n, offs, ks, !host_little(), v.data(), cols, 0);
        Points all = to_points(v, n, cols);
        for (Eigen::Index r = 0; r < all.rows(); ++r)
            for (Eigen::Index c = 0; c < all.cols(); ++c)
                if (!std::isfinite(all(r, c)))
                    throw Error(path + ": point " + std::to_string(r) + " has a " + (std::isnan(all(r, c)) ? "NaN" : "infinite") +
                                " value (remove invalid points before converting)");
        Shape shape;
        shape.vertices = all.leftCols(3);
        if (normals) shape.normals = all.rightCols(3);
        return shape;
    }
    // ascii: one point per line, values in field order.
    std::vector<int> column(values_per_point, -1);
    {
        std::size_t k = 0;
        for (std::size_t i = 0; i < fields.size(); ++i)
            for (std::size_t c = 0; c < counts[i]; ++c, ++k)
                for (std::size_t j = 0; j < cols; ++j)
                    if (found[j] == static_cast<int>(i)) column[k] = static_cast<int>(j);
    }
    u64 r = 0;
    while (r < n && lines.next(line)) {
        std::string_view s = trim(line);
        if (s.empty()) continue;
        split_ws(s, t);
        if (t.size() != values_per_point)
            throw Error(at_line(path, lines.line) + "expected " + std::to_string(values_per_point) + " values, found " +
                        std::to_string(t.size()));
        for (std::size_t k = 0; k < t.size(); ++k)
            if (column[k] >= 0) {
                double d;
                if (!parse_double(t[k], d)) throw Error(at_line(path, lines.line) + "expected a number, found " + quote(t[k]));
                if (!std::isfinite(d))
                    throw Error(at_line(path, lines.line) + "value is " + (std::isnan(d) ? "NaN" : "infinite") +
                                " (remove invalid points before converting)");
                v[r * cols + static_cast<std::size_t>(column[k])] = d;
            }
        ++r;
    }
    if (r < n) throw Error(path + ": file ends after " + std::to_string(r) + " of " + std::to_string(n) + " points");
    Shape shape;
    Points all = to_points(v, n, cols);
    shape.vertices = all.leftCols(3);
    if (normals) shape.normals = all.rightCols(3);
    return shape;
}

// ---------------------------------------------------------------------------
// Dispatch and writers

std::string extension(const std::string& path) {
    std::string name = std::filesystem::path(path).filename().string();
    auto dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) return "";
    std::string e = name.substr(dot);
    for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return e;
}

bool is_known(const std::string& path) {
    static const char* known[] = {".ply", ".off", ".xyz", ".pts", ".txt", ".csv", ".npy", ".pcd"};
    std::string e = extension(path);
    return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return e == k; });
}

bool is_writable(const std::string& path) {
    std::string e = extension(path);
    return e == ".ply" || e == ".csv" || e == ".npy";
}

Shape read_shape(const std::string& path) {
    std::string e = extension(path);
    if (e == ".ply") return read_ply(path);
    if (e == ".off") return read_off(path);
    if (e == ".xyz" || e == ".pts" || e == ".txt") return read_xyz(path);
    if (e == ".csv") return read_csv(path);
    if (e == ".npy") return read_npy(path);
    if (e == ".pcd") return read_pcd(path);
    throw Error(path + ": unknown format '" + e +
                "' (expected .ply .off .xyz .pts .txt .csv .npy .pcd, or an HDF5 file)");
}

Input read_input(const std::string& arg, const std::string& dataset) {
    h5::DatasetRef ref = h5::parse_ref(arg);
    if (!dataset.empty()) {
        if (!ref.dataset.empty())
            throw UsageError("give the dataset either as " + arg + " or with --dataset, not both");
        ref.dataset = dataset.front() == '/' ? dataset : "/" + dataset;
    }
    if (ref.file != "-" && !std::filesystem::exists(ref.file)) throw Error("cannot open '" + ref.file + "': no such file");
    Input in;
    if (ref.file == "-" || !ref.dataset.empty() || h5::looks_like_hdf5(ref.file)) {
        h5::File f = h5::File::open_read(ref.file);
        std::string source = ref.file == "-" ? "<stdin>" : ref.file;
        in.sets = read_point_sets(f, ref.dataset, source);
        in.hdf5 = true;
        if (ref.dataset.empty() && f.exists("/faces") && in.sets.size() == 1) {
            auto a = f.read<std::int64_t>("/faces", 2);
            if (a.shape[1] != 3) throw Error(source + ":/faces: expected shape [F,3], found " + shape_string(a.shape));
            in.faces = to_faces(a.data);
            const auto nv = in.sets[0].points.rows();
            if (in.faces.size() && (in.faces.minCoeff() < 0 || in.faces.maxCoeff() >= nv))
                throw Error(source + ":/faces: a face refers to a vertex outside 0.." + std::to_string(nv - 1));
        }
        return in;
    }
    if (extension(ref.file) == ".npy") {  // NPY may hold a batch [B,N,D]
        std::vector<u64> shape;
        Points rows = read_npy_rows(ref.file, shape, 3);
        const auto b = static_cast<Eigen::Index>(shape.size() == 3 ? shape[0] : 1);
        const Eigen::Index n = rows.rows() / b;
        if (b == 1) in.sets.items.push_back(PointSet{std::move(rows), {}, {}, {}});
        else
            for (Eigen::Index i = 0; i < b; ++i) in.sets.items.push_back(PointSet{rows.middleRows(i * n, n), {}, {}, {}});
        in.sets.layout = shape.size() == 3 ? PointSets::Layout::batch : PointSets::Layout::single;
        in.sets.source = ref.file;
        return in;
    }
    if (!is_known(ref.file))
        throw Error(ref.file + ": unknown format '" + extension(ref.file) +
                    "' (expected .ply .off .xyz .pts .txt .csv .npy .pcd, or an HDF5 file)");
    Shape shape = read_shape(ref.file);
    PointSet p;
    p.points = std::move(shape.vertices);
    p.normals = std::move(shape.normals);
    in.sets.items.push_back(std::move(p));
    in.sets.source = ref.file;
    in.faces = std::move(shape.faces);
    in.columns = std::move(shape.columns);
    return in;
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
    std::string header = "ply\nformat binary_little_endian 1.0\ncomment written by orbit\nelement vertex " + std::to_string(n) +
                         "\nproperty double x\nproperty double y\nproperty double z\n";
    if (normals) header += "property double nx\nproperty double ny\nproperty double nz\n";
    if (nf) header += "element face " + std::to_string(nf) + "\nproperty list uchar int vertex_indices\n";
    header += "end_header\n";
    write_atomic(path, [&](const Put& put) {
        put(header.data(), header.size());
        Chunks out(put);
        auto put_double = [](char* o, double d) {
            if (!host_little()) d = load<double>(reinterpret_cast<const char*>(&d), true);
            std::memcpy(o, &d, 8);
        };
        for (std::size_t i = 0; i < n; ++i) {
            char* o = out.reserve(48);
            for (int j = 0; j < 3; ++j, o += 8) put_double(o, shape.vertices(static_cast<Eigen::Index>(i), j));
            if (normals)
                for (int j = 0; j < 3; ++j, o += 8) put_double(o, shape.normals(static_cast<Eigen::Index>(i), j));
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

void write_csv(const std::string& path, const Points& table, const std::vector<std::string>& names) {
    if (table.size() == 0) throw Error("cannot write '" + path + "': the table is empty");
    std::string out;
    if (names.size() == static_cast<std::size_t>(table.cols())) {
        for (std::size_t j = 0; j < names.size(); ++j) out += (j ? "," : "") + names[j];
        out += '\n';
    }
    const auto rows = static_cast<std::size_t>(table.rows()), cols = static_cast<std::size_t>(table.cols());
    const double* v = table.data();
    write_atomic(path, [&](const Put& put) {
        put(out.data(), out.size());
        Chunks chunks(put);
        for (std::size_t i = 0; i < rows; ++i) {
            char* o = chunks.reserve(cols * 25 + 1);
            for (std::size_t j = 0; j < cols; ++j) {
                if (j) *o++ = ',';
                // Shortest text that reads back to the same double.
                o = std::to_chars(o, o + 25, v[i * cols + j]).ptr;
            }
            *o++ = '\n';
            chunks.commit(o);
        }
        chunks.flush();
    });
}

void write_npy(const std::string& path, const double* data, const std::vector<std::size_t>& shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::string dims;
    for (std::size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) dims += ",";  // a Python 1-tuple
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
    // Magic (6) + version (2) + length (2) + dict, padded with spaces to a multiple of 64, ending in '\n'.
    std::size_t total = 10 + dict.size() + 1;
    std::size_t pad = (64 - total % 64) % 64;
    dict.append(pad, ' ');
    dict += '\n';
    std::string header("\x93NUMPY\x01\x00", 8);
    if (dict.size() > 65535) throw Error("cannot write '" + path + "': NPY header too long");
    header += static_cast<char>(dict.size() & 0xff);
    header += static_cast<char>(dict.size() >> 8);
    header += dict;
    write_atomic(path, [&](const Put& put) {
        put(header.data(), header.size());
        if (host_little()) return put(reinterpret_cast<const char*>(data), n * 8);
        Chunks chunks(put);
        for (std::size_t i = 0; i < n; ++i) {
            double d = load<double>(reinterpret_cast<const char*>(data + i), true);
            char* o = chunks.reserve(8);
            std::memcpy(o, &d, 8);
            chunks.commit(o + 8);
        }
        chunks.flush();
    });
}

void write_npy(const std::string& path, const Points& table) {
    if (table.size() == 0) throw Error("cannot write '" + path + "': the array is empty");
    write_npy(path, table.data(), {static_cast<std::size_t>(table.rows()), static_cast<std::size_t>(table.cols())});
}

void write_shape(const std::string& path, const Shape& shape) {
    std::string e = extension(path);
    if (e == ".ply") return write_ply(path, shape);
    const bool normals = shape.normals.rows() == shape.vertices.rows() && shape.normals.size() > 0;
    if (e == ".csv") {
        if (!normals) {
            std::vector<std::string> names = shape.columns;
            if (names.empty() && shape.vertices.cols() == 3) names = {"x", "y", "z"};
            return write_csv(path, shape.vertices, names);
        }
        Points t(shape.vertices.rows(), shape.vertices.cols() + shape.normals.cols());
        t << shape.vertices, shape.normals;
        std::vector<std::string> names;
        if (t.cols() == 6) names = {"x", "y", "z", "nx", "ny", "nz"};
        return write_csv(path, t, names);
    }
    if (e == ".npy") return write_npy(path, shape.vertices);
    throw Error("cannot write '" + path + "': unknown output format '" + e + "' (expected .h5 .hdf5 .ply .csv .npy or -)");
}

// ---------------------------------------------------------------------------
// Block-wise conversion of one cloud.

namespace {

constexpr std::size_t kBlockRows = 1 << 15;  // 32768 rows: ~0.75 MiB per block of 3 doubles

// Where rows come from: fills `pts` (rows x dim) and `nrm` (rows x 3, when normals) for rows [begin, begin+rows).
struct RowSource {
    std::string name;
    std::size_t rows = 0, dim = 0;
    bool normals = false;
    std::vector<std::string> history;
    virtual ~RowSource() = default;
    virtual void read(std::size_t begin, std::size_t count, double* pts, double* nrm) = 0;
    // The points of rows [begin, ...) in place, when the input already holds native doubles.
    virtual const double* direct(std::size_t) const { return nullptr; }
};

struct NpySource : RowSource {
    Bytes bytes;
    const char* data = nullptr;
    Kind kind = Kind::f64;
    bool swap = false;
    const double* direct(std::size_t begin) const override {
        // Native doubles, 8-byte aligned (NPY pads its header to 64 bytes): no copy needed.
        bool ok = kind == Kind::f64 && !swap && host_little() && reinterpret_cast<std::uintptr_t>(data) % alignof(double) == 0;
        return ok ? reinterpret_cast<const double*>(data) + begin * dim : nullptr;
    }
    void read(std::size_t begin, std::size_t count, double* pts, double*) override {
        const std::size_t s = kind_size(kind), n = count * dim;
        const char* src = data + begin * dim * s;
        if (kind == Kind::f64 && !swap) std::memcpy(pts, src, n * 8);
        else
            for (std::size_t i = 0; i < n; ++i) pts[i] = load_value(src + i * s, kind, swap);
    }
};

struct PlySource : RowSource {
    Bytes bytes;
    const char* data = nullptr;
    std::size_t stride = 0;
    std::vector<std::size_t> offs;
    std::vector<Kind> kinds;
    bool swap = false;
    void read(std::size_t begin, std::size_t count, double* pts, double* nrm) override {
        const char* base = data + begin * stride;
        gather(base, stride, count, {offs.begin(), offs.begin() + 3}, {kinds.begin(), kinds.begin() + 3}, swap, pts, 3, 0);
        if (normals) gather(base, stride, count, {offs.begin() + 3, offs.end()}, {kinds.begin() + 3, kinds.end()}, swap, nrm, 3, 0);
    }
};

struct H5Source : RowSource {
    h5::File file;
    h5::Handle points, norms;
    static void read_rows(hid_t ds, std::size_t begin, std::size_t count, std::size_t cols, double* out, const std::string& what) {
        h5::Handle space(H5Dget_space(ds), H5Sclose);
        hsize_t start[2] = {begin, 0}, n[2] = {count, cols};
        h5::Handle mem(H5Screate_simple(2, n, nullptr), H5Sclose);
        if (!space || !mem || H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, n, nullptr) < 0 ||
            H5Dread(ds, H5T_NATIVE_DOUBLE, mem.get(), space.get(), H5P_DEFAULT, out) < 0)
            throw Error(what + ": cannot read rows " + std::to_string(begin) + ".." + std::to_string(begin + count - 1) +
                        " (file damaged?)");
    }
    void read(std::size_t begin, std::size_t count, double* pts, double* nrm) override {
        read_rows(points.get(), begin, count, dim, pts, name);
        if (normals) read_rows(norms.get(), begin, count, 3, nrm, name + ":/normals");
    }
};

// Shape of a numeric 2-D dataset, or false.
bool numeric_2d(hid_t file, const std::string& path, hsize_t dims[2]) {
    if (H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0) return false;
    h5::Handle ds(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds) return false;
    h5::Handle type(H5Dget_type(ds.get()), H5Tclose);
    H5T_class_t c = H5Tget_class(type.get());
    if (c != H5T_FLOAT && c != H5T_INTEGER) return false;
    h5::Handle space(H5Dget_space(ds.get()), H5Sclose);
    return H5Sget_simple_extent_ndims(space.get()) == 2 && H5Sget_simple_extent_dims(space.get(), dims, nullptr) == 2;
}

std::unique_ptr<RowSource> open_source(const std::string& arg, const std::string& dataset) {
    h5::DatasetRef ref = h5::parse_ref(arg);
    if (!dataset.empty()) {
        if (!ref.dataset.empty()) return nullptr;
        ref.dataset = dataset.front() == '/' ? dataset : "/" + dataset;
    }
    if (ref.file == "-" || !std::filesystem::is_regular_file(ref.file)) return nullptr;
    const std::string e = extension(ref.file);
    if (!ref.dataset.empty() || h5::looks_like_hdf5(ref.file)) {
        auto src = std::make_unique<H5Source>();
        src->file = h5::File::open_read(ref.file);
        hid_t f = src->file.id();
        const bool whole = ref.dataset.empty();
        const std::string path = whole ? "/points" : ref.dataset;
        hsize_t dims[2];
        if (!numeric_2d(f, path, dims) || dims[0] == 0 || dims[1] == 0) return nullptr;  // the general reader explains
        if (whole)
            for (const char* other : {"/offsets", "/faces", "/weights", "/features", "/labels"})
                if (H5Lexists(f, other, H5P_DEFAULT) > 0) return nullptr;
        src->rows = dims[0];
        src->dim = dims[1];
        src->name = ref.file + ":" + path;
        src->points = h5::Handle(H5Dopen2(f, path.c_str(), H5P_DEFAULT), H5Dclose);
        if (whole && H5Lexists(f, "/normals", H5P_DEFAULT) > 0) {
            hsize_t nd[2];
            if (!numeric_2d(f, "/normals", nd) || nd[0] != dims[0] || nd[1] != dims[1] || dims[1] != 3) return nullptr;
            src->normals = true;
            src->norms = h5::Handle(H5Dopen2(f, "/normals", H5P_DEFAULT), H5Dclose);
        }
        src->history = read_history(src->file);
        return src;
    }
    if (e == ".npy") {
        // Peek at the header through the general reader's checks, on the mapped file.
        auto src = std::make_unique<NpySource>();
        read_all(ref.file, src->bytes);
        const char* b = src->bytes.begin();
        if (src->bytes.size < 10 || std::memcmp(b, "\x93NUMPY", 6) != 0 || b[6] != 1) return nullptr;
        std::size_t hlen = static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
        if (hlen > src->bytes.size - 10) return nullptr;
        std::string_view h(b + 10, hlen);
        std::string_view descr;
        for (std::string_view d : {"'<f8'", "'<f4'", "'>f8'", "'>f4'"})
            if (h.find("'descr': " + std::string(d)) != std::string_view::npos) descr = d;
        if (descr.empty() || h.find("'fortran_order': False") == std::string_view::npos) return nullptr;
        auto sh = h.find("'shape': (");
        if (sh == std::string_view::npos) return nullptr;
        long long r = 0, c = 0;
        const char* p = h.data() + sh + 10;
        const char* end = h.data() + h.size();
        auto r1 = std::from_chars(p, end, r);
        if (r1.ec != std::errc() || r1.ptr + 2 >= end || r1.ptr[0] != ',' || r1.ptr[1] != ' ') return nullptr;
        auto r2 = std::from_chars(r1.ptr + 2, end, c);
        if (r2.ec != std::errc() || r2.ptr >= end || *r2.ptr != ')' || r <= 0 || c <= 0) return nullptr;
        src->kind = descr[2] == 'f' && descr[3] == '8' ? Kind::f64 : Kind::f32;
        src->swap = (descr[1] == '>') == host_little();
        const std::size_t avail = src->bytes.size - 10 - hlen;
        if (exceeds(static_cast<u64>(r), static_cast<u64>(c) * kind_size(src->kind), avail) ||
            static_cast<u64>(r) * static_cast<u64>(c) * kind_size(src->kind) != avail)
            return nullptr;  // the general reader gives the size error
        src->rows = static_cast<std::size_t>(r);
        src->dim = static_cast<std::size_t>(c);
        src->data = b + 10 + hlen;
        src->name = ref.file;
        return src;
    }
    if (e == ".ply") {
        // Only binary point clouds whose vertex element comes first and is fixed-size, with no faces.
        auto src = std::make_unique<PlySource>();
        read_all(ref.file, src->bytes);
        Lines lines(src->bytes.begin(), src->bytes.end());
        std::string_view line;
        std::vector<std::string_view> t;
        if (!lines.next(line) || trim(line) != "ply") return nullptr;
        bool le = false, be = false, in_vertex = false, ended = false;
        long long count = -1;
        std::vector<PlyProperty> props;
        while (lines.next(line)) {
            split_ws(line, t);
            if (t.empty() || t[0] == "comment" || t[0] == "obj_info") continue;
            if (t[0] == "end_header") {
                ended = true;
                break;
            }
            if (t[0] == "format" && t.size() == 3) {
                le = t[1] == "binary_little_endian";
                be = t[1] == "binary_big_endian";
            } else if (t[0] == "element" && t.size() == 3) {
                if (count >= 0) {
                    long long other;
                    if (!parse_int(t[2], other) || other != 0) return nullptr;  // faces or other data after the vertices
                    in_vertex = false;
                    continue;
                }
                if (t[1] != "vertex" || !parse_int(t[2], count) || count <= 0) return nullptr;
                in_vertex = true;
            } else if (t[0] == "property" && in_vertex && t.size() == 3) {
                PlyProperty pr;
                if (!ply_kind(t[1], pr.kind)) return nullptr;
                pr.name = t[2];
                props.push_back(pr);
            } else if (t[0] != "property" || in_vertex) {
                return nullptr;
            }
        }
        if (!ended || !(le || be) || count <= 0) return nullptr;
        const char* names[6] = {"x", "y", "z", "nx", "ny", "nz"};
        int found[6] = {-1, -1, -1, -1, -1, -1};
        std::size_t off = 0;
        std::vector<std::size_t> at(props.size());
        for (std::size_t i = 0; i < props.size(); ++i) {
            at[i] = off;
            off += kind_size(props[i].kind);
            for (int j = 0; j < 6; ++j)
                if (props[i].name == names[j]) found[j] = static_cast<int>(i);
        }
        if (found[0] < 0 || found[1] < 0 || found[2] < 0) return nullptr;
        src->normals = found[3] >= 0 && found[4] >= 0 && found[5] >= 0;
        for (int j = 0; j < (src->normals ? 6 : 3); ++j) {
            src->offs.push_back(at[static_cast<std::size_t>(found[j])]);
            src->kinds.push_back(props[static_cast<std::size_t>(found[j])].kind);
        }
        src->stride = off;
        const auto remain = static_cast<std::size_t>(src->bytes.end() - lines.p);
        if (exceeds(static_cast<u64>(count), off, remain)) return nullptr;  // the general reader gives the error
        src->rows = static_cast<std::size_t>(count);
        src->dim = 3;
        src->data = lines.p;
        src->swap = be == host_little();
        src->name = ref.file;
        return src;
    }
    return nullptr;
}

// The first non-finite value of a block, as an error naming the row.
void check_block(const double* v, std::size_t count, std::size_t cols, std::size_t first_row, const std::string& what) {
    auto i = first_non_finite(v, count * cols);
    if (i < 0) return;
    throw Error(what + ": row " + std::to_string(first_row + static_cast<std::size_t>(i) / cols) + " has a " +
                (std::isnan(v[i]) ? "NaN" : "infinite") + " value");
}

}  // namespace

bool convert_streaming(const std::string& input, const std::string& dataset, const std::string& output,
                       StreamSummary& summary) {
    const std::string e = extension(output);
    const bool to_h5 = e == ".h5" || e == ".hdf5" || output == "-";
    if (!(to_h5 || e == ".npy" || e == ".ply")) return false;
    std::unique_ptr<RowSource> src = open_source(input, dataset);
    if (!src) return false;
    if (e == ".ply" && src->dim != 3) return false;  // the general writer gives the error
    const std::size_t n = src->rows, d = src->dim;
    const bool normals = src->normals && e != ".npy";
    std::vector<double> pts(kBlockRows * d), nrm(src->normals ? kBlockRows * 3 : 0);
    const double* P = pts.data();  // the current block's points (in place when the input allows it)
    auto for_blocks = [&](auto&& sink) {
        for (std::size_t b = 0; b < n; b += kBlockRows) {
            const std::size_t c = std::min(kBlockRows, n - b);
            P = src->direct(b);
            if (!P) {
                src->read(b, c, pts.data(), nrm.data());
                P = pts.data();
            }
            check_block(P, c, d, b, src->name);
            if (src->normals) check_block(nrm.data(), c, 3, b, src->name + " (normals)");
            sink(b, c);
        }
    };
    if (to_h5) {
        Output out(output, "pointset");
        out.add_history_lines(src->history);
        hid_t f = out.file().id();
        auto create = [&](const char* name, std::size_t cols) {
            hsize_t dims[2] = {n, cols};
            h5::Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
            h5::Handle ds(H5Dcreate2(f, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
            if (!ds) throw Error("cannot create " + std::string(name) + " in '" + output + "'");
            return ds;
        };
        h5::Handle dp = create("/points", d), dn;
        if (normals) dn = create("/normals", 3);
        auto write_rows = [&](hid_t ds, std::size_t begin, std::size_t count, std::size_t cols, const double* v) {
            h5::Handle space(H5Dget_space(ds), H5Sclose);
            hsize_t start[2] = {begin, 0}, cnt[2] = {count, cols};
            h5::Handle mem(H5Screate_simple(2, cnt, nullptr), H5Sclose);
            if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr) < 0 ||
                H5Dwrite(ds, H5T_NATIVE_DOUBLE, mem.get(), space.get(), H5P_DEFAULT, v) < 0)
                throw Error("cannot write '" + output + "' (disk full?)");
        };
        for_blocks([&](std::size_t b, std::size_t c) {
            write_rows(dp.get(), b, c, d, P);
            if (normals) write_rows(dn.get(), b, c, 3, nrm.data());
        });
        dp.reset();
        dn.reset();
        out.commit();
    } else if (e == ".npy") {
        std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(n) + ", " +
                           std::to_string(d) + "), }";
        dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
        dict += '\n';
        std::string header("\x93NUMPY\x01\x00", 8);
        header += static_cast<char>(dict.size() & 0xff);
        header += static_cast<char>(dict.size() >> 8);
        header += dict;
        write_atomic(output, [&](const Put& put) {
            put(header.data(), header.size());
            for_blocks([&](std::size_t, std::size_t c) {
                if (!host_little()) {
                    for (std::size_t i = 0; i < c * d; ++i) pts[i] = load<double>(reinterpret_cast<const char*>(P + i), true);
                    P = pts.data();
                }
                put(reinterpret_cast<const char*>(P), c * d * 8);
            });
        });
    } else {
        std::string header = "ply\nformat binary_little_endian 1.0\ncomment written by orbit\nelement vertex " +
                             std::to_string(n) + "\nproperty double x\nproperty double y\nproperty double z\n";
        if (normals) header += "property double nx\nproperty double ny\nproperty double nz\n";
        header += "end_header\n";
        std::vector<double> rec(kBlockRows * 6);
        write_atomic(output, [&](const Put& put) {
            put(header.data(), header.size());
            for_blocks([&](std::size_t, std::size_t c) {
                const std::size_t w = normals ? 6 : 3;
                for (std::size_t i = 0; i < c; ++i) {
                    for (std::size_t j = 0; j < 3; ++j) rec[i * w + j] = P[i * 3 + j];
                    if (normals)
                        for (std::size_t j = 0; j < 3; ++j) rec[i * w + 3 + j] = nrm[i * 3 + j];
                }
                if (!host_little())
                    for (std::size_t i = 0; i < c * w; ++i) rec[i] = load<double>(reinterpret_cast<const char*>(&rec[i]), true);
                put(reinterpret_cast<const char*>(rec.data()), c * w * 8);
            });
        });
    }
    summary.points = static_cast<std::int64_t>(n);
    summary.dimension = static_cast<std::int64_t>(d);
    summary.normals = src->normals;
    return true;
}

}  // namespace orbit::io::formats
