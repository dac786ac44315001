#pragma once
// Mixtures of von Mises-Fisher distributions on the unit sphere S^2, the
// base distribution a Riemannian flow on the sphere may start from instead of
// the uniform one (a base close to the data leaves the field less to carry).
//
// Density per unit area (the measure of manifolds.hpp):
//   p(x) = sum_k w_k kappa_k / (4 pi sinh kappa_k) exp(kappa_k mu_k . x).
// Fitting: EM (Banerjee, Dhillon, Ghosh and Sra, "Clustering on the unit
// hypersphere using von Mises-Fisher distributions", JMLR 2005), whose M-step
// on S^2 solves coth kappa - 1 / kappa = r for the mean resultant length r
// exactly (Newton from their closed-form approximation r (3 - r^2) / (1 - r^2)),
// k-means++ seeding on 1 - cos and a few restarts (the best training
// log-likelihood wins). Sampling: Wood's (1994) exact
// inversion on S^2, w = 1 + log(u + (1 - u) exp(-2 kappa)) / kappa for the
// cosine to the mean direction, then a uniform angle about it.
//
// Everything is sequential and seeded, so the same seed gives the same bits.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::flows {

// log(kappa / (4 pi sinh kappa)), the log normalizer of a vMF on S^2; stable for
// large kappa and with the uniform limit -log(4 pi) as kappa -> 0.
double vmf_log_normalizer(double kappa);

struct VmfMixture {
    std::vector<double> weight, kappa;
    Matrix mu;  // [K, 3] unit mean directions

    int size() const { return static_cast<int>(weight.size()); }
    // log p(x) per unit area, for a unit vector x (a row of 3).
    double log_density_at(const Eigen::Ref<const Eigen::RowVectorXd>& x) const;
    Vector log_density(const Matrix& x) const;
    // One draw (a unit vector).
    Eigen::RowVectorXd sample(Rng& rng) const;

    nlohmann::json to_json() const;
    static VmfMixture from_json(const nlohmann::json& j);  // checks the parameters
};

// The concentration of the vMF on S^2 whose mean resultant length E[mu . x] is r in (0, 1).
double kappa_for_resultant(double r);

// The maximum-likelihood mixture of K components for unit rows x [N, 3] (EM,
// `restarts` seeded starts, at most `iters` iterations each).
VmfMixture fit_vmf_mixture(const Matrix& x, int K, std::uint64_t seed, int restarts = 3, int iters = 200);

// K chosen among 1, 2, 4, ..., max_k (and K <= N / 10) by the mean log-likelihood
// on a seeded fifth of the rows held out of a fit on the rest (one EM start per
// candidate); the chosen K is then refitted on all rows (three starts). `chosen_k`, when given, receives K.
VmfMixture fit_vmf_mixture_auto(const Matrix& x, int max_k, std::uint64_t seed, int* chosen_k = nullptr);
// The same choice on validation rows of their own (at least 10): each candidate
// is fitted on all of x (three starts) and the fit of best mean log-likelihood
// on `val` is returned as it is.
VmfMixture fit_vmf_mixture_validated(const Matrix& x, const Matrix& val, int max_k, std::uint64_t seed,
                                     int* chosen_k = nullptr);

}  // namespace orbit::flows
