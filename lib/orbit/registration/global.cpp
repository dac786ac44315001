#include "orbit/registration/global.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "orbit/core/error.hpp"
#include "orbit/geometry/kabsch.hpp"
#include "orbit/geometry/kdtree.hpp"
#include "orbit/geometry/rotation.hpp"

namespace orbit::registration {

Correspondences feature_correspondences(const Points& sf, const Points& tf, bool mutual) {
    Correspondences out;
    if (sf.rows() == 0 || tf.rows() == 0) return out;
    require(sf.cols() == tf.cols(), "feature matching: descriptors differ in length");
    std::vector<std::int64_t> s2t(static_cast<std::size_t>(sf.rows())), t2s(static_cast<std::size_t>(tf.rows()));
    // Descriptors are 33-d, where kd-trees degrade to scanning: a blocked brute
    // force through one matrix product is faster up to tens of thousands of points.
    Eigen::VectorXd ns = sf.rowwise().squaredNorm(), nt = tf.rowwise().squaredNorm();
    std::vector<double> best_t(static_cast<std::size_t>(tf.rows()), std::numeric_limits<double>::infinity());
    const Eigen::Index block = 512;
    for (Eigen::Index b0 = 0; b0 < sf.rows(); b0 += block) {
        Eigen::Index nb = std::min(block, sf.rows() - b0);
        Matrix d = -2.0 * (sf.middleRows(b0, nb) * tf.transpose());
        d.colwise() += ns.segment(b0, nb);
        d.rowwise() += nt.transpose();
        for (Eigen::Index i = 0; i < nb; ++i) {
            Eigen::Index j;
            d.row(i).minCoeff(&j);
            s2t[static_cast<std::size_t>(b0 + i)] = j;
        }
        for (Eigen::Index j = 0; j < tf.rows(); ++j) {
            Eigen::Index i;
            double v = d.col(j).minCoeff(&i);
            if (v < best_t[static_cast<std::size_t>(j)]) {
                best_t[static_cast<std::size_t>(j)] = v;
                t2s[static_cast<std::size_t>(j)] = b0 + i;
            }
        }
    }
    if (mutual) {
        for (Eigen::Index i = 0; i < sf.rows(); ++i)
            if (t2s[static_cast<std::size_t>(s2t[static_cast<std::size_t>(i)])] == i) out.push_back({i, s2t[static_cast<std::size_t>(i)]});
        return out;
    }
    std::set<std::pair<std::int64_t, std::int64_t>> seen;
    for (Eigen::Index i = 0; i < sf.rows(); ++i) seen.insert({i, s2t[static_cast<std::size_t>(i)]});
    for (Eigen::Index j = 0; j < tf.rows(); ++j) seen.insert({t2s[static_cast<std::size_t>(j)], j});
    out.assign(seen.begin(), seen.end());
    return out;
}

namespace {
std::int64_t count_inliers(const Points& s, const Points& t, const Correspondences& corr, const Transform& tr, double d2,
                           std::vector<std::int64_t>* which = nullptr) {
    Eigen::Matrix3d r = tr.topLeftCorner<3, 3>();
    Eigen::Vector3d tt = tr.topRightCorner<3, 1>();
    std::int64_t c = 0;
    for (std::size_t k = 0; k < corr.size(); ++k) {
        Eigen::Vector3d p = r * s.row(corr[k].first).transpose() + tt;
        if ((p - t.row(corr[k].second).transpose()).squaredNorm() <= d2) {
            ++c;
            if (which) which->push_back(static_cast<std::int64_t>(k));
        }
    }
    return c;
}
}  // namespace

std::vector<Hypothesis> ransac(const Points& s, const Points& t, const Correspondences& corr, const RansacOptions& o, Rng& rng,
                               std::int64_t* iterations_done) {
    std::vector<Hypothesis> best;
    if (iterations_done) *iterations_done = 0;
    const auto nc = static_cast<std::int64_t>(corr.size());
    if (nc < 3) return best;
    const double d2 = o.distance * o.distance;
    std::int64_t needed = o.max_iterations;
    std::int64_t it = 0;
    // Keeps the `hypotheses` best, skipping near-duplicates of a better one.
    auto offer = [&](const Transform& tr, std::int64_t inl) {
        for (auto& h : best) {
            double rot = geometry::rotation_error_deg(h.transform.topLeftCorner<3, 3>(), tr.topLeftCorner<3, 3>());
            if (rot < 2.0 && (h.transform.topRightCorner<3, 1>() - tr.topRightCorner<3, 1>()).norm() < 2 * o.distance) {
                if (inl > h.inliers) h = {tr, inl};
                std::sort(best.begin(), best.end(), [](auto& a, auto& b) { return a.inliers > b.inliers; });
                return;
            }
        }
        best.push_back({tr, inl});
        std::sort(best.begin(), best.end(), [](auto& a, auto& b) { return a.inliers > b.inliers; });
        if (static_cast<int>(best.size()) > o.hypotheses) best.pop_back();
    };
    const std::int64_t probe_size = 64;
    Correspondences probe;
    if (nc > 4 * probe_size) {
        std::vector<std::int64_t> perm = rng.permutation(nc);
        for (std::int64_t k = 0; k < probe_size; ++k) probe.push_back(corr[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])]);
    }
    for (; it < std::min(needed, o.max_iterations); ++it) {
        std::int64_t a = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(nc)));
        std::int64_t b = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(nc)));
        std::int64_t c = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(nc)));
        if (a == b || b == c || a == c) continue;
        const std::int64_t idx[3] = {a, b, c};
        bool ok = true;
        for (int u = 0; u < 3 && ok; ++u) {
            for (int v = u + 1; v < 3 && ok; ++v) {
                double ls = (s.row(corr[idx[u]].first) - s.row(corr[idx[v]].first)).norm();
                double lt = (t.row(corr[idx[u]].second) - t.row(corr[idx[v]].second)).norm();
                if (ls < o.edge_ratio * lt || lt < o.edge_ratio * ls || ls < o.distance) ok = false;
            }
        }
        if (!ok) continue;
        Correspondences sample = {corr[a], corr[b], corr[c]};
        Transform tr = geometry::kabsch_pairs(s, t, sample);
        // Pre-test on a fixed random subset: once the list of best hypotheses is
        // full, a draw that explains less than half the worst one's inlier rate
        // on the subset is dropped without counting all correspondences.
        if (static_cast<int>(best.size()) >= o.hypotheses && nc > 4 * probe_size) {
            std::int64_t hits = count_inliers(s, t, probe, tr, d2);
            if (static_cast<double>(hits) * static_cast<double>(nc) / static_cast<double>(probe_size) <
                0.5 * static_cast<double>(best.back().inliers))
                continue;
        }
        std::int64_t inl = count_inliers(s, t, corr, tr, d2);
        if (inl < 3) continue;
        if (best.size() < static_cast<std::size_t>(o.hypotheses) || inl > best.back().inliers) {
            offer(tr, inl);
            // Standard stopping rule: enough draws to hit an all-inlier triple with the given confidence.
            double ratio = static_cast<double>(best.front().inliers) / static_cast<double>(nc);
            double p = ratio * ratio * ratio;
            if (p > 0 && p < 1) {
                double k = std::log(1 - o.confidence) / std::log(1 - p);
                needed = std::min<std::int64_t>(o.max_iterations, static_cast<std::int64_t>(std::ceil(k)));
            } else if (p >= 1) {
                needed = it + 1;
            }
        }
    }
    if (iterations_done) *iterations_done = it;
    // Refit each hypothesis on its inliers (twice: the refit can gather more).
    for (auto& h : best) {
        for (int rep = 0; rep < 2; ++rep) {
            std::vector<std::int64_t> which;
            count_inliers(s, t, corr, h.transform, d2, &which);
            if (which.size() < 3) break;
            Correspondences in;
            for (auto k : which) in.push_back(corr[static_cast<std::size_t>(k)]);
            Transform tr = geometry::kabsch_pairs(s, t, in);
            std::int64_t inl = count_inliers(s, t, corr, tr, d2);
            if (inl < h.inliers) break;
            h = {tr, inl};
        }
    }
    // Index sort: stable_sort's temporary buffer may not be aligned for Eigen's fixed-size members.
    std::vector<std::size_t> order(best.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return best[a].inliers > best[b].inliers; });
    std::vector<Hypothesis> sorted;
    for (std::size_t k : order) sorted.push_back(best[k]);
    return sorted;
}

}  // namespace orbit::registration
