#pragma once
// Wasserstein barycenters of weighted point sets mu_1..mu_K with weights
// w_1..w_K (normalized to sum 1):  argmin_nu  sum_k w_k OT(nu, mu_k).
//
// Fixed support (nu = sum_i b_i delta_{y_i}, the y_i given):
//   Entropic: iterative Bregman projections (Benamou et al. 2015) in the log
//     domain. With P_k = exp((f_k,i + g_k,j - C_k,ij)/eps) (POT's kernel
//     exp(-C/eps), no reference measure):
//       g_k = eps log a_k - eps LSE_i((f_k,i - C_k,ij)/eps)     (P_k^T 1 = a_k)
//       s_k = -eps LSE_j((g_k,j - C_k,ij)/eps)                  (log K v_k = -s_k/eps)
//       log b = (d - sum_k w_k s_k)/eps,  f_k = eps log b + s_k (P_k 1 = b)
//     with d = 0; the fixed point of POT's bregman.barycenter.
//   Debiased (Janati et al. 2020, POT's barycenter_debiased): the same with
//     d the self-transport potential of b on its own support,
//       d = (d + eps log b - eps LSE_j((d_j - C_ij)/eps)) / 2   (c * K c = b, c = e^{d/eps}),
//     which removes the entropic blur of the plain barycenter.
//   Stops when sum_k |P_k 1 - b|_1 (and, debiased, |c * K c - b|_1) <= tol.
// Free support (Cuturi & Doucet 2014; the fixed point of Alvarez-Esteban et
//   al. 2016, POT's lp.free_support_barycenter): weights b fixed, locations
//   moved to the barycentric projections of exact plans under |x - y|^2,
//       Y <- sum_k w_k diag(1/b) T_k X_k,  T_k = emd(b, a_k, |Y - X_k|^2),
//   until sum |Y_new - Y|^2 <= tol.
#include <vector>

#include "orbit/ot/sinkhorn.hpp"

namespace orbit::ot {

enum class BarycenterMethod { Entropic, Debiased, Free };

struct BarycenterOptions {
    BarycenterMethod method = BarycenterMethod::Entropic;
    double eps = 0.01;      // entropic methods: regularization in cost units
    double tol = 1e-9;      // marginal violation (entropic) or squared displacement (free)
    int max_iter = 1000;
    CostSpec cost;          // |x - y|^p; the free method needs p = 2
};

// A weighted point set: one input measure, or the barycenter.
struct Measure {
    Points points;  // N x D
    Vector weights; // N, non-negative
};

struct BarycenterResult {
    Measure barycenter;        // the support (moved by the free method) and its weights
    double cost = 0;           // sum_k w_k <C_k, P_k>
    double marginal_error = 0; // the stopping criterion's last value
    int iterations = 0;
    bool converged = false;
    bool finite = true;        // false: a numerical failure (a potential became NaN)
};

// Inputs must have equal masses (to 1e-9 relative) and the support's
// dimension; weights must be non-negative with a positive sum. The support's
// own weights are the free method's fixed b (the entropic methods ignore
// them). Throws orbit::Error for unusable data.
BarycenterResult wasserstein_barycenter(const std::vector<Measure>& inputs, const std::vector<double>& weights,
                                        const Measure& support, const BarycenterOptions& opt = {});

}  // namespace orbit::ot
