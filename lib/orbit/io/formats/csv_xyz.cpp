// The text tables: XYZ/PTS/TXT (whitespace-separated columns, one point per
// line) and CSV (comma-separated columns, an optional header row of names;
// also written).
#include <algorithm>
#include <cctype>
#include <charconv>

#include "orbit/core/error.hpp"
#include "orbit/io/formats/bytes.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/text.hpp"
#include "orbit/io/formats/values.hpp"

namespace orbit::io::formats {

namespace {
// Header names of normals: nx ny nz, normal_x normal_y normal_z (PCL), or n_x n_y n_z.
bool normal_names(const std::vector<std::string>& n) {
    const char* axes = "xyz";
    for (int k = 0; k < 3; ++k) {
        std::string a = n[static_cast<std::size_t>(3 + k)];
        for (char& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::string x(1, axes[k]);
        if (a != "n" + x && a != "normal_" + x && a != "n_" + x && a != "normal" + x) return false;
    }
    return true;
}
}  // namespace

Shape read_xyz(const std::string& path) {
    MappedFile bytes(path);
    Lines lines(bytes.begin(), bytes.end());
    std::string_view line;
    std::vector<std::string_view> t;
    std::vector<double> v;
    v.reserve(bytes.size() / 8);
    std::vector<std::string> header;
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
            // A leading line of names, none of them a number, is a header ("x y z nx ny nz").
            double d;
            if (header.empty() && std::none_of(t.begin(), t.end(), [&](std::string_view w) { return parse_double(w, d); })) {
                for (auto w : t) header.emplace_back(w);
                first_line = lines.line;
                continue;
            }
            cols = t.size();
            if (header.empty()) first_line = lines.line;
            else if (header.size() != cols)
                throw Error(at_line(path, lines.line) + "expected " + std::to_string(header.size()) + " columns (as the header on line " +
                            std::to_string(first_line) + " names), found " + std::to_string(cols));
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
    // Six columns are points and normals, unless a header names them otherwise.
    if (cols == 6 && (header.empty() || normal_names(header))) {
        shape.vertices = all.leftCols(3);
        shape.normals = all.rightCols(3);
    } else {
        shape.vertices = std::move(all);
        shape.columns = std::move(header);
    }
    return shape;
}

// One point per line, "x y z" then "nx ny nz" when there are normals: what read_xyz reads back.
void write_xyz(const std::string& path, const Shape& shape) {
    write_text_rows(path, "", shape.vertices, shape.normals, ' ');
}

const Format& xyz_format() {
    static const Format f{.name = "XYZ",
                          .extensions = {".xyz", ".pts", ".txt"},
                          .read = [](const Source& s) { return read_xyz(s.path); },
                          .write = write_xyz};
    return f;
}

Shape read_csv(const std::string& path) {
    MappedFile bytes(path);
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
    v.reserve(bytes.size() / 4);
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
    // The header orbit writes for points with normals (x,y,z,nx,ny,nz) reads back as points and normals.
    if (names && cols == 6 && normal_names(header)) {
        Points all = std::move(shape.vertices);
        shape.vertices = all.leftCols(3);
        shape.normals = all.rightCols(3);
    } else if (names) {
        shape.columns = std::move(header);
    }
    return shape;
}

void write_csv(const std::string& path, const Points& table, const std::vector<std::string>& names) {
    std::string head;
    if (names.size() == static_cast<std::size_t>(table.cols())) {
        for (std::size_t j = 0; j < names.size(); ++j) head += (j ? "," : "") + names[j];
        head += '\n';
    }
    write_text_rows(path, head, table, Points(), ',');
}

namespace {
// Points, then normals as more columns, with names x,y,z[,nx,ny,nz] when the points are 3-D.
void write_csv_shape(const std::string& path, const Shape& shape) {
    const bool normals = shape.normals.rows() == shape.vertices.rows() && shape.normals.size() > 0;
    if (!normals) {
        std::vector<std::string> names = shape.columns;
        if (names.empty() && shape.vertices.cols() == 3) names = {"x", "y", "z"};
        return write_csv(path, shape.vertices, names);
    }
    Points t(shape.vertices.rows(), shape.vertices.cols() + shape.normals.cols());
    t << shape.vertices, shape.normals;
    std::vector<std::string> names;
    if (t.cols() == 6) names = {"x", "y", "z", "nx", "ny", "nz"};
    write_csv(path, t, names);
}
}  // namespace

const Format& csv_format() {
    static const Format f{.name = "CSV",
                          .extensions = {".csv"},
                          .read = [](const Source& s) { return read_csv(s.path); },
                          .write = write_csv_shape};
    return f;
}

}  // namespace orbit::io::formats
