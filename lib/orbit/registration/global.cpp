#include "orbit/registration/global.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "orbit/core/error.hpp"
#include "orbit/core/sorting.hpp"
#include "orbit/geometry/kabsch.hpp"
#include "orbit/geometry/kdtree.hpp"
#include "orbit/geometry/rotation.hpp"

namespace orbit::registration {
namespace {

// Squared descriptor distances, 512 source rows at a time: visit(b0, d) gets
// d(i, j) = |sf(b0 + i) - tf(j)|^2. Descriptors are 33-d, where kd-trees
// degrade to scanning: a blocked brute force through one matrix product is
// faster up to tens of thousands of points.
template <class Visit>
void distance_blocks(const Points& sf, const Points& tf, Visit&& visit) {
    const Eigen::VectorXd ns = sf.rowwise().squaredNorm(), nt = tf.rowwise().squaredNorm();
    const Eigen::Index block = 512;
    for (Eigen::Index b0 = 0; b0 < sf.rows(); b0 += block) {
        const Eigen::Index nb = std::min(block, sf.rows() - b0);
        Matrix d = -2.0 * (sf.middleRows(b0, nb) * tf.transpose());
        d.colwise() += ns.segment(b0, nb);
        d.rowwise() += nt.transpose();
        visit(b0, d);
    }
}

}  // namespace

Correspondences feature_correspondences(const Points& sf, const Points& tf, bool mutual) {
    Correspondences out;
    if (sf.rows() == 0 || tf.rows() == 0) return out;
    require(sf.cols() == tf.cols(), "feature matching: descriptors differ in length");
    std::vector<std::int64_t> s2t(static_cast<std::size_t>(sf.rows())), t2s(static_cast<std::size_t>(tf.rows()));
    std::vector<double> best_t(static_cast<std::size_t>(tf.rows()), std::numeric_limits<double>::infinity());
    distance_blocks(sf, tf, [&](Eigen::Index b0, const Matrix& d) {
        const Eigen::Index nb = d.rows();
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
    });
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

Correspondences ranked_correspondences(const Points& sf, const Points& tf) {
    Correspondences out;
    if (sf.rows() == 0 || tf.rows() == 0) return out;
    require(sf.cols() == tf.cols(), "feature matching: descriptors differ in length");
    const auto ns_ = static_cast<std::size_t>(sf.rows()), nt_ = static_cast<std::size_t>(tf.rows());
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<std::int64_t> s2t(ns_), t2s(nt_);
    std::vector<double> s1(ns_, inf), s2(ns_, inf), t1(nt_, inf), t2(nt_, inf);
    distance_blocks(sf, tf, [&](Eigen::Index b0, const Matrix& d) {
        for (Eigen::Index i = 0; i < d.rows(); ++i) {
            auto si = static_cast<std::size_t>(b0 + i);
            for (Eigen::Index j = 0; j < tf.rows(); ++j) {
                double v = d(i, j);
                auto tj = static_cast<std::size_t>(j);
                if (v < s1[si]) { s2[si] = s1[si]; s1[si] = v; s2t[si] = j; }
                else if (v < s2[si]) s2[si] = v;
                if (v < t1[tj]) { t2[tj] = t1[tj]; t1[tj] = v; t2s[tj] = b0 + i; }
                else if (v < t2[tj]) t2[tj] = v;
            }
        }
    });
    // Squared distances from the expansion can dip below 0 by rounding.
    auto ratio = [](double a, double b) { return std::sqrt(std::max(a, 0.0)) / std::max(std::sqrt(std::max(b, 0.0)), 1e-300); };
    std::map<std::pair<std::int64_t, std::int64_t>, double> best;
    auto add = [&](std::int64_t i, std::int64_t j, double r) {
        auto [it, fresh] = best.insert({{i, j}, r});
        if (!fresh) it->second = std::min(it->second, r);
    };
    for (std::size_t i = 0; i < ns_; ++i) add(static_cast<std::int64_t>(i), s2t[i], ratio(s1[i], s2[i]));
    for (std::size_t j = 0; j < nt_; ++j) add(t2s[j], static_cast<std::int64_t>(j), ratio(t1[j], t2[j]));
    std::vector<std::pair<double, std::pair<std::int64_t, std::int64_t>>> ranked;
    for (auto& [k, r] : best) ranked.push_back({r, k});
    std::sort(ranked.begin(), ranked.end());  // ties by (source, target): deterministic
    for (auto& [r, k] : ranked) out.push_back(k);
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

// Refits a hypothesis on its inliers among corr, twice (the refit can gather
// more); keeps each refit unless it explains fewer correspondences.
void refit_on_inliers(const Points& s, const Points& t, const Correspondences& corr, double d2, Hypothesis& h) {
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

// Most inliers first, ties in their given order. An index sort: stable_sort's
// temporary buffer may not be aligned for Eigen's fixed-size members.
std::vector<Hypothesis> ranked_by_inliers(const std::vector<Hypothesis>& hs) {
    return stable_sorted_descending(hs, [](const Hypothesis& h) { return h.inliers; });
}

// Hypotheses this close are one: within 2 degrees and two inlier distances.
bool duplicate_pose(const Transform& a, const Transform& b, double distance) {
    return geometry::poses_close(a, b, 2.0, 2 * distance);
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
            if (duplicate_pose(h.transform, tr, o.distance)) {
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
    for (auto& h : best) refit_on_inliers(s, t, corr, d2, h);
    return ranked_by_inliers(best);
}

std::vector<Hypothesis> sc2_pcr_hypotheses(const Points& s, const Points& t, const Correspondences& all,
                                               const ConsistencyOptions& o) {
    std::vector<Hypothesis> out;
    const auto n = static_cast<Eigen::Index>(std::min<std::int64_t>(static_cast<std::int64_t>(all.size()), o.max_correspondences));
    if (n < 3) return out;
    Correspondences corr(all.begin(), all.begin() + n);
    const double d2 = o.distance * o.distance;
    // First order: distance preserved within `distance`, and points not too close
    // (a couple closer than that says nothing about the rotation). Rows as bitsets.
    const Eigen::Index words = (n + 63) / 64;
    std::vector<std::uint64_t> c(static_cast<std::size_t>(n * words), 0);
    auto bit = [&](Eigen::Index a, Eigen::Index b) { c[static_cast<std::size_t>(a * words + b / 64)] |= std::uint64_t{1} << (b % 64); };
    std::vector<std::vector<std::pair<Eigen::Index, int>>> sc2(static_cast<std::size_t>(n));
    for (Eigen::Index a = 0; a < n; ++a) {
        Eigen::RowVector3d sa = s.row(corr[static_cast<std::size_t>(a)].first), ta = t.row(corr[static_cast<std::size_t>(a)].second);
        for (Eigen::Index b = a + 1; b < n; ++b) {
            double ls = (sa - s.row(corr[static_cast<std::size_t>(b)].first)).norm();
            double lt = (ta - t.row(corr[static_cast<std::size_t>(b)].second)).norm();
            if (std::abs(ls - lt) < o.distance && ls > o.distance && lt > o.distance) {
                bit(a, b);
                bit(b, a);
            }
        }
    }
    // Second order: common compatible partners, on compatible couples only.
    std::vector<double> total(static_cast<std::size_t>(n), 0.0);
    for (Eigen::Index a = 0; a < n; ++a) {
        const std::uint64_t* ra = &c[static_cast<std::size_t>(a * words)];
        for (Eigen::Index w = 0; w < words; ++w) {
            std::uint64_t m = ra[w];
            while (m) {
                Eigen::Index b = w * 64 + std::countr_zero(m);
                m &= m - 1;
                if (b <= a) continue;
                const std::uint64_t* rb = &c[static_cast<std::size_t>(b * words)];
                int common = 0;
                for (Eigen::Index k = 0; k < words; ++k) common += std::popcount(ra[k] & rb[k]);
                if (common == 0) continue;
                sc2[static_cast<std::size_t>(a)].push_back({b, common});
                sc2[static_cast<std::size_t>(b)].push_back({a, common});
                total[static_cast<std::size_t>(a)] += common;
                total[static_cast<std::size_t>(b)] += common;
            }
        }
    }
    std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
    for (Eigen::Index k = 0; k < n; ++k) order[static_cast<std::size_t>(k)] = k;
    std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return total[static_cast<std::size_t>(a)] > total[static_cast<std::size_t>(b)]; });
    // Seeds: best total first, none within 2 x distance of a chosen one in the source.
    std::vector<Eigen::Index> seeds;
    for (Eigen::Index k : order) {
        if (static_cast<int>(seeds.size()) >= o.seeds || total[static_cast<std::size_t>(k)] <= 0) break;
        bool near = false;
        for (Eigen::Index q : seeds)
            if ((s.row(corr[static_cast<std::size_t>(k)].first) - s.row(corr[static_cast<std::size_t>(q)].first)).squaredNorm() < 4 * d2) { near = true; break; }
        if (!near) seeds.push_back(k);
    }
    std::vector<Hypothesis> found;
    for (Eigen::Index k : seeds) {
        auto partners = sc2[static_cast<std::size_t>(k)];
        if (partners.size() < 2) continue;
        // Most common partners first; ties by index (the list is built in index order per side, so sort fully).
        std::sort(partners.begin(), partners.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
        if (static_cast<int>(partners.size()) > o.consensus) partners.resize(static_cast<std::size_t>(o.consensus));
        Correspondences set = {corr[static_cast<std::size_t>(k)]};
        for (auto& [l, cnt] : partners) set.push_back(corr[static_cast<std::size_t>(l)]);
        Transform tr = geometry::kabsch_pairs(s, t, set);
        Hypothesis h{tr, count_inliers(s, t, all, tr, d2)};
        refit_on_inliers(s, t, all, d2, h);
        found.push_back(h);
    }
    // Ranked by inliers, near-duplicates of a better one dropped.
    for (const Hypothesis& h : ranked_by_inliers(found)) {
        if (static_cast<int>(out.size()) >= o.hypotheses) break;
        const bool dup = std::any_of(out.begin(), out.end(),
                                     [&](const Hypothesis& u) { return duplicate_pose(u.transform, h.transform, o.distance); });
        if (!dup) out.push_back(h);
    }
    return out;
}

}  // namespace orbit::registration
