#pragma once
// The modes of a weighted set of rotations: mean shift on SO(3) with the
// isotropic matrix Fisher kernel K(R, M) = exp(kappa (tr(M^T R) - 3) / 2),
// kappa = 1 / bandwidth^2 (bandwidth in radians; for small angles K is a
// Gaussian in the rotation angle between R and M).
//
// The kernel density f(M) = sum_i w_i K(R_i, M) is stationary on SO(3) where
// M^T S(M) is symmetric, S(M) = sum_i w_i K(R_i, M) R_i, which is where M is
// the polar factor of S(M); the mean-shift step M <- polar(S(M)) climbs f (a
// minorize-maximize step, as the kernel's profile is convex). Every rotation
// of the set starts one climb; climbs that end within `merge` of each other
// are one mode. Used to read the poses of a symmetric shape off scored
// registration hypotheses, or off samples of an SO(3) flow.
#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "orbit/core/types.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::flows {

struct So3ModeOptions {
    double bandwidth_deg = 10.0;  // kernel width
    double merge_deg = 0.0;       // climbs ending closer than this are one mode (0: the bandwidth)
    int max_iter = 200;
    double tol_deg = 1e-4;        // a climb stops when a step turns less than this
};

struct So3Mode {
    Eigen::Matrix3d rotation;
    double mass = 0;              // share of the total weight whose climbs end here
    std::int64_t members = 0;     // how many rotations climb here
    double density = 0;           // f(M) / sum w (1 for a lone rotation of the set)
};

// Modes of rotations R (with weights w >= 0, not all 0; empty: all 1), by mass, largest first.
std::vector<So3Mode> so3_mean_shift_modes(const std::vector<Eigen::Matrix3d>& R, const Vector& w,
                                          const So3ModeOptions& o = {});

// Rows of 9 numbers (row-major, as an SO(3) model stores them) as matrices, and back.
std::vector<Eigen::Matrix3d> rows_to_rotations(const Points& rows);

// Writes modes as /rotations [K,3,3], /mass [K], /members [K], /density [K] and,
// when logp has K values (a model's log-density at each mode), /logp [K].
void write_so3_modes(h5::File& file, const std::vector<So3Mode>& modes, const Vector& logp = {});
// The modes for a --json summary: rotation (row-major), quaternion (x y z w), angle and axis, mass, members.
nlohmann::json so3_modes_json(const std::vector<So3Mode>& modes, const Vector& logp = {});

}  // namespace orbit::flows
