#pragma once
// Weighted least-squares alignment of paired points (Kabsch / Umeyama).
//
// Finds s, R, t minimising sum_i w_i |s R x_i + t - y_i|^2 with R a proper
// rotation: the SVD of the weighted cross-covariance is corrected by
// diag(1, 1, sign(det)) so a reflection is never returned. With
// with_scale = false, s = 1 (Kabsch); with true, s = tr(D S) / var_x (Umeyama 1991).
#include <cstdint>
#include <utility>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::geometry {

struct KabschOptions {
    bool with_scale = false;
};

// src, dst: N x 3 paired rows; weights: N non-negative values or empty (all 1).
// Returns the transform mapping src onto dst. Throws Error when N == 0, shapes
// differ, or the weights sum to zero. Degenerate configurations (N < 3, collinear
// points) still give a rotation, one of the equally good ones.
Transform kabsch(const Points& src, const Points& dst, const Vector& weights = Vector(),
                 const KabschOptions& options = {});

// Same, from index pairs (src row, dst row) into two clouds, without copying them.
Transform kabsch_pairs(const Points& src, const Points& dst, const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs,
                       const std::vector<double>& weights = {}, const KabschOptions& options = {});

}  // namespace orbit::geometry
