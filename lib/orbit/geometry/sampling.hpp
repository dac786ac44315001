#pragma once
// Uniform sampling of points on a triangle mesh surface.
//
// A face is chosen with probability proportional to its area (binary search
// in the cumulative areas), then a point uniformly inside it with the square
// root trick: for u, v uniform in [0,1),
//   p = (1 - sqrt(u)) a + sqrt(u) (1 - v) b + sqrt(u) v c
// is uniform on the triangle abc. Each sample's normal is the unit normal of
// its face, oriented by the face's winding (b - a) x (c - a).
//
// The draws come from a caller-owned Rng, so the samples follow --seed. Work
// is split into fixed blocks, each with its own child stream, so the result is
// the same for any thread count.
#include <cstdint>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::geometry {

struct SurfaceSamples {
    Points points;                    // count x 3
    Points normals;                   // count x 3, unit length
    std::vector<std::int64_t> face;   // the face each sample lies on
};

// Areas of the triangles (zero for degenerate ones). Checks indices and values.
Vector face_areas(const Points& vertices, const Faces& faces);

// Draws `count` points uniformly (by area) on the surface. Throws orbit::Error
// for meshes without faces, with out-of-range indices, or of zero total area.
SurfaceSamples sample_surface(const Points& vertices, const Faces& faces, std::int64_t count, const Rng& rng);

}  // namespace orbit::geometry

namespace orbit::geometry {

// Centres a cloud on its centroid and scales it so the farthest point lies on
// the unit sphere (a single point is only centred). Normals need no change.
void normalize_to_unit_sphere(Points& points);

// Rows chosen by farthest-point sampling: first the row farthest from the
// centroid (a distance, so the choice moves with the cloud), then each time
// the row farthest from those already chosen; ties go to the lower index.
// At most `count` rows, all of them when count >= rows. Deterministic.
std::vector<std::int64_t> farthest_point_sample(const Points& points, std::int64_t count);

}  // namespace orbit::geometry
