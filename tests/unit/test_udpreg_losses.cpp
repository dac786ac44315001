// UDPReg's unsupervised losses: values on analytic cases and every gradient
// against central finite differences in float64.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "orbit/core/random.hpp"
#include "orbit/udpreg/losses.hpp"

using namespace orbit;
using namespace orbit::udpreg;
using M = Mat<double>;

namespace {

M random_mat(int r, int c, Rng& rng, double lo = -1, double hi = 1) {
    M m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(lo, hi);
    return m;
}

M softmax_rows(const M& a) {
    M e = (a.colwise() - a.rowwise().maxCoeff()).array().exp().matrix();
    return (e.array().colwise() / e.rowwise().sum().array()).matrix();
}

// Largest relative error between `analytic` and the central difference of f at x.
double fd_error(M x, const std::function<double(const M&)>& f, const M& analytic) {
    REQUIRE(analytic.rows() == x.rows());
    REQUIRE(analytic.cols() == x.cols());
    const double h = 1e-6;
    double worst = 0;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        const double keep = x.data()[i];
        x.data()[i] = keep + h;
        const double up = f(x);
        x.data()[i] = keep - h;
        const double dn = f(x);
        x.data()[i] = keep;
        const double num = (up - dn) / (2 * h);
        worst = std::max(worst, std::abs(num - analytic.data()[i]) / std::max(1.0, std::abs(num)));
    }
    return worst;
}

}  // namespace

TEST_CASE("posterior consistency: gradients match finite differences", "[udpreg]") {
    Rng rng(3);
    M p = random_mat(12, 3, rng), gamma = softmax_rows(random_mat(12, 4, rng, -2, 2));
    CloudGrad<double> g = posterior_consistency(p, gamma, true);
    CHECK(fd_error(gamma, [&](const M& q) { return posterior_consistency(p, q, false).value; }, g.d_gamma) < 1e-6);
    CHECK(fd_error(p, [&](const M& q) { return posterior_consistency(q, gamma, false).value; }, g.d_points) < 1e-6);
}

TEST_CASE("posterior consistency: zero for separated hard clusters, large for mixed ones", "[udpreg]") {
    // Two tight clusters far apart, assigned one each: the mixture's posteriors are the assignment.
    M p(6, 3);
    p << 0, 0, 0, 0.01, 0, 0, 0, 0.01, 0, 5, 5, 5, 5.01, 5, 5, 5, 5.01, 5;
    M hard = M::Zero(6, 2);
    hard.topRows(3).col(0).setOnes();
    hard.bottomRows(3).col(1).setOnes();
    CHECK(posterior_consistency(p, hard, false).value < 1e-6);
    // Assignments that cut across the clusters: each component straddles both.
    M cross = M::Zero(6, 2);
    for (int i = 0; i < 6; ++i) cross(i, i % 2) = 1;
    CHECK(posterior_consistency(p, cross, false).value > 0.5);
}

TEST_CASE("mixing balance: KL to uniform, zero when balanced, gradient", "[udpreg]") {
    Rng rng(4);
    M gamma = softmax_rows(random_mat(10, 5, rng, -2, 2));
    CloudGrad<double> g = mixing_balance(gamma);
    CHECK(fd_error(gamma, [](const M& q) { return mixing_balance(q).value; }, g.d_gamma) < 1e-6);
    M uniform = M::Constant(10, 5, 0.2);
    CHECK(std::abs(mixing_balance(uniform).value) < 1e-12);
    M one = M::Zero(10, 5);
    one.col(2).setOnes();
    CHECK(mixing_balance(one).value == Approx(std::log(5.0)).margin(1e-9));
}

