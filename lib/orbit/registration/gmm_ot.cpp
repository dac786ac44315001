#include "orbit/registration/gmm_ot.hpp"

#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/geometry/kabsch.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::registration {

Matrix GeometricPosteriors::posteriors(const Points& x, const Points&, Rng& rng) const {
    gmm::FitOptions fo;
    fo.components = components_;
    fo.max_iterations = 20;
    return gmm::fit(x, fo, rng).gamma;
}

namespace {
Points component_descriptors(const Matrix& gamma, const Points& features) {
    Points d = gamma.transpose() * features;  // K x F, unnormalised weighted sums
    for (Eigen::Index k = 0; k < d.rows(); ++k) {
        double n = d.row(k).norm();
        if (n > 0) d.row(k) /= n;
    }
    return d;
}

double quantile(std::vector<double> v, double q) {
    if (v.empty()) return 1.0;
    auto k = static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}
}  // namespace

ComponentMatch match_components(const Points& source, const Points& sf, const Points& target, const Points& tf,
                                const GmmOtOptions& o, Rng& rng, const PosteriorModel* model) {
    require(sf.rows() == source.rows() && tf.rows() == target.rows() && sf.cols() == tf.cols() && sf.cols() > 0,
            "gmm-ot: expected one descriptor row per point on both sides");
    GeometricPosteriors fallback(o.components);
    const PosteriorModel& pm = model ? *model : fallback;
    Rng rs = rng.split(1), rt = rng.split(2);
    PosteriorModel::Inference is = pm.infer(source, sf, rs), it = pm.infer(target, tf, rt);
    require(is.gamma.rows() == source.rows() && it.gamma.rows() == target.rows() && is.descriptors.rows() == source.rows() &&
                it.descriptors.rows() == target.rows() && is.descriptors.cols() == it.descriptors.cols(),
            "gmm-ot: the posterior model returned the wrong shapes");
    ComponentMatch m;
    m.source = gmm::from_posteriors(source, is.gamma);
    m.target = gmm::from_posteriors(target, it.gamma);
    m.source_desc = component_descriptors(is.gamma, is.descriptors);
    m.target_desc = component_descriptors(it.gamma, it.descriptors);
    const Eigen::Index ks = m.source.size(), kt = m.target.size();
    Matrix cost(ks + 1, kt + 1);
    std::vector<double> all;
    for (Eigen::Index i = 0; i < ks; ++i)
        for (Eigen::Index j = 0; j < kt; ++j) {
            cost(i, j) = std::max(0.0, 2.0 * (1.0 - m.source_desc.row(i).dot(m.target_desc.row(j))));
            all.push_back(cost(i, j));
        }
    // Slack: a component outside the overlap pays this instead of a poor match.
    double slack = quantile(all, o.slack_quantile);
    cost.row(ks).setConstant(slack);
    cost.col(kt).setConstant(slack);
    cost(ks, kt) = 0;
    Vector a(ks + 1), b(kt + 1);
    // Both sides carry mass 2 (weights, then the slack); the weights are scaled
    // to sum to 1 exactly so rounding in a model's posteriors cannot unbalance them.
    a << m.source.weights / m.source.weights.sum(), 1.0;
    b << m.target.weights / m.target.weights.sum(), 1.0;
    ot::SinkhornOptions so;
    double med = std::max(quantile(all, 0.5), 1e-9);
    so.eps = o.eps * med;
    so.max_iter = 500;
    so.tol = 1e-7;
    so.plan = ot::PlanKind::Dense;
    so.storage = ot::Storage::Dense;
    ot::SinkhornResult r = ot::sinkhorn(cost, a, b, so);
    require(r.plan.has_value(), "gmm-ot: the Sinkhorn solver returned no plan");
    m.plan = *r.plan;
    return m;
}

