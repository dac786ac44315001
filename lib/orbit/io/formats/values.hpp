#pragma once
// What every reader does with the values it parsed: sizes checked before
// allocating, matrices built, polygons triangulated, non-finite values refused.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::io::formats {

using u64 = std::uint64_t;

// count * per > limit, without overflow.
inline bool exceeds(u64 count, u64 per, u64 limit) {
    if (per == 0) return false;
    return count > limit / per;
}

Points to_points(const std::vector<double>& v, std::size_t rows, std::size_t cols);
Faces to_faces(const std::vector<std::int64_t>& v);

// Polygons with n >= 3 corners become n-2 triangles (a fan from the first corner).
void add_polygon(std::vector<std::int64_t>& tris, const std::int64_t* idx, std::size_t n);

// Index of the first NaN or infinite value, or -1.
std::ptrdiff_t first_non_finite(const double* v, std::size_t n);
// Throws "PATH: WHAT R has a NaN value" for the first row R with a non-finite value.
void check_values(const Points& m, const std::string& path, const std::string& what);
// Same for a block of rows starting at row `first_row`: "WHAT: row R has a NaN value".
void check_block(const double* v, std::size_t count, std::size_t cols, std::size_t first_row, const std::string& what);

// For the writers of 3-D formats (OFF, PCD): throws unless the points are [N,3]
// and the faces refer to them; true when the shape has normals to write.
bool check_3d_for_writing(const Points& vertices, const Points& normals, const Faces& faces, const std::string& path,
                          const char* format);

}  // namespace orbit::io::formats