TEST_CASE("point entropy: log K at uniform, 0 when one-hot, gradient, IIC identity, uniform unstable", "[udpreg]") {
    Rng rng(22);
    M gamma = softmax_rows(random_mat(11, 5, rng, -2, 2));
    CloudGrad<double> g = point_entropy(gamma);
    CHECK(fd_error(gamma, [](const M& q) { return point_entropy(q).value; }, g.d_gamma) < 1e-6);
    CHECK(point_entropy(M(M::Constant(11, 5, 0.2))).value == Approx(std::log(5.0)).epsilon(1e-12));
    M one = M::Zero(11, 5);
    for (int i = 0; i < 11; ++i) one(i, i % 5) = 1;
    CHECK(std::abs(point_entropy(one).value) < 1e-12);
    // With the balance: log K minus the information between a point and its
    // component, I = (1/N) sum_ik gamma_ik log(gamma_ik / pi_k), computed directly.
    Eigen::RowVectorXd pi = gamma.colwise().mean();
    double info = 0;
    for (Eigen::Index i = 0; i < gamma.rows(); ++i)
        for (Eigen::Index k = 0; k < gamma.cols(); ++k) info += gamma(i, k) * std::log(gamma(i, k) / pi(k)) / 11.0;
    CHECK(mixing_balance(gamma).value + g.value == Approx(std::log(5.0) - info).epsilon(1e-12));
    // Near-uniform posteriors: the balance's gradient at the logits vanishes
    // for a perturbation that keeps the mean, the entropy's descent grows it.
    M a = random_mat(11, 5, rng);
    a.rowwise() -= a.colwise().mean();  // columns of zero mean: pi stays (to first order) uniform
    M near = softmax_rows(M(1e-3 * a));
    auto logit_grad = [&](const M& d) {
        Eigen::VectorXd dot = (near.array() * d.array()).rowwise().sum();
        return M((near.array() * (d.colwise() - dot).array()).matrix());
    };
    const double along_entropy = -(logit_grad(point_entropy(near).d_gamma).array() * a.array()).sum();
    const double along_balance = -(logit_grad(mixing_balance(near).d_gamma).array() * a.array()).sum();
    CHECK(along_entropy > 0);
    CHECK(std::abs(along_balance) < 1e-3 * along_entropy);
}

TEST_CASE("component spread: 1 at uniform posteriors, small for compact patches, gradient", "[udpreg]") {
    Rng rng(21);
    M p = random_mat(14, 3, rng), gamma = softmax_rows(random_mat(14, 5, rng, -2, 2));
    CloudGrad<double> g = component_spread(p, gamma);
    CHECK(fd_error(gamma, [&](const M& q) { return component_spread(p, q).value; }, g.d_gamma) < 1e-6);
    CHECK(component_spread(p, M(M::Constant(14, 5, 0.2))).value == Approx(1.0).epsilon(1e-5));
    // two tight clusters, one component each: the spread is their variance over the cloud's
    M q(6, 3);
    q << 0, 0, 0, 0.01, 0, 0, 0, 0.01, 0, 5, 5, 5, 5.01, 5, 5, 5, 5.01, 5;
    M hard = M::Zero(6, 2);
    hard.topRows(3).col(0).setOnes();
    hard.bottomRows(3).col(1).setOnes();
    CHECK(component_spread(q, hard).value < 1e-5);
    // at uniform posteriors the gradient already prefers, per point, the component whose centroid is nearer
    M near = M::Constant(6, 2, 0.5);
    near(0, 0) = near(3, 1) = 0.6;
    near(0, 1) = near(3, 0) = 0.4;
    CloudGrad<double> n = component_spread(q, near);
    CHECK(n.d_gamma(1, 0) < n.d_gamma(1, 1));
    CHECK(n.d_gamma(4, 1) < n.d_gamma(4, 0));
}

TEST_CASE("self-consistency: gradients with respect to posteriors and features", "[udpreg]") {
    Rng rng(5);
    M x = random_mat(15, 3, rng), f = random_mat(15, 6, rng), gamma = softmax_rows(random_mat(15, 4, rng, -2, 2));
    CloudGrad<double> g = self_consistency_loss(x, f, gamma, 0.7, 0.5, 0.3);
    CHECK(fd_error(gamma, [&](const M& q) { return self_consistency_loss(x, f, q, 0.7, 0.5, 0.3).value; }, g.d_gamma) < 1e-6);
    CHECK(fd_error(f, [&](const M& q) { return self_consistency_loss(x, q, gamma, 0.7, 0.5, 0.3).value; }, g.d_points) < 1e-6);
    // The sharpening term adds its weight times the point entropy.
    CHECK(g.value == Approx(self_consistency_loss(x, f, gamma, 0.7, 0.5).value + 0.3 * point_entropy(gamma).value).epsilon(1e-12));
    // Scaling the features changes nothing (they enter as unit rows).
    CHECK(self_consistency_loss(x, M(3.0 * f), gamma, 0.7, 0.5, 0.3).value == Approx(g.value).epsilon(1e-12));
}

