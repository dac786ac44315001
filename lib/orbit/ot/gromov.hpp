#pragma once
// Entropic Gromov-Wasserstein and fused Gromov-Wasserstein transport with the
// square loss (Peyre, Cuturi & Solomon 2016; fused: Vayer et al. 2019).
//
// Two spaces are compared through their own distance matrices C1 (N x N) and
// C2 (M x M), so the coupling does not change under rigid motions (or any
// isometry) of either cloud, nor under a permutation of either's points:
//   GW(T) = sum_ijkl (C1_ik - C2_jl)^2 T_ij T_kl,   T 1 = p,  T^T 1 = q.
// With the square loss L = f1(a) + f2(b) - h1(a) h2(b) (f1 = a^2, f2 = b^2,
// h1 = a, h2 = 2b), the tensor product is
//   L (x) T = (C1^2 p) 1^T + 1 (C2^2 q)^T - 2 C1 T C2^T
// and GW(T) = <L (x) T, T>. Mirror descent with step 1/eps in the KL geometry
// is exactly the projected-gradient scheme of Peyre et al.:
//   T <- argmin_T <grad, T> + eps KL(T | p q^T),  grad = 2 L (x) T,
// one balanced Sinkhorn solve per outer iteration (warm-started from the
// previous potentials). Fused GW adds a feature cost M with weight 1 - alpha:
//   FGW(T) = (1 - alpha) <M, T> + alpha GW(T),  grad = (1 - alpha) M + 2 alpha L (x) T.
// POT's entropic_gromov_wasserstein runs the same iteration from T = p q^T.
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::ot {

struct GromovOptions {
    double eps = 5e-3;        // entropic regularization of the inner problems, in cost units of L
    double alpha = 1;         // fused GW: weight of the structure term (1: plain GW)
    int max_iter = 1000;      // outer (mirror-descent) iterations
    double tol = 1e-9;        // stop when the Frobenius norm of the plan's change is below this
    // Anneal eps from eps_start down to eps over the first outer iterations
    // (ratio `scaling` per iteration); 0 keeps eps fixed (POT's scheme).
    double eps_start = 0;
    double scaling = 0.8;
    double inner_tol = 1e-9;  // marginal tolerance (L1) of the inner Sinkhorn solves
    int inner_max_iter = 10000;
};

struct GromovResult {
    Matrix plan;          // N x M coupling
    double value = 0;     // GW(T) or FGW(T) at the returned plan (without entropy)
    int iterations = 0;   // outer iterations
    int inner_iterations = 0;
    double change = 0;    // the last outer change ||T - T_prev||_F
    bool converged = false;
};

// The tensor product L (x) T for the square loss.
Matrix gromov_tensor(const Matrix& c1, const Matrix& c2, const Vector& p, const Vector& q, const Matrix& plan);
// GW(T) for the square loss (no entropy).
double gromov_value(const Matrix& c1, const Matrix& c2, const Vector& p, const Vector& q, const Matrix& plan);

// Entropic GW between two metric spaces given by symmetric distance matrices.
GromovResult entropic_gromov_wasserstein(const Matrix& c1, const Matrix& c2, const Vector& p, const Vector& q,
                                         const GromovOptions& options = {});
// Fused GW with a feature cost M (N x M); options.alpha weighs the structure.
GromovResult entropic_fused_gromov_wasserstein(const Matrix& feature_cost, const Matrix& c1, const Matrix& c2,
                                               const Vector& p, const Vector& q, const GromovOptions& options = {});
// Euclidean distance matrix of a cloud (the usual metric-space input).
Matrix distance_matrix(const Points& x);

}  // namespace orbit::ot
