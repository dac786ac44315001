#include "orbit/geometry/perturb.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "orbit/core/error.hpp"
#include "orbit/geometry/rotation.hpp"

namespace orbit::geometry {
namespace {

Eigen::Vector3d random_direction(Rng& rng) {
    Eigen::Vector3d v;
    do {
        v = Eigen::Vector3d(rng.normal(), rng.normal(), rng.normal());
    } while (v.norm() < 1e-12);
    return v.normalized();
}

// Indices of the k largest scores; ties broken by index so the result is deterministic.
std::vector<std::int64_t> top_k(const std::vector<double>& score, std::int64_t k) {
    std::vector<std::int64_t> idx(score.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](std::int64_t a, std::int64_t b) {
        return score[a] != score[b] ? score[a] > score[b] : a < b;
    });
    idx.resize(static_cast<std::size_t>(k));
    std::sort(idx.begin(), idx.end());
    return idx;
}

std::int64_t kept_count(std::int64_t n, double fraction) {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::llround(fraction * n)), 1, n);
}

}  // namespace

std::vector<std::int64_t> crop_plane(const Points& points, double fraction, Rng& rng) {
    Eigen::RowVector3d c = points.leftCols<3>().colwise().mean();
    Eigen::Vector3d dir = random_direction(rng);
    std::vector<double> score(static_cast<std::size_t>(points.rows()));
    for (Eigen::Index i = 0; i < points.rows(); ++i) score[i] = (points.row(i).leftCols<3>() - c).dot(dir.transpose());
    return top_k(score, kept_count(points.rows(), fraction));
}

std::vector<std::int64_t> crop_viewpoint(const Points& points, double fraction, Rng& rng) {
    Eigen::RowVector3d c = points.leftCols<3>().colwise().mean();
    double radius = 0;
    for (Eigen::Index i = 0; i < points.rows(); ++i) radius = std::max(radius, (points.row(i).leftCols<3>() - c).norm());
    Eigen::RowVector3d eye = c + 2.0 * std::max(radius, 1e-12) * random_direction(rng).transpose();
    std::vector<double> score(static_cast<std::size_t>(points.rows()));
    for (Eigen::Index i = 0; i < points.rows(); ++i) score[i] = -(points.row(i).leftCols<3>() - eye).squaredNorm();
    return top_k(score, kept_count(points.rows(), fraction));
}

Perturbed perturb(const Points& input, const Points& input_normals, const PerturbOptions& o, Rng& rng) {
    if (input.cols() != 3) throw Error("expected 3-d points, found " + std::to_string(input.cols()) + " columns");
    if (input.rows() == 0) throw Error("the point set is empty");
    const bool has_normals = input_normals.rows() == input.rows() && input_normals.cols() == 3;
    Perturbed out;
    Transform total = Transform::Identity();

    Points pts = input;
    if (o.normalize) {
        Eigen::RowVector3d c = pts.colwise().mean();
        double r = (pts.rowwise() - c).rowwise().norm().maxCoeff();
        double s = r > 0 ? 1.0 / r : 1.0;
        total = make_transform(Rotation::Identity(), -s * c.transpose(), s);
        pts = apply(total, pts);
    }

    std::vector<std::int64_t> idx(static_cast<std::size_t>(pts.rows()));
    std::iota(idx.begin(), idx.end(), 0);
    if (o.keep_fraction < 1.0) {
        idx = o.crop_mode == PerturbOptions::CropMode::plane ? crop_plane(pts, o.keep_fraction, rng)
                                                             : crop_viewpoint(pts, o.keep_fraction, rng);
    }

    Transform motion = o.fixed.value_or(Transform::Identity());
    if (o.uniform_rotation || o.euler_max_deg > 0 || o.translation > 0) {
        Rotation r = o.uniform_rotation ? random_rotation(rng)
                                        : random_euler_rotation(rng, o.euler_max_deg * std::numbers::pi / 180.0);
        Eigen::Vector3d t = o.translation > 0 ? random_translation(rng, o.translation) : Eigen::Vector3d::Zero();
        motion = make_transform(r, t) * motion;
    }
    total = motion * total;

    if (o.resample > 0) {
        auto n = static_cast<std::int64_t>(idx.size());
        std::vector<std::int64_t> chosen;
        chosen.reserve(static_cast<std::size_t>(o.resample));  // fails at once (bad_alloc) when it cannot fit
        if (o.resample <= n) {
            auto perm = rng.permutation(n);
            for (std::int64_t i = 0; i < o.resample; ++i) chosen.push_back(idx[static_cast<std::size_t>(perm[i])]);
        } else {
            // More points than available: all of them once, the rest drawn with replacement.
            chosen = idx;
            while (static_cast<std::int64_t>(chosen.size()) < o.resample) chosen.push_back(idx[rng.below(idx.size())]);
        }
        idx = std::move(chosen);
    }
    if (o.shuffle) {
        auto perm = rng.permutation(static_cast<std::int64_t>(idx.size()));
        std::vector<std::int64_t> shuffled(idx.size());
        for (std::size_t i = 0; i < idx.size(); ++i) shuffled[i] = idx[static_cast<std::size_t>(perm[i])];
        idx = std::move(shuffled);
    }

    Points picked(static_cast<Eigen::Index>(idx.size()), 3);
    for (std::size_t i = 0; i < idx.size(); ++i) picked.row(static_cast<Eigen::Index>(i)) = input.row(idx[i]);
    out.points = apply(total, picked);
    if (has_normals) {
        Points n(static_cast<Eigen::Index>(idx.size()), 3);
        for (std::size_t i = 0; i < idx.size(); ++i) n.row(static_cast<Eigen::Index>(i)) = input_normals.row(idx[i]);
        out.normals = rotate_vectors(total, n);
    }
    if (o.noise > 0) {
        for (Eigen::Index i = 0; i < out.points.rows(); ++i)
            for (int j = 0; j < 3; ++j) out.points(i, j) += std::clamp(o.noise * rng.normal(), -o.noise_clip, o.noise_clip);
    }
    out.transform = total;
    out.indices = std::move(idx);
    return out;
}

}  // namespace orbit::geometry
