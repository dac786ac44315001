#pragma once
// Differentiable weighted Kabsch: the rotation R (det +1) and translation t
// minimizing sum_i w_i |R x_i + t - y_i|^2, as one fused tape node, so that
// losses can flow through an estimated rigid transform.
//
// Forward (as geometry::kabsch): centroids xc = sum w x / sum w, likewise yc;
// H = sum_i w_i (x_i - xc)(y_i - yc)^T = U S V^T; D = diag(1, 1, sign det(V U^T));
// R = V D U^T; t = yc - R xc. Points are rows, so y_i ~ R x_i + t reads as
// y ~ x R^T + t in row form.
//
// Backward: R is the orthogonal factor of H^T with signed singular values
// s' = (s1, s2, det-sign * s3). Differentiating H = R^T P (P = V S' V^T
// symmetric) gives dR = -A R with V^T A V = (V^T (R dH - dH^T R^T) V) / (s'_i + s'_j),
// so only the sums s'_i + s'_j appear (not the 1/(s_i^2 - s_j^2) of a full
// SVD derivative: R does not depend on how U and V rotate inside a repeated
// singular value). Degenerate cases: s'_i + s'_j -> 0 when H has rank <= 1
// (fewer than three non-collinear weighted points: the rotation about the line
// is undetermined) or, with a reflection correction, when s2 == s3. There R is
// not differentiable; the denominators are clamped to a magnitude of at least
// 1e-9 * s1 (keeping their sign), so the gradient stays finite but large in
// that direction. The weights must be non-negative with a positive sum.
// Gradients flow to x, y and w.
#include "orbit/nn/tape.hpp"

namespace orbit::nn {

struct KabschVars {
    Var R;  // [3,3]
    Var t;  // [1,3]
};

// x [M,3], y [M,3], w [M,1].
template <class T>
KabschVars weighted_kabsch(Tape<T>& tape, Var x, Var y, Var w);

}  // namespace orbit::nn
