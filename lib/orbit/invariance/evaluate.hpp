#pragma once
// Invariance and equivariance metrics of a model under a group.
//
// For each cloud x_b and group element g_k (shared by all clouds, so errors can
// be broken down per element), the model is run on x_b and g_k x_b and
//   error_bk = f(g_k x_b) - rho_out(g_k) f(x_b)
// is measured: max and mean absolute entry, and the relative error
// |error|_2 / |rho_out(g_k) f(x_b)|_2 (the denominator falls back to the mean
// output norm when the expected output is zero). Class labels are compared by
// consistency: the fraction of (cloud, element) pairs whose prediction (argmax
// of the scores, or the label itself) does not change.
// Normalized variance: the variance of rho_out(g)^-1 f(g x) over the elements,
// divided by the variance of f(x) over the clouds (1 means "the model changes
// as much under the group as across the data"; 0 means invariant).
// Explanations (per-point attributions [N] or [N,F]) follow the points under
// permutations and keep their values: explanation invariance is e(g x) = rho'(g) e(x),
// reported also as the mean cosines of Crabbe and van der Schaar (2023).
// Verdict: every pair within |error|_2 <= tolerance |expected|_2 + atol
// (the absolute part covers outputs that are zero).
// Lie derivatives per generator X, by central differences with step h:
//   L_X f(x) = [rho(exp(-hX)) f(exp(hX) x) - rho(exp(hX)) f(exp(-hX) x)] / 2h,
// reported as the mean and max over clouds of |L_X f(x)|_2.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/invariance/groups.hpp"
#include "orbit/invariance/model.hpp"

namespace orbit::invariance {

struct EvalOptions {
    int samples = 16;          // random elements (ignored with exhaustive)
    bool exhaustive = false;   // every element of a finite group
    OutputType type = OutputType::invariant;
    bool per_point = false;    // output rows follow the points under permutations
    bool lie = true;
    double lie_step = 1e-4;
    // Verdict (numpy allclose semantics): every pair has |error|_2 <= tolerance * |expected|_2 + atol;
    // for labels, consistency 1.
    double tolerance = 1e-6;
    double atol = 1e-12;
    std::uint64_t seed = 0;
};

struct LieStat {
    std::string name;
    double mean = 0, max = 0;
    std::vector<double> per_cloud;
};

struct EvalReport {
    std::string group, model, output_type;
    std::vector<std::size_t> output_shape;  // per cloud
    std::vector<Element> elements;          // K
    Matrix abs_max, abs_mean, rel;          // [B,K]
    Matrix consistent;                      // [B,K] 1/0 (labels only; empty otherwise)
    double max_abs = 0, mean_abs = 0, max_rel = 0, mean_rel = 0;
    double consistency = -1;                // labels only
    // Explanation outputs (Crabbe and van der Schaar): mean over (cloud, element) of
    // cos(e(g x), e(x)) and of cos(e(g x), rho'(g) e(x)), rho' moving the attributions with the points.
    Matrix explanation_inv, explanation_equiv;  // [B,K] (explanation only)
    double explanation_invariance = -1, explanation_equivariance = -1;
    double normalized_variance = -1;        // -1 when undefined (one cloud, or constant outputs)
    std::vector<LieStat> lie;
    double tolerance = 0, atol = 0;
    std::int64_t failures = 0;              // (cloud, element) pairs outside the tolerance
    bool passed = false;
    std::int64_t evaluations = 0;           // clouds passed to the model
    std::string magnitude_name;             // "rotation angle (deg)", "translation", "log scale", "element"
    std::vector<double> magnitude;          // [K]

    nlohmann::json json() const;
};

EvalReport evaluate(Model& model, const Group& g, const std::vector<Points>& clouds, const EvalOptions& opt);

}  // namespace orbit::invariance
