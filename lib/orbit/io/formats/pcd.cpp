// PCD (the Point Cloud Library's format): ascii and binary; x y z and normal_x/y/z kept.
#include <cmath>
#include <limits>

#include "orbit/core/error.hpp"
#include "orbit/io/formats/binary.hpp"
#include "orbit/io/formats/bytes.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/text.hpp"
#include "orbit/io/formats/values.hpp"

namespace orbit::io::formats {
namespace {

struct PcdHeader {
    std::vector<std::string> fields;
    std::vector<std::size_t> sizes, counts;
    std::vector<char> types;
    long long width = -1, height = 1, points = -1;
    std::string data;       // "ascii" or "binary"
    const char* body = nullptr;
    std::size_t lines = 0;  // header lines; the body starts on the next
};

// The header lines up to DATA, as written.
PcdHeader parse_lines(Lines& lines, const std::string& path) {
    PcdHeader h;
    std::string_view line;
    std::vector<std::string_view> t;
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
            h.fields.assign(t.begin() + 1, t.end());
        } else if (key == "SIZE") {
            ints(h.sizes);
        } else if (key == "COUNT") {
            ints(h.counts);
        } else if (key == "TYPE") {
            h.types.clear();
            for (std::size_t i = 1; i < t.size(); ++i) {
                if (t[i].size() != 1 || (t[i][0] != 'F' && t[i][0] != 'I' && t[i][0] != 'U'))
                    throw Error(where + "unknown field type " + quote(t[i]));
                h.types.push_back(t[i][0]);
            }
        } else if (key == "WIDTH" || key == "HEIGHT" || key == "POINTS") {
            long long n;
            if (t.size() != 2 || !parse_int(t[1], n) || n < 0) throw Error(where + "malformed " + std::string(key) + " line");
            (key == "WIDTH" ? h.width : key == "HEIGHT" ? h.height : h.points) = n;
        } else if (key == "DATA") {
            if (t.size() != 2) throw Error(where + "malformed DATA line");
            h.data = t[1];
            break;
        } else {
            throw Error(where + "unexpected PCD header line " + quote(s));
        }
    }
    h.body = lines.p;
    h.lines = lines.line;
    return h;
}

// Parses and checks the header: the entries agree with each other, and a point count.
PcdHeader parse_header(const MappedFile& bytes, const std::string& path) {
    Lines lines(bytes.begin(), bytes.end());
    PcdHeader h = parse_lines(lines, path);
    if (h.data.empty()) throw Error(path + ": PCD header has no DATA line");
    if (h.data == "binary_compressed")
        throw Error(path + ": binary_compressed PCD is not supported (save as binary or ascii, e.g. pcl_convert_pcd_ascii_binary)");
    if (h.data != "ascii" && h.data != "binary") throw Error(path + ": unknown PCD DATA kind " + quote(h.data));
    if (h.fields.empty()) throw Error(path + ": PCD header has no FIELDS line");
    if (h.counts.empty()) h.counts.assign(h.fields.size(), 1);
    if (h.sizes.size() != h.fields.size() || h.types.size() != h.fields.size() || h.counts.size() != h.fields.size())
        throw Error(path + ": PCD header lists " + std::to_string(h.fields.size()) + " FIELDS but " +
                    std::to_string(h.sizes.size()) + " SIZE, " + std::to_string(h.types.size()) + " TYPE and " +
                    std::to_string(h.counts.size()) + " COUNT entries");
    if (h.points < 0) {
        if (h.width < 0) throw Error(path + ": PCD header has neither POINTS nor WIDTH");
        if (h.height > 0 && h.width > std::numeric_limits<long long>::max() / h.height)
            throw Error(path + ": WIDTH x HEIGHT is too large");
        h.points = h.width * h.height;
    }
    if (h.points == 0) throw Error(path + ": the file declares 0 points");
    return h;
}

// Where x y z [normal_x normal_y normal_z] lie in a record.
struct PcdLayout {
    Fields kept;                     // the kept columns, in output order
    int found[6] = {-1, -1, -1, -1, -1, -1};  // field index of each kept column
    std::size_t cols = 3;            // 3, or 6 with normals
    std::size_t record = 0;          // bytes per binary record
    std::size_t values_per_point = 0;
};

PcdLayout layout(const PcdHeader& h, const std::string& path) {
    const char* names[6] = {"x", "y", "z", "normal_x", "normal_y", "normal_z"};
    PcdLayout l;
    std::vector<Kind> kinds(h.fields.size());
    std::vector<std::size_t> offsets(h.fields.size());
    for (std::size_t i = 0; i < h.fields.size(); ++i) {
        const std::size_t s = h.sizes[i];
        const char ty = h.types[i];
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
        if (!ok) throw Error(path + ": field '" + h.fields[i] + "' has type " + ty + " of unsupported size " + std::to_string(s));
        offsets[i] = l.record;
        l.record += s * h.counts[i];
        l.values_per_point += h.counts[i];
        for (int j = 0; j < 6; ++j)
            if (h.fields[i] == names[j]) {
                if (h.counts[i] != 1) throw Error(path + ": field '" + h.fields[i] + "' has COUNT " + std::to_string(h.counts[i]));
                l.found[j] = static_cast<int>(i);
            }
    }
    if (l.found[0] < 0 || l.found[1] < 0 || l.found[2] < 0) {
        std::string s;
        for (auto& f : h.fields) s += (s.empty() ? "" : " ") + f;
        throw Error(path + ": expected fields x, y and z, found " + s);
    }
    l.cols = l.found[3] >= 0 && l.found[4] >= 0 && l.found[5] >= 0 ? 6 : 3;
    for (std::size_t j = 0; j < l.cols; ++j) {
        l.kept.offs.push_back(offsets[static_cast<std::size_t>(l.found[j])]);
        l.kept.kinds.push_back(kinds[static_cast<std::size_t>(l.found[j])]);
    }
    return l;
}