std::vector<Transform> udpreg_gmm_ot_hypotheses(const Points& source, const Points& sf, const Points& target, const Points& tf,
                                         const GmmOtOptions& o, Rng& rng, const PosteriorModel* model) {
    ComponentMatch m = match_components(source, sf, target, tf, o, rng, model);
    const Eigen::Index ks = m.source.size(), kt = m.target.size();
    geometry::KabschOptions kopt;
    kopt.with_scale = o.with_scale;
    std::vector<Transform> out;
    Matrix p = m.plan.topLeftCorner(ks, kt);
    // Candidate pairs: each component's strongest partner, from both sides.
    struct Cand {
        Eigen::Index s, t;
        double w;
    };
    std::vector<Cand> cands;
    for (Eigen::Index i = 0; i < ks; ++i) {
        Eigen::Index j;
        double w = p.row(i).maxCoeff(&j);
        if (w > 0) cands.push_back({i, j, w});
    }
    for (Eigen::Index j = 0; j < kt; ++j) {
        Eigen::Index i;
        double w = p.col(j).maxCoeff(&i);
        bool dup = std::any_of(cands.begin(), cands.end(), [&](const Cand& c) { return c.s == i && c.t == j; });
        if (w > 0 && !dup) cands.push_back({i, j, w});
    }
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) {
        return a.w > b.w || (a.w == b.w && (a.s < b.s || (a.s == b.s && a.t < b.t)));
    });
    if (cands.size() > 40) cands.resize(40);
    if (cands.size() >= 3) {
        // Plan-weighted Kabsch over all candidate pairs.
        Points x(static_cast<Eigen::Index>(cands.size()), 3), y(static_cast<Eigen::Index>(cands.size()), 3);
        Vector w(static_cast<Eigen::Index>(cands.size()));
        for (std::size_t c = 0; c < cands.size(); ++c) {
            x.row(static_cast<Eigen::Index>(c)) = m.source.means.row(cands[c].s);
            y.row(static_cast<Eigen::Index>(c)) = m.target.means.row(cands[c].t);
            w[static_cast<Eigen::Index>(c)] = cands[c].w;
        }
        out.push_back(geometry::kabsch(x, y, w, kopt));
        // Every triple: centroids are blurry, so a loose edge check and a loose inlier radius.
        double tau = 0;
        for (Eigen::Index k = 0; k < ks; ++k) tau += std::sqrt(3 * m.source.variances[k]) * m.source.weights[k];
        tau = std::max(tau, 1e-12);
        struct Scored {
            Transform t;
            double score;
        };
        std::vector<Scored> best;
        const auto nc = cands.size();
        for (std::size_t a = 0; a < nc; ++a)
            for (std::size_t b = a + 1; b < nc; ++b)
                for (std::size_t c = b + 1; c < nc; ++c) {
                    const std::size_t idx[3] = {a, b, c};
                    bool ok = true;
                    for (int u = 0; u < 3 && ok; ++u)
                        for (int v = u + 1; v < 3 && ok; ++v) {
                            double ls = (m.source.means.row(cands[idx[u]].s) - m.source.means.row(cands[idx[v]].s)).norm();
                            double lt = (m.target.means.row(cands[idx[u]].t) - m.target.means.row(cands[idx[v]].t)).norm();
                            if (std::abs(ls - lt) > 0.5 * tau || ls < tau) ok = false;
                        }
                    if (!ok) continue;
                    Points xs(3, 3), ys(3, 3);
                    for (int u = 0; u < 3; ++u) {
                        xs.row(u) = m.source.means.row(cands[idx[u]].s);
                        ys.row(u) = m.target.means.row(cands[idx[u]].t);
                    }
                    Transform t = geometry::kabsch(xs, ys, Vector(), kopt);
                    double score = 0;
                    for (std::size_t e = 0; e < nc; ++e) {
                        Eigen::Vector3d q = t.topLeftCorner<3, 3>() * m.source.means.row(cands[e].s).transpose() +
                                            t.topRightCorner<3, 1>();
                        if ((q - m.target.means.row(cands[e].t).transpose()).norm() < tau) score += cands[e].w;
                    }
                    best.push_back({t, score});
                }
        // Sort indices, not the entries: a temporary buffer of fixed-size Eigen
        // members is not guaranteed the alignment vectorised code expects.
        std::vector<std::size_t> order(best.size());
        for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return best[a].score > best[b].score; });
        for (std::size_t k : order) {
            const Scored& s = best[k];
            if (static_cast<int>(out.size()) >= o.hypotheses + 1) break;
            bool dup = false;
            for (const Transform& t : out)
                if (geometry::poses_close(t, s.t, 5, tau)) dup = true;
            if (!dup) out.push_back(s.t);
        }
    }
    return out;
}

}  // namespace orbit::registration
