#pragma once
// Canonical poses of point clouds from principal axes (PCA frames).
//
// Every cloud X (N x D, D = 3, or D = 2 for planar data) gets a transform T
// that maps it to its canonical copy T X. T depends on X equivariantly
// (T(g X) = T(X) g^-1 for g in the group), so T X is invariant.
//
//   SO3, O3   rotations (and reflections) about the origin: T = [R^T | 0]
//   SE3, E3   the same plus translations:                  T = [R^T | -R^T c]
//   SO2       rotations about one axis (the z axis of 2-D data, or --axis)
//   scale     optional Sim(3) part: coordinates are divided by the RMS radius
//
// R holds the covariance eigenvectors (about the centroid c) as columns,
// largest eigenvalue first. Each eigenvector has two signs; the rule that picks
// one is the sign of the third moment along the axis (skewness). For rotation
// groups only the first two signs are free, the third axis is their cross
// product. Two things make a canonical form unstable and are measured:
//   - eigenvalue gaps (l_k - l_k+1) / l_0 near zero: the axes can turn freely;
//   - sign margins |skewness| near zero: the third moment cannot pick a sign.
// A weak third moment falls back to the extreme-point rule (the sign of the
// projection with the largest magnitude); a cloud that stays ambiguous is
// flagged. What happens to flagged clouds is chosen by Unstable.
#include <string>
#include <vector>

#include <Eigen/Core>

#include "orbit/core/types.hpp"

namespace orbit::canon {

// Clouds are passed as views so batches held in one buffer need no copies.
using PointsRef = Eigen::Ref<const Points>;

enum class Group { SO2, SO3, O3, SE3, E3 };

// Accepts SO3, so(3), SO(3), se3, ... (case and parentheses ignored). Throws UsageError.
Group parse_group(const std::string& text);
std::string group_name(Group g);
bool has_reflections(Group g);   // O3, E3
bool has_translations(Group g);  // SE3, E3

// What to do with a cloud whose canonical form is unstable.
enum class Unstable {
    keep,      // keep the deterministic (but not invariant) choice, flag the cloud
    identity,  // flagged clouds get no rotation: only centering / scaling is applied
    error      // stop with an error naming the cloud
};
Unstable parse_unstable(const std::string& text);

struct Options {
    Group group = Group::SO3;
    bool scale = false;                             // also remove scale (Sim(3))
    Eigen::Vector3d axis = Eigen::Vector3d::UnitZ();  // for SO2 on 3-D data
    double gap_tol = 1e-3;                          // relative eigenvalue gap below which axes are unstable
    double sign_tol = 1e-3;                         // skewness below which a sign is unstable
    Unstable on_unstable = Unstable::keep;
};

// Flag bits.
enum Flag : int {
    flag_eigen_gap = 1,      // two eigenvalues (nearly) equal: axes not unique
    flag_sign = 2,           // a sign is decided by neither the third moment nor the extreme points
    flag_sign_fallback = 4,  // a sign was decided by the extreme-point rule (weak skewness)
    flag_collapsed = 8       // all points (nearly) coincide: no axes at all
};
std::string describe_flags(int flags);

struct Diagnostics {
    Eigen::Vector3d eigenvalues = Eigen::Vector3d::Zero();  // of the covariance / N, descending
    Eigen::Vector2d gaps = Eigen::Vector2d::Zero();         // (l0-l1)/l0, (l1-l2)/l0
    Eigen::Vector3d sign_margins = Eigen::Vector3d::Zero(); // |skewness| per axis (0 for implied axes)
    double scale = 1.0;                                     // RMS radius removed (1 without --scale)
    int flags = 0;
    // Unstable means: the group element is not a continuous function of the cloud here.
    bool unstable() const { return (flags & (flag_eigen_gap | flag_sign | flag_collapsed)) != 0; }
};

struct Canonical {
    Transform transform = Transform::Identity();  // original -> canonical
    Diagnostics diag;
};

// The canonical group element of one cloud (N x 2 or N x 3).
Canonical pca_canonical(const PointsRef& x, const Options& opt);

// All frames for frame averaging: 8 for O3/E3, 4 for SO3/SE3, 2 for SO2, each a
// transform original -> canonical copy. Only eigenvalue gaps matter here (no sign rule).
std::vector<Transform> pca_frames(const PointsRef& x, const Options& opt, Diagnostics* diag = nullptr);

// Number of frames pca_frames returns for a group.
int frame_count(Group g);

// Applies a transform to N x D points (D = 2 uses the x,y block, z = 0), and its
// linear part to vectors.
Points transform_points(const Transform& t, const PointsRef& x);
Points transform_vectors(const Transform& t, const PointsRef& v);
void transform_points_in_place(const Transform& t, Eigen::Ref<Points> x);

}  // namespace orbit::canon
