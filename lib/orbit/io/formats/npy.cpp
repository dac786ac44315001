// NPY (versions 1-3; float32/float64 and integers, either byte order, C order): reader and writer.
#include "orbit/io/formats/npy.hpp"

#include <cstring>
#include <limits>
#include <string_view>

#include "orbit/core/error.hpp"
#include "orbit/core/memory.hpp"
#include "orbit/io/formats/text.hpp"

namespace orbit::io::formats {
namespace {

// The value after 'KEY': (or "KEY":) in the header dictionary.
std::string_view dict_value(std::string_view h, const std::string& key, const std::string& name) {
    std::string quoted = "'" + key + "'";
    auto k = h.find(quoted);
    if (k == std::string_view::npos) k = h.find(quoted = "\"" + key + "\"");
    if (k == std::string_view::npos) throw Error(name + ": NPY header has no '" + key + "' entry");
    auto colon = h.find(':', k + quoted.size());
    if (colon == std::string_view::npos) throw Error(name + ": malformed NPY header");
    return trim(h.substr(colon + 1));
}

// "(4, 3)", "(4,3)", "(12,)", "()".
std::vector<u64> parse_shape(std::string_view sh, const std::string& name) {
    if (sh.empty() || sh[0] != '(') throw Error(name + ": malformed NPY shape");
    auto close = sh.find(')');
    if (close == std::string_view::npos) throw Error(name + ": malformed NPY shape");
    std::vector<u64> shape;
    std::string_view inner = sh.substr(1, close - 1);
    std::size_t start = 0;
    while (start <= inner.size()) {
        auto comma = inner.find(',', start);
        std::string_view f = trim(inner.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        long long n;
        if (!f.empty()) {
            if (!parse_int(f, n) || n < 0) throw Error(name + ": malformed NPY shape " + quote(sh.substr(0, close + 1)));
            shape.push_back(static_cast<u64>(n));
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return shape;
}

// '<f8' and friends: the element kind and whether it is stored big-endian.
Kind parse_dtype(const std::string& descr, bool& big, const std::string& name) {
    if (descr.size() < 3) throw Error(name + ": unsupported NPY dtype '" + descr + "'");
    const char order = descr[0];
    big = order == '>';
    if (order != '<' && order != '>' && order != '|' && order != '=')
        throw Error(name + ": unsupported NPY dtype '" + descr + "'");
    static const std::pair<const char*, Kind> codes[] = {
        {"f4", Kind::f32}, {"f8", Kind::f64}, {"i1", Kind::i8},  {"u1", Kind::u8},  {"i2", Kind::i16},
        {"u2", Kind::u16}, {"i4", Kind::i32}, {"u4", Kind::u32}, {"i8", Kind::i64}, {"u8", Kind::u64}};
    const std::string code = descr.substr(1);
    for (auto& [c, k] : codes)
        if (code == c) return k;
    throw Error(name + ": unsupported NPY dtype '" + descr + "' (expected float32, float64 or an integer type)");
}

// The header dictionary of an NPY image: [start, start + length).
std::string_view header_dict(const char* b, std::size_t size, const std::string& name) {
    if (size < 10 || std::memcmp(b, "\x93NUMPY", 6) != 0) throw Error(name + ": not an NPY file (bad magic)");
    const int major = static_cast<unsigned char>(b[6]);
    std::size_t hlen, hstart;
    if (major == 1) {
        hlen = static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {  // 3: the same with a UTF-8 dictionary
        if (size < 12) throw Error(name + ": NPY header is truncated");
        hlen = 0;
        for (int i = 0; i < 4; ++i) hlen |= static_cast<std::size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
        hstart = 12;
    } else {
        throw Error(name + ": unsupported NPY version " + std::to_string(major));
    }
    if (hlen > size - hstart) throw Error(name + ": NPY header is truncated");
    return std::string_view(b + hstart, hlen);
}

}  // namespace

NpyArray parse_npy(const char* b, std::size_t size, const std::string& name, std::size_t max_rank) {
    const std::string_view h = header_dict(b, size, name);
    NpyArray a;
    std::string_view d = dict_value(h, "descr", name);
    if (d.size() < 2 || (d[0] != '\'' && d[0] != '"')) throw Error(name + ": malformed NPY dtype");
    auto dq = d.find(d[0], 1);
    if (dq == std::string_view::npos) throw Error(name + ": malformed NPY dtype");
    a.descr = std::string(d.substr(1, dq - 1));
    std::string_view fo = dict_value(h, "fortran_order", name);
    if (fo.substr(0, 4) == "True") throw Error(name + ": Fortran-order NPY arrays are not supported (save with C order)");
    if (fo.substr(0, 5) != "False") throw Error(name + ": malformed NPY header (fortran_order)");
    a.shape = parse_shape(dict_value(h, "shape", name), name);
    bool big = false;
    a.kind = parse_dtype(a.descr, big, name);
    const auto& shape = a.shape;
    if (shape.empty() || shape.size() > max_rank)
        throw Error(name + ": expected an NPY array of rank 1 " + (max_rank == 3 ? "to 3" : "or 2") + ", found shape " +
                    shape_string(shape));
    a.rows = shape[0];
    a.cols = shape.size() >= 2 ? shape.back() : 1;
    if (shape.size() == 3 && !exceeds(shape[0], shape[1], std::numeric_limits<u64>::max())) a.rows = shape[0] * shape[1];
    else if (shape.size() == 3) throw Error(name + ": shape " + shape_string(shape) + " is too large");
    if (a.rows == 0 || a.cols == 0) throw Error(name + ": array is empty, shape " + shape_string(shape));
    const std::size_t s = kind_size(a.kind);
    const std::size_t avail = size - static_cast<std::size_t>(h.data() + h.size() - b);
    const bool huge = exceeds(a.rows, a.cols, avail) || exceeds(a.rows * a.cols, s, avail);
    if (huge || a.rows * a.cols * s != avail)
        throw Error(name + ": shape " + shape_string(shape) + " of " + a.descr + " needs " +
                    (huge ? std::string("more than ") + std::to_string(avail) : std::to_string(a.rows * a.cols * s)) +
                    " bytes of data, the file holds " + std::to_string(avail));
    a.data = h.data() + h.size();
    a.swap = (big != !host_little()) && s > 1 && a.descr[0] != '|';
    return a;
}

Points npy_values(const NpyArray& a, const std::string& name) {
    Points out(static_cast<Eigen::Index>(a.rows), static_cast<Eigen::Index>(a.cols));
    double* o = out.data();
    const std::size_t n = a.rows * a.cols, s = kind_size(a.kind);
    advise_huge_pages(o, n * sizeof(double));
    if (a.kind == Kind::f64 && !a.swap) std::memcpy(o, a.data, n * 8);
    else if (a.kind == Kind::f32 && !a.swap)
        for (std::size_t i = 0; i < n; ++i) o[i] = load<float>(a.data + 4 * i, false);
    else
        for (std::size_t i = 0; i < n; ++i) o[i] = load_value(a.data + s * i, a.kind, a.swap);
    check_values(out, name, "row");
    return out;
}

Input npy_input(const NpyArray& a, const std::string& name) {
    Points rows = npy_values(a, name);
    Input in;
    const bool batch = a.shape.size() == 3;
    const auto b = static_cast<Eigen::Index>(batch ? a.shape[0] : 1);
    const Eigen::Index n = rows.rows() / b;
    if (b == 1) in.sets.items.push_back(PointSet{std::move(rows), {}, {}, {}});
    else
        for (Eigen::Index i = 0; i < b; ++i) in.sets.items.push_back(PointSet{rows.middleRows(i * n, n), {}, {}, {}});
    in.sets.layout = batch ? PointSets::Layout::batch : PointSets::Layout::single;
    in.sets.source = name;
    return in;
}

namespace {

struct NpySource : RowSource {
    std::shared_ptr<const MappedFile> file;  // keeps `data` alive
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

}  // namespace

std::unique_ptr<RowSource> npy_row_source(std::shared_ptr<const MappedFile> file, const NpyArray& a,
                                          const std::string& name) {
    if (a.shape.size() == 3) return nullptr;  // a batch: read whole
    auto src = std::make_unique<NpySource>();
    src->file = std::move(file);
    src->data = a.data;
    src->kind = a.kind;
    src->swap = a.swap;
    src->rows = static_cast<std::size_t>(a.rows);
    src->dim = static_cast<std::size_t>(a.cols);
    src->name = name;
    return src;
}

Shape read_npy(const std::string& path) {
    MappedFile bytes(path);
    Shape out;
    out.vertices = npy_values(parse_npy(bytes.begin(), bytes.size(), path, 2), path);
    return out;
}

std::string npy_header(const std::vector<std::size_t>& shape) {
    std::string dims;
    for (std::size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) dims += ",";  // a Python 1-tuple
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
    // Magic (6) + version (2) + length (2) + dict, padded with spaces to a multiple of 64, ending in '\n'.
    dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
    dict += '\n';
    if (dict.size() > 65535) throw Error("NPY header too long for shape " + shape_string(shape));
    std::string header("\x93NUMPY\x01\x00", 8);
    header += static_cast<char>(dict.size() & 0xff);
    header += static_cast<char>(dict.size() >> 8);
    return header + dict;
}

void write_npy(const std::string& path, const double* data, const std::vector<std::size_t>& shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::string header;
    try {
        header = npy_header(shape);
    } catch (const Error& e) {
        throw Error("cannot write '" + path + "': " + e.what());
    }
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

const Format& npy_format() {
    static const Format f{
        .name = "NPY",
        .extensions = {".npy"},
        .read = [](const Source& s) { return read_npy(s.path); },
        .read_input =
            [](const Source& s) {
                MappedFile bytes(s.path);
                return npy_input(parse_npy(bytes.begin(), bytes.size(), s.path, 3), s.path);
            },
        .open_rows =
            [](const Source& s) {
                auto file = std::make_shared<const MappedFile>(s.path);
                return npy_row_source(file, parse_npy(file->begin(), file->size(), s.path, 3), s.path);
            },
        .write = [](const std::string& path, const Shape& shape) { write_npy(path, shape.vertices); }};
    return f;
}

}  // namespace orbit::io::formats
