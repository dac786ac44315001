#pragma once
// Isotropic Gaussian mixtures: parameters from soft assignments, posteriors,
// and EM fitting.
//
// From posteriors gamma [N,K] (rows sum to 1), as in UDPReg:
//   pi_k = mean_i gamma_ik,  mu_k = sum_i gamma_ik x_i / (N pi_k),
//   sigma_k^2 = sum_i gamma_ik |x_i - mu_k|^2 / (D N pi_k).
// Posteriors are computed in the log domain (log-sum-exp over components), so
// far points never underflow to 0/0.
#include <cstdint>

#include "orbit/core/random.hpp"
#include "orbit/core/types.hpp"

namespace orbit::gmm {

struct Mixture {
    Points means;      // K x D
    Vector weights;    // K, sums to 1
    Vector variances;  // K, isotropic sigma_k^2
    std::int64_t size() const { return means.rows(); }
};

// Mixture parameters from soft assignments. Components with (almost) no mass
// keep weight ~0, mean at the cloud centroid and variance floor_variance.
Mixture from_posteriors(const Points& x, const Matrix& gamma, double floor_variance = 1e-12);

// gamma_ik = pi_k N(x_i | mu_k, sigma_k^2 I) / sum_l (...). Optionally returns the
// mean log-likelihood per point.
Matrix posteriors(const Points& x, const Mixture& m, double* mean_loglik = nullptr);

struct FitOptions {
    int components = 16;
    int max_iterations = 50;
    double tolerance = 1e-6;     // on the change of the mean log-likelihood
    double min_variance = 0;     // 0: 1e-6 times the cloud's variance
};

struct FitResult {
    Mixture mixture;
    Matrix gamma;        // N x K posteriors of the fitted mixture
    int iterations = 0;
    double mean_loglik = 0;
};

// EM from farthest-point seeds: the first seed is the point farthest from the
// centroid, then each next seed is the point farthest from those chosen, so the
// fit moves with the cloud under rigid motions (no random start is needed; the
// rng only breaks exact ties in distance).
FitResult fit(const Points& x, const FitOptions& options, Rng& rng);

}  // namespace orbit::gmm
