#pragma once
// Entropic partial transport (Benamou et al. 2015): move exactly `mass` units,
//   min_P <C,P> + eps sum P (log P - 1)   s.t.  P 1 <= a,  P^T 1 <= b,  sum P = mass,
// with 0 < mass <= min(|a|, |b|). As in POT's entropic_partial_wasserstein, the
// entropy has no reference measure. Solved by exact block-coordinate ascent
// on the dual in the log domain (the log form of Dykstra's projections):
//   f_i = min(0, eps log a_i - eps LSE_j((g_j + k - C_ij)/eps)), g likewise,
//   k   = eps log(mass) - eps LSE_ij((f_i + g_j - C_ij)/eps),
// and P_ij = exp((f_i + g_j + k - C_ij)/eps). The returned f includes k.
// Zero-weight points carry no mass; their potentials are -inf.
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::ot {

// Uses eps, tol (on the KKT residual of the marginal inequalities, in `norm`),
// max_iter, check_every and plan from the options.
SinkhornResult partial(const Matrix& cost, const Vector& a, const Vector& b, double mass,
                       const SinkhornOptions& opt = {});
SinkhornResult partial(const Points& x, const Vector& a, const Points& y, const Vector& b, const CostSpec& c,
                       double mass, const SinkhornOptions& opt = {});

// Exact partial transport without entropy (POT's partial_wasserstein):
//   min <C,P>  s.t.  P 1 <= a,  P^T 1 <= b,  sum P = mass,
// solved by the exact solver on the problem extended by one dummy point per
// side. f, g are the extended problem's optimal potentials on the real
// points; dual = its dual objective (= <C,P> at the optimum).
SinkhornResult exact_partial(const Matrix& cost, const Vector& a, const Vector& b, double mass,
                             const SinkhornOptions& opt = {});

}  // namespace orbit::ot