TEST_CASE("cross-consistency: gradients, and aligned clouds beat misaligned ones", "[udpreg]") {
    Rng rng(6);
    M x = random_mat(10, 3, rng), y = random_mat(8, 3, rng);
    M gs = softmax_rows(random_mat(10, 3, rng, -2, 2)), gt = softmax_rows(random_mat(8, 3, rng, -2, 2));
    std::vector<std::pair<int, int>> pairs = {{0, 1}, {3, 3}, {4, 0}, {9, 7}, {5, 2}};
    PairGrad<double> g = cross_consistency_loss(x, gs, y, gt, pairs);
    CHECK(fd_error(gs, [&](const M& q) { return cross_consistency_loss(x, q, y, gt, pairs).value; }, g.d_gamma_s) < 1e-6);
    CHECK(fd_error(gt, [&](const M& q) { return cross_consistency_loss(x, gs, y, q, pairs).value; }, g.d_gamma_t) < 1e-6);
    // Two clusters; the target is the source itself. Same labels on both: consistent. Swapped labels: not.
    M c(6, 3);
    c << 0, 0, 0, 0.1, 0, 0, 0, 0.1, 0, 3, 3, 3, 3.1, 3, 3, 3, 3.1, 3;
    M lab = M::Zero(6, 2);
    lab.topRows(3).col(0).setOnes();
    lab.bottomRows(3).col(1).setOnes();
    M swapped = lab.rowwise().reverse();
    std::vector<std::pair<int, int>> self_pairs = {{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}};
    // Same labels: the union is consistent and the pairs share all the information (log 2).
    CHECK(cross_consistency_loss(c, lab, c, lab, self_pairs).value == Approx(-std::log(2.0)).margin(1e-6));
    // Swapped labels: the pairs still determine each other, but the union's components straddle both clusters.
    CHECK(cross_consistency_loss(c, lab, c, swapped, self_pairs).value > cross_consistency_loss(c, lab, c, lab, self_pairs).value + 0.5);
}

TEST_CASE("paired information: gradients, log K for agreeing one-hot pairs, 0 for constant posteriors", "[udpreg]") {
    Rng rng(9);
    M gs = softmax_rows(random_mat(8, 3, rng, -2, 2)), gt = softmax_rows(random_mat(6, 3, rng, -2, 2));
    std::vector<std::pair<int, int>> pairs = {{0, 1}, {2, 3}, {7, 0}, {5, 5}};
    PairGrad<double> g = paired_information(gs, gt, pairs);
    CHECK(fd_error(gs, [&](const M& q) { return paired_information(q, gt, pairs).value; }, g.d_gamma_s) < 1e-6);
    CHECK(fd_error(gt, [&](const M& q) { return paired_information(gs, q, pairs).value; }, g.d_gamma_t) < 1e-6);
    M eye = M::Identity(3, 3);
    std::vector<std::pair<int, int>> id = {{0, 0}, {1, 1}, {2, 2}};
    CHECK(paired_information(eye, eye, id).value == Approx(-std::log(3.0)).margin(1e-9));
    M flat = M::Constant(3, 3, 1.0 / 3);
    CHECK(std::abs(paired_information(flat, flat, id).value) < 1e-9);
}

TEST_CASE("local contrastive: gradients, and matched features beat shuffled ones", "[udpreg]") {
    Rng rng(7);
    M fs = random_mat(9, 5, rng), ft = random_mat(7, 5, rng);
    std::vector<std::pair<int, int>> pairs = {{0, 1}, {2, 3}, {4, 0}, {8, 6}, {5, 2}};
    PairGrad<double> g = local_contrastive_loss(fs, ft, pairs, 0.3);
    CHECK(fd_error(fs, [&](const M& q) { return local_contrastive_loss(q, ft, pairs, 0.3).value; }, g.d_f_s) < 1e-6);
    CHECK(fd_error(ft, [&](const M& q) { return local_contrastive_loss(fs, q, pairs, 0.3).value; }, g.d_f_t) < 1e-6);
    // Identical features on both sides: each point's partner is its most similar row.
    M same = random_mat(6, 8, rng);
    std::vector<std::pair<int, int>> id = {{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}};
    std::vector<std::pair<int, int>> wrong = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 0}};
    CHECK(local_contrastive_loss(same, same, id, 0.1).value < local_contrastive_loss(same, same, wrong, 0.1).value);
    // With fewer than two pairs there is nothing to contrast.
    CHECK(local_contrastive_loss(fs, ft, {{0, 0}}, 0.3).value == 0.0);
}

TEST_CASE("losses in float agree with double", "[udpreg]") {
    Rng rng(8);
    M x = random_mat(20, 3, rng), f = random_mat(20, 6, rng), gamma = softmax_rows(random_mat(20, 4, rng, -2, 2));
    double vd = self_consistency_loss(x, f, gamma, 1.0).value;
    float vf = self_consistency_loss<float>(x.cast<float>(), f.cast<float>(), gamma.cast<float>(), 1.0f).value;
    CHECK(vf == Approx(vd).epsilon(1e-4));
}
