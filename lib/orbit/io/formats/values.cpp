#include "orbit/io/formats/values.hpp"

#include <cmath>
#include <cstring>

#include "orbit/core/error.hpp"

namespace orbit::io::formats {

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

void add_polygon(std::vector<std::int64_t>& tris, const std::int64_t* idx, std::size_t n) {
    for (std::size_t k = 1; k + 1 < n; ++k) {
        tris.push_back(idx[0]);
        tris.push_back(idx[k]);
        tris.push_back(idx[k + 1]);
    }
}

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

void check_block(const double* v, std::size_t count, std::size_t cols, std::size_t first_row, const std::string& what) {
    auto i = first_non_finite(v, count * cols);
    if (i < 0) return;
    throw Error(what + ": row " + std::to_string(first_row + static_cast<std::size_t>(i) / cols) + " has a " +
                (std::isnan(v[i]) ? "NaN" : "infinite") + " value");
}

bool check_3d_for_writing(const Points& vertices, const Points& normals, const Faces& faces, const std::string& path,
                          const char* format) {
    const auto n = vertices.rows();
    if (vertices.cols() != 3)
        throw Error("cannot write '" + path + "' as " + format + ": expected points of shape [N,3], found [" + std::to_string(n) +
                    "," + std::to_string(vertices.cols()) + "]");
    if (faces.size() && (faces.minCoeff() < 0 || faces.maxCoeff() >= n))
        throw Error("cannot write '" + path + "': a face refers to a vertex outside 0.." + std::to_string(n - 1));
    return normals.rows() == n && normals.cols() == 3;
}

}  // namespace orbit::io::formats
