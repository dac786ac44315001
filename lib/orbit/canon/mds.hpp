#pragma once
// Invariant coordinates from classical multidimensional scaling (the starting
// coordinates of TinvNN).
//
// Classical MDS turns squared distances D2 into coordinates through the
// double-centred Gram matrix B = -1/2 J D2 J (J = I - 11^T/n): X = U_d L_d^1/2.
// Distances do not change under rotations, reflections and translations, so
// neither do the coordinates, up to the order and signs of the eigenvectors;
// both are then fixed (principal axes of the result, largest variance first;
// signs by the third moment, as in pca.hpp), which makes the output invariant
// under E(3) and equivariant under permutations of the points.
//
// Memory grows as N: distances go only to m landmarks chosen by farthest-point
// sampling (a choice that depends on distances only), the landmarks are placed
// by classical MDS on their m x m distances and every other point is placed by
// distance triangulation (landmark MDS, de Silva and Tenenbaum 2004). With
// m >= N this is classical MDS on all points. For Euclidean input in d >= its
// dimension the embedding is exact (an isometry of the cloud).
#include "orbit/canon/pca.hpp"

namespace orbit::canon {

struct MdsOptions {
    int dim = 3;            // output dimension (<= input dimension)
    int landmarks = 256;    // m; clouds with at most m points use all of them
    double gap_tol = 1e-3;
    double sign_tol = 1e-3;
};

struct MdsResult {
    Points coords;          // N x dim, invariant coordinates
    Diagnostics diag;       // eigenvalues / gaps / sign margins of the final axes
    double residual = 0;    // share of the landmark Gram spectrum beyond the point dimension (0 for Euclidean input)
    int landmarks_used = 0;
};

MdsResult mds_coordinates(const Points& x, const MdsOptions& opt);
// Every cloud, in parallel (thread count does not change the result); errors name the cloud.
std::vector<MdsResult> mds_batch(const MdsOptions& opt, const std::vector<const Points*>& clouds);

}  // namespace orbit::canon
