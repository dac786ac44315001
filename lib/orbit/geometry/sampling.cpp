#include "orbit/geometry/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <Eigen/Geometry>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"

namespace orbit::geometry {
namespace {

constexpr std::int64_t kBlock = 8192;  // samples per random stream; fixed so threads do not matter

Eigen::Vector3d corner(const Points& v, std::int64_t i) { return v.row(static_cast<Eigen::Index>(i)).transpose(); }

}  // namespace

Vector face_areas(const Points& vertices, const Faces& faces) {
    if (vertices.cols() != 3)
        throw Error("mesh vertices: expected shape [N,3], found [" + std::to_string(vertices.rows()) + "," +
                    std::to_string(vertices.cols()) + "]");
    if (faces.rows() == 0) throw Error("the input has no faces: surface sampling needs a triangle mesh");
    const auto nv = static_cast<std::int64_t>(vertices.rows());
    Vector area(faces.rows());
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        for (int k = 0; k < 3; ++k)
            if (faces(f, k) < 0 || faces(f, k) >= nv)
                throw Error("face " + std::to_string(f) + " refers to vertex " + std::to_string(faces(f, k)) +
                            ", outside 0.." + std::to_string(nv - 1));
        Eigen::Vector3d a = corner(vertices, faces(f, 0)), b = corner(vertices, faces(f, 1)), c = corner(vertices, faces(f, 2));
        area[f] = 0.5 * (b - a).cross(c - a).norm();
        if (!std::isfinite(area[f])) throw Error("face " + std::to_string(f) + " has a non-finite vertex");
    }
    return area;
}

SurfaceSamples sample_surface(const Points& vertices, const Faces& faces, std::int64_t count, const Rng& rng) {
    if (count <= 0) throw Error("number of samples must be positive, got " + std::to_string(count));
    Vector area = face_areas(vertices, faces);
    const Eigen::Index nf = area.size();
    std::vector<double> cum(static_cast<std::size_t>(nf));
    double total = 0;
    for (Eigen::Index f = 0; f < nf; ++f) cum[static_cast<std::size_t>(f)] = total += area[f];
    if (!(total > 0)) throw Error("the mesh has zero surface area (all " + std::to_string(nf) + " faces are degenerate)");

    // Unit face normals, computed once.
    Points face_normal(nf, 3);
    for (Eigen::Index f = 0; f < nf; ++f) {
        Eigen::Vector3d a = corner(vertices, faces(f, 0)), b = corner(vertices, faces(f, 1)), c = corner(vertices, faces(f, 2));
        Eigen::Vector3d n = (b - a).cross(c - a);
        double len = n.norm();
        if (len > 0) n /= len;
        face_normal.row(f) = n.transpose();
    }

    SurfaceSamples s;
    s.points.resize(count, 3);
    s.normals.resize(count, 3);
    s.face.resize(static_cast<std::size_t>(count));
    const std::int64_t blocks = (count + kBlock - 1) / kBlock;
    parallel_for(blocks, [&](std::int64_t blk) {
        Rng r = rng.split(static_cast<std::uint64_t>(blk));
        const std::int64_t end = std::min(count, (blk + 1) * kBlock);
        for (std::int64_t i = blk * kBlock; i < end; ++i) {
            // upper_bound skips zero-area faces: their cumulative value equals the previous one.
            double u = r.uniform() * total;
            auto it = std::upper_bound(cum.begin(), cum.end(), u);
            auto f = static_cast<Eigen::Index>(std::min<std::ptrdiff_t>(it - cum.begin(), nf - 1));
            while (area[f] <= 0 && f > 0) --f;  // guards the rounding case u == total
            double su = std::sqrt(r.uniform()), v = r.uniform();
            Eigen::Vector3d a = corner(vertices, faces(f, 0)), b = corner(vertices, faces(f, 1)), c = corner(vertices, faces(f, 2));
            Eigen::Vector3d p = (1 - su) * a + su * (1 - v) * b + su * v * c;
            s.points.row(i) = p.transpose();
            s.normals.row(i) = face_normal.row(f);
            s.face[static_cast<std::size_t>(i)] = f;
        }
    });
    return s;
}

}  // namespace orbit::geometry

namespace orbit::geometry {

void normalize_to_unit_sphere(Points& points) {
    if (points.rows() == 0) return;
    Eigen::RowVectorXd centre = points.colwise().mean();
    points.rowwise() -= centre;
    double r = points.rowwise().norm().maxCoeff();
    if (r > 0) points /= r;
}

std::vector<std::int64_t> farthest_point_sample(const Points& points, std::int64_t count) {
    const Eigen::Index n = points.rows();
    std::vector<std::int64_t> idx;
    if (n == 0 || count <= 0) return idx;
    if (count >= n) {
        for (Eigen::Index i = 0; i < n; ++i) idx.push_back(i);
        return idx;
    }
    auto sqdist = [&](Eigen::Index i, Eigen::Index j) {
        double s = 0;
        for (Eigen::Index k = 0; k < points.cols(); ++k) {
            const double d = points(i, k) - points(j, k);
            s += d * d;
        }
        return s;
    };
    const Eigen::RowVectorXd c = points.colwise().mean();
    Eigen::Index first = 0;
    double best = -1;
    for (Eigen::Index i = 0; i < n; ++i) {
        const double d = (points.row(i) - c).squaredNorm();
        if (d > best) best = d, first = i;
    }
    std::vector<double> mind(static_cast<std::size_t>(n), std::numeric_limits<double>::infinity());
    Eigen::Index cur = first;
    for (std::int64_t k = 0; k < count; ++k) {
        idx.push_back(cur);
        Eigen::Index next = 0;
        double far = -1;
        for (Eigen::Index i = 0; i < n; ++i) {
            const double d = sqdist(i, cur);
            double& md = mind[static_cast<std::size_t>(i)];
            if (d < md) md = d;
            if (md > far) far = md, next = i;
        }
        cur = next;
    }
    return idx;
}

}  // namespace orbit::geometry
