#include "orbit/udpreg/losses.hpp"

#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"

namespace orbit::udpreg {

namespace {
template <class T>
void check_rows(const Mat<T>& p, const Mat<T>& gamma, const char* what) {
    require(p.rows() == gamma.rows() && p.rows() > 0 && gamma.cols() > 0,
            std::string(what) + ": expected one posterior row per point");
}
}  // namespace

template <class T>
CloudGrad<T> posterior_consistency(const Mat<T>& p, const Mat<T>& gamma, bool point_grad) {
    check_rows(p, gamma, "posterior consistency");
    const Eigen::Index n = p.rows(), k = gamma.cols(), d = p.cols();
    const T N = T(n), D = T(d);
    const T mass_eps = T(1e-6) * N;
    // Forward: the soft mixture, then its posteriors.
    Vec<T> nk = gamma.colwise().sum().transpose().array() + mass_eps;
    Mat<T> S = gamma.transpose() * p;                             // K x D
    Mat<T> mu = (S.array().colwise() / nk.array()).matrix();      // K x D
    Mat<T> d2 = ((-2 * p * mu.transpose()).rowwise() + mu.rowwise().squaredNorm().transpose()).colwise() +
                p.rowwise().squaredNorm();                        // N x K
    d2 = d2.cwiseMax(T(0));
    Vec<T> Q = (gamma.array() * d2.array()).colwise().sum().transpose();
    Vec<T> v = (Q.array() / (D * nk.array())) + T(kVarianceFloor);
    Vec<T> pi = nk / N;
    Mat<T> logit = (-(d2.array().rowwise() / (2 * v.array()).transpose())).matrix();
    logit.rowwise() += (pi.array().log() - D / 2 * v.array().log()).matrix().transpose();
    Vec<T> mx = logit.rowwise().maxCoeff();
    Mat<T> logp = logit.colwise() - mx;
    Vec<T> lse = logp.array().exp().rowwise().sum().log();
    logp.colwise() -= lse;  // log gammahat
    CloudGrad<T> out;
    out.value = -(gamma.array() * logp.array()).sum() / N;
    // Backward.
    Mat<T> ghat = logp.array().exp().matrix();
    Vec<T> s = gamma.rowwise().sum();
    Mat<T> gl = (-(gamma - (ghat.array().colwise() * s.array()).matrix()) / N);  // d/d logit
    Mat<T> gg = -logp / N;                                                        // direct
    Vec<T> gpi = gl.colwise().sum().transpose().array() / pi.array();
    Vec<T> gv = ((gl.array().rowwise() * (-D / (2 * v.array())).transpose()) +
                 (gl.array() * d2.array()).rowwise() / (2 * v.array().square()).transpose())
                    .colwise()
                    .sum()
                    .transpose();
    Mat<T> gd2 = (-(gl.array().rowwise() / (2 * v.array()).transpose())).matrix();
    Vec<T> gQ = gv.array() / (D * nk.array());
    Vec<T> gnk = -gv.array() * Q.array() / (D * nk.array().square());
    gg += (d2.array().rowwise() * gQ.array().transpose()).matrix();
    gd2 += (gamma.array().rowwise() * gQ.array().transpose()).matrix();
    gnk += gpi / N;
    // d2_ik = |p_i - mu_k|^2
    Vec<T> gd2_col = gd2.colwise().sum().transpose();
    Mat<T> gmu = -2 * (gd2.transpose() * p - (mu.array().colwise() * gd2_col.array()).matrix());
    Mat<T> gp;
    if (point_grad) gp = 2 * ((p.array().colwise() * gd2.rowwise().sum().array()).matrix() - gd2 * mu);
    // mu = S / nk
    Mat<T> gS = (gmu.array().colwise() / nk.array()).matrix();
    gnk -= ((gmu.array() * mu.array()).rowwise().sum() / nk.array()).matrix();
    gg += p * gS.transpose();
    if (point_grad) gp += gamma * gS;
    gg.rowwise() += gnk.transpose();
    out.d_gamma = std::move(gg);
    out.d_points = std::move(gp);
    return out;
}

template <class T>
CloudGrad<T> mixing_balance(const Mat<T>& gamma) {
    const Eigen::Index n = gamma.rows(), k = gamma.cols();
    require(n > 0 && k > 0, "mixing balance: empty posteriors");
    Vec<T> pi = (gamma.colwise().sum().transpose() / T(n)).cwiseMax(T(1e-12));
    CloudGrad<T> out;
    Vec<T> l = (T(k) * pi.array()).log();
    out.value = (pi.array() * l.array()).sum();
    Vec<T> gpi = l.array() + T(1);
    out.d_gamma = Mat<T>::Zero(n, k);
    out.d_gamma.rowwise() = (gpi / T(n)).transpose();
    return out;
}

template <class T>
CloudGrad<T> point_entropy(const Mat<T>& gamma) {
    const Eigen::Index n = gamma.rows(), k = gamma.cols();
    require(n > 0 && k > 0, "point entropy: empty posteriors");
    // log of a posterior floored so that an exact 0 stays finite (0 log 0 = 0)
    Mat<T> lg = gamma.array().max(T(1e-12)).log().matrix();
    CloudGrad<T> out;
    out.value = -(gamma.array() * lg.array()).sum() / T(n);
    out.d_gamma = (-(lg.array() + T(1)) / T(n)).matrix();
    return out;
}

template <class T>
CloudGrad<T> component_spread(const Mat<T>& p, const Mat<T>& gamma) {
    check_rows(p, gamma, "component spread");
    const T N = T(p.rows());
    const T e = T(1e-6) * N;  // keeps an empty component's centroid finite
    Vec<T> nk = gamma.colwise().sum().transpose().array() + e;
    Mat<T> mu = ((gamma.transpose() * p).array().colwise() / nk.array()).matrix();  // K x D
    Mat<T> d2 = ((-2 * p * mu.transpose()).rowwise() + mu.rowwise().squaredNorm().transpose()).colwise() +
                p.rowwise().squaredNorm();  // N x K
    const T total = std::max((p.rowwise() - p.colwise().mean()).squaredNorm(), T(1e-12));
    CloudGrad<T> out;
    out.value = (gamma.array() * d2.array()).sum() / total;
    // d/dgamma_ik: |p_i - mu_k|^2 directly; through mu_k only the eps term
    // remains (sum_i gamma_ik (p_i - mu_k) = e mu_k): -2 e mu_k . (p_i - mu_k) / n_k.
    Mat<T> through = -2 * e * ((p * mu.transpose()).rowwise() - mu.rowwise().squaredNorm().transpose());
    through.array().rowwise() /= nk.array().transpose();
    out.d_gamma = (d2 + through) / total;
    return out;
}

template <class T>
Mat<T> unit_rows(const Mat<T>& f) {
    Vec<T> nrm = f.rowwise().norm().cwiseMax(T(1e-12));
    return (f.array().colwise() / nrm.array()).matrix();
}

template <class T>
Mat<T> unit_rows_backward(const Mat<T>& f, const Mat<T>& z, const Mat<T>& dz) {
    Vec<T> nrm = f.rowwise().norm().cwiseMax(T(1e-12));
    Vec<T> dot = (z.array() * dz.array()).rowwise().sum();
    return ((dz - (z.array().colwise() * dot.array()).matrix()).array().colwise() / nrm.array()).matrix();
}

template <class T>
CloudGrad<T> self_consistency_loss(const Mat<T>& x, const Mat<T>& f, const Mat<T>& gamma, T balance, T spread,
                                   T sharpen) {
    check_rows(x, gamma, "self-consistency");
    check_rows(f, gamma, "self-consistency");
    Mat<T> z = unit_rows(f);
    CloudGrad<T> a = posterior_consistency(x, gamma, false);
    CloudGrad<T> b = posterior_consistency(z, gamma, true);
    CloudGrad<T> out;
    out.value = T(0.5) * (a.value + b.value);
    out.d_gamma = T(0.5) * (a.d_gamma + b.d_gamma);
    out.d_points = unit_rows_backward(f, z, Mat<T>(T(0.5) * b.d_points));
    if (balance > 0) {
        CloudGrad<T> c = mixing_balance(gamma);
        out.value += balance * c.value;
        out.d_gamma += balance * c.d_gamma;
    }
    if (spread > 0) {
        CloudGrad<T> c = component_spread(x, gamma);
        out.value += spread * c.value;
        out.d_gamma += spread * c.d_gamma;
    }
    if (sharpen > 0) {
        CloudGrad<T> c = point_entropy(gamma);
        out.value += sharpen * c.value;
        out.d_gamma += sharpen * c.d_gamma;
    }
    return out;
}

template <class T>
PairGrad<T> paired_information(const Mat<T>& gs, const Mat<T>& gt, const std::vector<std::pair<int, int>>& pairs) {
    require(gs.cols() == gt.cols(), "paired information: the posteriors disagree in width");
    PairGrad<T> out;
    out.d_gamma_s = Mat<T>::Zero(gs.rows(), gs.cols());
    out.d_gamma_t = Mat<T>::Zero(gt.rows(), gt.cols());
    const auto m = static_cast<Eigen::Index>(pairs.size());
    if (m < 1) return out;
    const Eigen::Index k = gs.cols();
    Mat<T> a(m, k), b(m, k);
    for (Eigen::Index r = 0; r < m; ++r) {
        const auto& [i, j] = pairs[static_cast<std::size_t>(r)];
        require(i >= 0 && i < gs.rows() && j >= 0 && j < gt.rows(), "paired information: pair index out of range");
        a.row(r) = gs.row(i);
        b.row(r) = gt.row(j);
    }
    const T scale = T(1) / (2 * T(m));
    Mat<T> P = scale * (a.transpose() * b + b.transpose() * a);
    P = P.cwiseMax(T(1e-12));
    Vec<T> pk = P.rowwise().sum(), pl = P.colwise().sum().transpose();
    Mat<T> logratio = P.array().log().matrix();
    logratio.colwise() -= pk.array().log().matrix();
    logratio.rowwise() -= pl.array().log().matrix().transpose();
    out.value = -(P.array() * logratio.array()).sum();
    // dL/dP_kl = -log P_kl + log P_k + log P_l + 1 (the marginals are sums of P)
    Mat<T> G = (-logratio).array() + T(1);
    Mat<T> Gs = scale * (G + G.transpose());
    Mat<T> da = b * Gs.transpose(), db = a * Gs;
    for (Eigen::Index r = 0; r < m; ++r) {
        const auto& [i, j] = pairs[static_cast<std::size_t>(r)];
        out.d_gamma_s.row(i) += da.row(r);
        out.d_gamma_t.row(j) += db.row(r);
    }
    return out;
}

template <class T>
PairGrad<T> cross_consistency_loss(const Mat<T>& xa, const Mat<T>& gs, const Mat<T>& y, const Mat<T>& gt,
                                   const std::vector<std::pair<int, int>>& pairs) {
    check_rows(xa, gs, "cross-consistency (source)");
    check_rows(y, gt, "cross-consistency (target)");
    require(gs.cols() == gt.cols() && xa.cols() == y.cols(), "cross-consistency: the clouds disagree in shape");
    Mat<T> u(xa.rows() + y.rows(), xa.cols()), g(gs.rows() + gt.rows(), gs.cols());
    u << xa, y;
    g << gs, gt;
    CloudGrad<T> c = posterior_consistency(u, g, false);
    PairGrad<T> mi = paired_information(gs, gt, pairs);
    PairGrad<T> out;
    out.value = c.value + mi.value;
    out.d_gamma_s = c.d_gamma.topRows(gs.rows()) + mi.d_gamma_s;
    out.d_gamma_t = c.d_gamma.bottomRows(gt.rows()) + mi.d_gamma_t;
    return out;
}

template <class T>
PairGrad<T> local_contrastive_loss(const Mat<T>& fs, const Mat<T>& ft, const std::vector<std::pair<int, int>>& pairs,
                                   T tau) {
    require(fs.cols() == ft.cols(), "local contrastive: the feature widths differ");
    require(tau > 0, "local contrastive: the temperature must be positive");
    PairGrad<T> out;
    out.d_f_s = Mat<T>::Zero(fs.rows(), fs.cols());
    out.d_f_t = Mat<T>::Zero(ft.rows(), ft.cols());
    const auto m = static_cast<Eigen::Index>(pairs.size());
    if (m < 2) return out;
    for (const auto& [i, j] : pairs)
        require(i >= 0 && i < fs.rows() && j >= 0 && j < ft.rows(), "local contrastive: pair index out of range");
    Mat<T> zs = unit_rows(fs), zt = unit_rows(ft);
    Mat<T> a(m, fs.cols()), b(m, ft.cols());
    for (Eigen::Index r = 0; r < m; ++r) {
        a.row(r) = zs.row(pairs[static_cast<std::size_t>(r)].first);
        b.row(r) = zt.row(pairs[static_cast<std::size_t>(r)].second);
    }
    Mat<T> s = a * b.transpose() / tau;  // M x M, positives on the diagonal
    auto log_softmax_rows = [](const Mat<T>& x) {
        Vec<T> mx = x.rowwise().maxCoeff();
        Mat<T> y = x.colwise() - mx;
        Vec<T> lse = y.array().exp().rowwise().sum().log();
        return Mat<T>(y.colwise() - lse);
    };
    Mat<T> lr = log_softmax_rows(s), lc = log_softmax_rows(Mat<T>(s.transpose()));
    out.value = -(lr.diagonal().sum() + lc.diagonal().sum()) / (2 * T(m));
    Mat<T> ds = (lr.array().exp().matrix() + lc.array().exp().matrix().transpose());
    ds.diagonal().array() -= T(2);
    ds /= (2 * T(m));
    Mat<T> da = ds * b / tau, db = ds.transpose() * a / tau;
    Mat<T> dzs = Mat<T>::Zero(fs.rows(), fs.cols()), dzt = Mat<T>::Zero(ft.rows(), ft.cols());
    for (Eigen::Index r = 0; r < m; ++r) {
        dzs.row(pairs[static_cast<std::size_t>(r)].first) += da.row(r);
        dzt.row(pairs[static_cast<std::size_t>(r)].second) += db.row(r);
    }
    out.d_f_s = unit_rows_backward(fs, zs, dzs);
    out.d_f_t = unit_rows_backward(ft, zt, dzt);
    return out;
}

#define ORBIT_UDPREG_LOSSES(T)                                                                                       \
    template CloudGrad<T> posterior_consistency<T>(const Mat<T>&, const Mat<T>&, bool);                             \
    template CloudGrad<T> mixing_balance<T>(const Mat<T>&);                                                          \
    template Mat<T> unit_rows<T>(const Mat<T>&);                                                                     \
    template Mat<T> unit_rows_backward<T>(const Mat<T>&, const Mat<T>&, const Mat<T>&);                              \
    template CloudGrad<T> point_entropy<T>(const Mat<T>&);                                                           \
    template CloudGrad<T> component_spread<T>(const Mat<T>&, const Mat<T>&);                                         \
    template CloudGrad<T> self_consistency_loss<T>(const Mat<T>&, const Mat<T>&, const Mat<T>&, T, T, T);            \
    template PairGrad<T> paired_information<T>(const Mat<T>&, const Mat<T>&, const std::vector<std::pair<int, int>>&);  \
    template PairGrad<T> cross_consistency_loss<T>(const Mat<T>&, const Mat<T>&, const Mat<T>&, const Mat<T>&,        \
                                                   const std::vector<std::pair<int, int>>&);                          \
    template PairGrad<T> local_contrastive_loss<T>(const Mat<T>&, const Mat<T>&, const std::vector<std::pair<int, int>>&, T);
ORBIT_UDPREG_LOSSES(float)
ORBIT_UDPREG_LOSSES(double)
#undef ORBIT_UDPREG_LOSSES

}  // namespace orbit::udpreg
