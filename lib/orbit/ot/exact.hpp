#pragma once
// Exact (unregularized) optimal transport for small problems.
//
// assignment: the optimal one-to-one matching of a square cost matrix
//   (Hungarian method with potentials, O(n^3); n up to a few thousand).
// emd: the exact transport plan between weighted marginals (successive
//   shortest paths with Dijkstra on reduced costs; O((N+M)^3) in practice,
//   meant for N, M up to a few hundred). Used as the reference for the
//   entropic solvers and for exact minibatch couplings.
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::ot {

// perm[i] = column matched to row i, minimizing sum_i cost(i, perm[i]).
// cost must be square, non-empty and finite.
std::vector<int> assignment(const Matrix& cost);

// The plan P >= 0 with P 1 = a, P^T 1 = b minimizing <cost, P>. a and b must be
// non-negative with equal sums (to 1e-9 relative); cost is a.size() x b.size().
// +inf costs are forbidden pairs (POT's convention). With f and g, also the
// optimal dual potentials: f_i + g_j <= C_ij, with equality where P_ij > 0,
// and <a,f> + <b,g> = <C,P>, centered as POT's emd (center_ot_dual).
Matrix emd(const Vector& a, const Vector& b, const Matrix& cost, Vector* f = nullptr, Vector* g = nullptr);

// <cost, P> for the optimal plan (convenience).
double emd_cost(const Vector& a, const Vector& b, const Matrix& cost);

}  // namespace orbit::ot
