#include "orbit/flows/vmf.hpp"

#include <Eigen/Geometry>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "orbit/core/error.hpp"

namespace orbit::flows {

namespace {

constexpr double kKappaMin = 1e-6, kKappaMax = 1e5;

// Row-wise log-sum-exp of lp [N, K].
Vector log_sum_exp_rows(const Matrix& lp) {
    Vector out(lp.rows());
    for (Eigen::Index i = 0; i < lp.rows(); ++i) {
        const double m = lp.row(i).maxCoeff();
        out(i) = m + std::log((lp.row(i).array() - m).exp().sum());
    }
    return out;
}

// log w_k + log C(kappa_k) + kappa_k mu_k . x for every row and component.
Matrix component_log_densities(const VmfMixture& v, const Matrix& x) {
    Matrix lp = x * v.mu.transpose();
    for (int k = 0; k < v.size(); ++k)
        lp.col(k) = (lp.col(k) * v.kappa[std::size_t(k)]).array() + std::log(v.weight[std::size_t(k)]) +
                    vmf_log_normalizer(v.kappa[std::size_t(k)]);
    return lp;
}

}  // namespace

// The concentration whose mean resultant length A(kappa) = coth kappa - 1 / kappa
// is r (the exact M-step on S^2): Newton from Banerjee et al.'s approximation
// r (3 - r^2) / (1 - r^2), with the series A = k / 3 - k^3 / 45 near 0.
double kappa_for_resultant(double r) {
    double k = std::clamp(r * (3 - r * r) / (1 - r * r), kKappaMin, kKappaMax);
    for (int it = 0; it < 30; ++it) {
        double a, da;
        if (k < 1e-3) {
            a = k / 3 - k * k * k / 45;
            da = 1.0 / 3 - k * k / 15;
        } else {
            const double sh = k < 350 ? std::sinh(k) : std::numeric_limits<double>::infinity();
            a = 1 / std::tanh(k) - 1 / k;
            da = 1 / (k * k) - 1 / (sh * sh);
        }
        if (!(da > 0)) break;
        const double next = std::clamp(k - (a - r) / da, 0.5 * k, 2 * k);  // damped: stays positive
        const bool done = std::abs(next - k) <= 1e-12 * k;
        k = std::clamp(next, kKappaMin, kKappaMax);
        if (done) break;
    }
    return k;
}

namespace {

// k-means++ seeding on the distance 1 - cos.
Matrix seed_directions(const Matrix& x, int K, Rng& rng) {
    const Eigen::Index n = x.rows();
    Matrix mu(K, 3);
    mu.row(0) = x.row(Eigen::Index(rng.below(std::uint64_t(n))));
    Vector d = Vector::Constant(n, std::numeric_limits<double>::infinity());
    for (int k = 1; k < K; ++k) {
        d = d.cwiseMin((1.0 - (x * mu.row(k - 1).transpose()).array()).max(1e-12).matrix());
        const double u = rng.uniform() * d.sum();
        double acc = 0;
        Eigen::Index pick = n - 1;
        for (Eigen::Index i = 0; i < n; ++i) {
            acc += d(i);
            if (acc > u) {
                pick = i;
                break;
            }
        }
        mu.row(k) = x.row(pick);
    }
    return mu;
}

// One EM run from seeded directions; returns the mixture and its mean training log-likelihood.
VmfMixture em_run(const Matrix& x, int K, Rng& rng, int iters, double& mean_ll) {
    const Eigen::Index n = x.rows();
    VmfMixture v;
    v.mu = seed_directions(x, K, rng);
    v.kappa.assign(std::size_t(K), 10.0);
    v.weight.assign(std::size_t(K), 1.0 / K);
    double prev = -std::numeric_limits<double>::infinity();
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMajor r(n, K);  // log-densities, then responsibilities, one row per point
    Eigen::RowVectorXd c(K);
    for (int it = 0; it < iters; ++it) {
        for (int k = 0; k < K; ++k)
            c(k) = std::log(v.weight[std::size_t(k)]) + vmf_log_normalizer(v.kappa[std::size_t(k)]);
        r.noalias() = x * (v.mu.transpose() * Eigen::Map<const Eigen::VectorXd>(v.kappa.data(), K).asDiagonal());
        r.rowwise() += c;
        double sum_ll = 0;
        for (Eigen::Index i = 0; i < n; ++i) {  // one pass of exp: log-sum-exp and the normalized row together
            auto row = r.row(i);
            const double m = row.maxCoeff();
            row = (row.array() - m).exp();
            const double s = row.sum();
            row /= s;
            sum_ll += m + std::log(s);
        }
        const double mean = sum_ll / double(n);
        const Matrix s = r.transpose() * x;  // [K, 3]
        const Eigen::RowVectorXd nks = r.colwise().sum();
        for (int k = 0; k < K; ++k) {
            const double nk = nks(k) + 1e-10, norm = s.row(k).norm();
            v.weight[std::size_t(k)] = nk / double(n);
            if (norm > 1e-12) v.mu.row(k) = s.row(k) / norm;
            v.kappa[std::size_t(k)] = kappa_for_resultant(std::clamp(norm / nk, 1e-6, 1 - 1e-9));
        }
        double wsum = 0;  // the 1e-10 floors: renormalize so the weights sum to one
        for (double w : v.weight) wsum += w;
        for (double& w : v.weight) w /= wsum;
        if (mean - prev < 1e-7) break;
        prev = mean;
    }
    mean_ll = v.log_density(x).mean();
    return v;
}

}  // namespace

double vmf_log_normalizer(double kappa) {
    const double k = std::max(kappa, 1e-12);
    if (k < 1e-4) return -std::log(4 * std::numbers::pi) - k * k / 6;  // kappa / sinh kappa = 1 - kappa^2 / 6 + ...
    return std::log(k) - std::log(2 * std::numbers::pi) - k - std::log1p(-std::exp(-2 * k));
}

double VmfMixture::log_density_at(const Eigen::Ref<const Eigen::RowVectorXd>& x) const {
    double m = -std::numeric_limits<double>::infinity();
    std::vector<double> t(weight.size());
    for (std::size_t k = 0; k < weight.size(); ++k) {
        t[k] = std::log(weight[k]) + vmf_log_normalizer(kappa[k]) + kappa[k] * mu.row(Eigen::Index(k)).dot(x);
        m = std::max(m, t[k]);
    }
    double s = 0;
    for (double v : t) s += std::exp(v - m);
    return m + std::log(s);
}

Vector VmfMixture::log_density(const Matrix& x) const {
    require(x.cols() == 3, "a von Mises-Fisher mixture lives on S^2 (rows of 3)");
    return log_sum_exp_rows(component_log_densities(*this, x));
}

Eigen::RowVectorXd VmfMixture::sample(Rng& rng) const {
    // the component, then the cosine w to its mean (Wood's inversion), then the angle about it
    double u = rng.uniform(), acc = 0;
    std::size_t k = weight.size() - 1;
    for (std::size_t j = 0; j < weight.size(); ++j) {
        acc += weight[j];
        if (u < acc) {
            k = j;
            break;
        }
    }
    const double kap = kappa[k];
    const double v = 1.0 - rng.uniform();  // (0, 1]
    const double e = std::exp(-2 * kap);
    const double w = std::clamp(1 + std::log(e + v * (-std::expm1(-2 * kap))) / kap, -1.0, 1.0);
    const double phi = 2 * std::numbers::pi * rng.uniform();
    const Eigen::Vector3d m = mu.row(Eigen::Index(k)).transpose();
    // an orthonormal pair perpendicular to m
    const Eigen::Vector3d a = std::abs(m(0)) < 0.9 ? Eigen::Vector3d::UnitX() : Eigen::Vector3d::UnitY();
    const Eigen::Vector3d e1 = (a - a.dot(m) * m).normalized(), e2 = m.cross(e1);
    const double s = std::sqrt(std::max(0.0, 1 - w * w));
    Eigen::RowVectorXd x = (w * m + s * (std::cos(phi) * e1 + std::sin(phi) * e2)).transpose();
    return x / x.norm();
}

nlohmann::json VmfMixture::to_json() const {
    nlohmann::json mus = nlohmann::json::array();
    for (Eigen::Index k = 0; k < mu.rows(); ++k) mus.push_back({mu(k, 0), mu(k, 1), mu(k, 2)});
    return {{"weight", weight}, {"kappa", kappa}, {"mu", mus}};
}

VmfMixture VmfMixture::from_json(const nlohmann::json& j) {
    VmfMixture v;
    v.weight = j.at("weight").get<std::vector<double>>();
    v.kappa = j.at("kappa").get<std::vector<double>>();
    const auto mus = j.at("mu").get<std::vector<std::vector<double>>>();
    const std::size_t K = v.weight.size();
    if (K == 0 || v.kappa.size() != K || mus.size() != K)
        throw Error("a von Mises-Fisher mixture needs as many weights, concentrations and mean directions (K >= 1)");
    v.mu.resize(Eigen::Index(K), 3);
    double total = 0;
    for (std::size_t k = 0; k < K; ++k) {
        if (mus[k].size() != 3) throw Error("a von Mises-Fisher mean direction has 3 coordinates");
        for (int c = 0; c < 3; ++c) v.mu(Eigen::Index(k), c) = mus[k][std::size_t(c)];
        if (std::abs(v.mu.row(Eigen::Index(k)).norm() - 1) > 1e-6 || !(v.weight[k] > 0) || !(v.kappa[k] > 0) ||
            !std::isfinite(v.kappa[k]))
            throw Error("a von Mises-Fisher component needs a unit mean, a positive weight and a positive finite kappa");
        total += v.weight[k];
    }
    if (std::abs(total - 1) > 1e-6) throw Error("the von Mises-Fisher mixture weights must sum to 1");
    return v;
}

VmfMixture fit_vmf_mixture(const Matrix& x, int K, std::uint64_t seed, int restarts, int iters) {
    require(x.cols() == 3, "a von Mises-Fisher mixture lives on S^2 (rows of 3)");
    require(K >= 1 && x.rows() >= K, "a von Mises-Fisher mixture of K components needs K >= 1 and at least K rows");
    require(restarts >= 1 && iters >= 1, "EM needs restarts >= 1 and iters >= 1");
    VmfMixture best;
    double best_ll = -std::numeric_limits<double>::infinity();
    for (int r = 0; r < restarts; ++r) {
        Rng rng(seed, mix64(0x7f3f, std::uint64_t(K) * 64 + std::uint64_t(r)));
        double ll = 0;
        VmfMixture v = em_run(x, K, rng, iters, ll);
        if (ll > best_ll || r == 0) {
            best_ll = ll;
            best = std::move(v);
        }
    }
    return best;
}

namespace {

// The size among 1, 2, 4, ..., max_k (and K <= rows of fit / 10) whose mixture,
// fitted on `fit` with `restarts` starts, is likeliest on `held` (the first of
// equals); *best_fit, when given, receives that fit.
int choose_vmf_size(const Matrix& fit, const Matrix& held, int max_k, std::uint64_t seed, int restarts,
                    VmfMixture* best_fit) {
    int best_k = 1;
    double best = -std::numeric_limits<double>::infinity();
    for (int K = 1; K <= std::max(1, max_k) && K <= std::max<Eigen::Index>(1, fit.rows() / 10); K *= 2) {
        VmfMixture m = fit_vmf_mixture(fit, K, seed, restarts);
        const double v = m.log_density(held).mean();
        if (v > best || (K == 1 && best_fit)) {
            best = v;
            best_k = K;
            if (best_fit) *best_fit = std::move(m);
        }
    }
    return best_k;
}

}  // namespace

VmfMixture fit_vmf_mixture_auto(const Matrix& x, int max_k, std::uint64_t seed, int* chosen_k) {
    require(x.cols() == 3, "a von Mises-Fisher mixture lives on S^2 (rows of 3)");
    require(x.rows() >= 10, "choosing the size of a von Mises-Fisher mixture needs at least 10 rows");
    Rng rng(seed, 0x7f3e);
    const auto perm = rng.permutation(x.rows());
    const Eigen::Index nv = x.rows() / 5, nt = x.rows() - nv;
    Matrix fit(nt, 3), held(nv, 3);
    for (Eigen::Index i = 0; i < nt; ++i) fit.row(i) = x.row(perm[std::size_t(i)]);
    for (Eigen::Index i = 0; i < nv; ++i) held.row(i) = x.row(perm[std::size_t(nt + i)]);
    const int best_k = choose_vmf_size(fit, held, max_k, seed, 1, nullptr);  // one start per candidate
    if (chosen_k) *chosen_k = best_k;
    return fit_vmf_mixture(x, best_k, seed);
}

VmfMixture fit_vmf_mixture_validated(const Matrix& x, const Matrix& val, int max_k, std::uint64_t seed, int* chosen_k) {
    require(x.cols() == 3 && val.cols() == 3, "a von Mises-Fisher mixture lives on S^2 (rows of 3)");
    require(val.rows() >= 10, "choosing the size of a von Mises-Fisher mixture needs at least 10 validation rows");
    VmfMixture best_fit;
    const int best_k = choose_vmf_size(x, val, max_k, seed, 3, &best_fit);
    if (chosen_k) *chosen_k = best_k;
    return best_fit;
}

}  // namespace orbit::flows
