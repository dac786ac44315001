#pragma once
// Debiased Sinkhorn divergence (Feydy et al. 2019):
//   S(a, b) = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2
// with OT_eps the optimal value of the entropic problem (its dual objective at
// convergence). S >= 0, S(a, a) = 0, and S interpolates between OT (eps -> 0)
// and an MMD (eps -> inf). The self problems use symmetric updates; identical
// inputs give exactly 0.
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::ot {

struct DivergenceResult {
    double value = 0;       // S from the entropic optima (GeomLoss)
    // POT's empirical_sinkhorn_divergence: max(0, <C,P_ab> - <C,P_aa>/2 - <C,P_bb>/2),
    // the transport costs of the same three entropic plans.
    double cost_value = 0;
    SinkhornResult xy, xx, yy;  // the three transport problems
    bool converged() const { return xy.converged && xx.converged && yy.converged; }
    bool finite() const { return xy.finite && xx.finite && yy.finite; }
};

DivergenceResult sinkhorn_divergence(const Points& x, const Vector& a, const Points& y, const Vector& b,
                                     const CostSpec& c, const SinkhornOptions& opt = {});
// Explicit costs: Cxy (N x M), Cxx (N x N), Cyy (M x M).
DivergenceResult sinkhorn_divergence(const Matrix& cxy, const Matrix& cxx, const Matrix& cyy, const Vector& a,
                                     const Vector& b, const SinkhornOptions& opt = {});

}  // namespace orbit::ot