Shape to_shape(const Points& all) {
    Shape shape;
    shape.vertices = all.leftCols(3);
    if (all.cols() == 6) shape.normals = all.rightCols(3);
    return shape;
}

Shape read_binary(const PcdHeader& h, const PcdLayout& l, u64 n, const std::string& path) {
    std::vector<double> v(n * l.cols);
    // PCL writes binary data in the machine's order, which is little endian in practice.
    gather(h.body, l.record, n, l.kept, !host_little(), v.data(), l.cols);
    Points all = to_points(v, n, l.cols);
    for (Eigen::Index r = 0; r < all.rows(); ++r)
        for (Eigen::Index c = 0; c < all.cols(); ++c)
            if (!std::isfinite(all(r, c)))
                throw Error(path + ": point " + std::to_string(r) + " has a " + (std::isnan(all(r, c)) ? "NaN" : "infinite") +
                            " value (remove invalid points before converting)");
    return to_shape(all);
}

// One point per line, values in field order.
Shape read_ascii(const PcdHeader& h, const PcdLayout& l, u64 n, const char* end, const std::string& path) {
    std::vector<double> v(n * l.cols);
    std::vector<int> column(l.values_per_point, -1);
    std::size_t k = 0;
    for (std::size_t i = 0; i < h.fields.size(); ++i)
        for (std::size_t c = 0; c < h.counts[i]; ++c, ++k)
            for (std::size_t j = 0; j < l.cols; ++j)
                if (l.found[j] == static_cast<int>(i)) column[k] = static_cast<int>(j);
    Lines lines(h.body, end);
    lines.line = h.lines;
    std::string_view line;
    std::vector<std::string_view> t;
    u64 r = 0;
    while (r < n && lines.next(line)) {
        std::string_view s = trim(line);
        if (s.empty()) continue;
        split_ws(s, t);
        if (t.size() != l.values_per_point)
            throw Error(at_line(path, lines.line) + "expected " + std::to_string(l.values_per_point) + " values, found " +
                        std::to_string(t.size()));
        for (std::size_t q = 0; q < t.size(); ++q)
            if (column[q] >= 0) {
                double d;
                if (!parse_double(t[q], d)) throw Error(at_line(path, lines.line) + "expected a number, found " + quote(t[q]));
                if (!std::isfinite(d))
                    throw Error(at_line(path, lines.line) + "value is " + (std::isnan(d) ? "NaN" : "infinite") +
                                " (remove invalid points before converting)");
                v[r * l.cols + static_cast<std::size_t>(column[q])] = d;
            }
        ++r;
    }
    if (r < n) throw Error(path + ": file ends after " + std::to_string(r) + " of " + std::to_string(n) + " points");
    return to_shape(to_points(v, n, l.cols));
}

}  // namespace

Shape read_pcd(const std::string& path) {
    MappedFile bytes(path);
    const PcdHeader h = parse_header(bytes, path);
    const PcdLayout l = layout(h, path);
    const bool binary = h.data == "binary";
    const u64 n = static_cast<u64>(h.points);
    const u64 remain = static_cast<u64>(bytes.end() - h.body);
    const u64 per = binary ? l.record : 2 * l.values_per_point;
    if (exceeds(n, per, remain + 1) || (binary && n * per > remain))
        throw Error(path + ": header declares " + std::to_string(n) + " points, more than the " + std::to_string(remain) +
                    " bytes after the header can hold" + (binary ? " (file truncated?)" : ""));
    return binary ? read_binary(h, l, n, path) : read_ascii(h, l, n, bytes.end(), path);
}

// PCD 0.7, DATA ascii with float64 fields x y z (and normal_x normal_y normal_z):
// exact values that PCL and read_pcd read back.
void write_pcd(const std::string& path, const Shape& shape) {
    const auto n = shape.vertices.rows();
    const bool normals = check_3d_for_writing(shape.vertices, shape.normals, Faces(), path, "PCD");
    const std::string k = normals ? " 8 8 8" : "";
    const std::string head = "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z" +
                             std::string(normals ? " normal_x normal_y normal_z" : "") + "\nSIZE 8 8 8" + k +
                             "\nTYPE F F F" + (normals ? " F F F" : "") + "\nCOUNT 1 1 1" + (normals ? " 1 1 1" : "") +
                             "\nWIDTH " + std::to_string(n) + "\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS " +
                             std::to_string(n) + "\nDATA ascii\n";
    write_text_rows(path, head, shape.vertices, normals ? shape.normals : Points(), ' ');
}

const Format& pcd_format() {
    static const Format f{
        .name = "PCD", .extensions = {".pcd"}, .read = [](const Source& s) { return read_pcd(s.path); }, .write = write_pcd};
    return f;
}

}  // namespace orbit::io::formats
