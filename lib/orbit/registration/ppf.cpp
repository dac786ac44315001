#include "orbit/registration/ppf.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "orbit/core/error.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/geometry/sampling.hpp"

namespace orbit::registration {

namespace {

constexpr double pi = std::numbers::pi;

// Sampled points with unit normals (points without a normal are left out).
struct Oriented {
    std::vector<Eigen::Vector3d> p, n;
    std::vector<Eigen::Matrix3d> frame;  // rows: n, u, v; frame * n = e_x
};

Oriented orient(const Points& pts, const Points& normals, std::int64_t samples) {
    Oriented o;
    for (std::int64_t i : geometry::farthest_point_sample(pts, samples)) {
        Eigen::Vector3d n = normals.row(i).transpose();
        double len = n.norm();
        if (!(len > 0.5)) continue;
        n /= len;
        Eigen::Vector3d e = std::abs(n.x()) < 0.9 ? Eigen::Vector3d::UnitX() : Eigen::Vector3d::UnitY();
        Eigen::Vector3d u = (e - e.dot(n) * n).normalized();
        Eigen::Matrix3d f;
        f.row(0) = n.transpose();
        f.row(1) = u.transpose();
        f.row(2) = n.cross(u).transpose();
        o.p.push_back(pts.row(i).transpose());
        o.n.push_back(n);
        o.frame.push_back(f);
    }
    return o;
}

struct Quant {
    double step;
    int nd, na, na3;
    int keys() const { return nd * na * na * na3; }
    // Key of the pair (p1, n1) -> (p2, n2); n2 is taken on the side of n1. -1 when out of range.
    int key(const Eigen::Vector3d& p1, const Eigen::Vector3d& n1, const Eigen::Vector3d& p2, Eigen::Vector3d n2) const {
        Eigen::Vector3d d = p2 - p1;
        double len = d.norm();
        if (!(len > 0)) return -1;
        auto dq = static_cast<int>(len / step);
        if (dq >= nd) return -1;
        d /= len;
        if (n1.dot(n2) < 0) n2 = -n2;
        auto bin = [&](double c, int bins) {
            int b = static_cast<int>(std::acos(std::clamp(c, -1.0, 1.0)) / (pi / na));
            return std::clamp(b, 0, bins - 1);
        };
        return ((dq * na + bin(n1.dot(d), na)) * na + bin(n2.dot(d), na)) * na3 + bin(n1.dot(n2), na3);
    }
};

// Angle of p2 about the normal of point 1, in point 1's frame.
double about_normal(const Eigen::Matrix3d& f1, const Eigen::Vector3d& p1, const Eigen::Vector3d& p2) {
    Eigen::Vector3d q = f1 * (p2 - p1);
    return std::atan2(q.z(), q.y());
}

struct Entry {
    std::int32_t point;
    std::int32_t flip;  // 1: the pair was stored with -n1
    double angle;
};

struct Pose {
    Transform t;
    double votes;
};

// Votes with `model` as the table and `scene` as the references; poses map model -> scene.
std::vector<Pose> vote(const Oriented& model, const Oriented& scene, const Quant& q, const PpfOptions& o) {
    const auto nm = static_cast<std::int32_t>(model.p.size());
    // Source table as compressed rows by key.
    std::vector<std::pair<int, Entry>> raw;
    raw.reserve(static_cast<std::size_t>(nm) * static_cast<std::size_t>(nm) * 2);
    const double perpendicular = std::cos(75.0 * pi / 180);
    for (std::int32_t i = 0; i < nm; ++i) {
        for (std::int32_t j = 0; j < nm; ++j) {
            if (i == j) continue;
            double angle = about_normal(model.frame[i], model.p[i], model.p[j]);
            // Near-perpendicular normals: the side of n2 is a matter of noise, store both.
            bool both = std::abs(model.n[i].dot(model.n[j])) < perpendicular;
            for (std::int32_t flip = 0; flip < 2; ++flip) {
                Eigen::Vector3d n1 = flip ? Eigen::Vector3d(-model.n[i]) : model.n[i];
                int k = q.key(model.p[i], n1, model.p[j], model.n[j]);
                if (k >= 0) raw.push_back({k, {i, flip, angle}});
                if (both) {
                    int k2 = q.key(model.p[i], n1, model.p[j], -model.n[j]);
                    if (k2 >= 0 && k2 != k) raw.push_back({k2, {i, flip, angle}});
                }
            }
        }
    }
    std::vector<std::int32_t> start(static_cast<std::size_t>(q.keys()) + 1, 0);
    for (auto& [k, e] : raw) ++start[static_cast<std::size_t>(k) + 1];
    for (std::size_t k = 1; k < start.size(); ++k) start[k] += start[k - 1];
    std::vector<Entry> table(raw.size());
    {
        std::vector<std::int32_t> fill(start.begin(), start.end() - 1);
        for (auto& [k, e] : raw) table[static_cast<std::size_t>(fill[static_cast<std::size_t>(k)]++)] = e;
    }
    const int nr = o.rotation_bins;
    const double rstep = 2 * pi / nr;
    std::vector<std::uint32_t> acc(static_cast<std::size_t>(nm) * 2 * static_cast<std::size_t>(nr));
    std::vector<Pose> poses;
    const Eigen::Matrix3d flip_z = Eigen::Vector3d(-1, -1, 1).asDiagonal();
    for (std::size_t r = 0; r < scene.p.size(); ++r) {
        std::fill(acc.begin(), acc.end(), 0u);
        for (std::size_t j = 0; j < scene.p.size(); ++j) {
            if (j == r) continue;
            int k = q.key(scene.p[r], scene.n[r], scene.p[j], scene.n[j]);
            if (k < 0) continue;
            double as = about_normal(scene.frame[r], scene.p[r], scene.p[j]);
            for (std::int32_t e = start[static_cast<std::size_t>(k)]; e < start[static_cast<std::size_t>(k) + 1]; ++e) {
                const Entry& en = table[static_cast<std::size_t>(e)];
                // Pose = F_r^T Rz(pi)^flip Rx(beta) F_m: with -n1 the frame turns by pi about z.
                double beta = en.flip ? pi - as - en.angle : as - en.angle;
                beta -= 2 * pi * std::floor(beta / (2 * pi));
                int b = std::min(static_cast<int>(beta / rstep), nr - 1);
                ++acc[(static_cast<std::size_t>(en.point) * 2 + static_cast<std::size_t>(en.flip)) * static_cast<std::size_t>(nr) +
                      static_cast<std::size_t>(b)];
            }
        }
        // The `peaks` largest cells (ties: lowest index).
        std::vector<std::pair<std::uint32_t, std::size_t>> top;
        for (std::size_t c = 0; c < acc.size(); ++c) {
            if (acc[c] < 3) continue;
            if (static_cast<int>(top.size()) < o.peaks || acc[c] > top.back().first) {
                top.push_back({acc[c], c});
                std::stable_sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.first > b.first; });
                if (static_cast<int>(top.size()) > o.peaks) top.pop_back();
            }
        }
        for (auto& [v, c] : top) {
            auto b = static_cast<int>(c % static_cast<std::size_t>(nr));
            auto flip = static_cast<int>((c / static_cast<std::size_t>(nr)) % 2);
            auto m = c / static_cast<std::size_t>(nr) / 2;
            Eigen::Matrix3d rot = scene.frame[r].transpose() * (flip ? flip_z : Eigen::Matrix3d::Identity()) *
                                  geometry::axis_angle(Eigen::Vector3d::UnitX(), (b + 0.5) * rstep) * model.frame[m];
            Transform t = Transform::Identity();
            t.topLeftCorner<3, 3>() = rot;
            t.topRightCorner<3, 1>() = scene.p[r] - rot * model.p[m];
            poses.push_back({t, static_cast<double>(v)});
        }
    }
    return poses;
}

double diameter(const Oriented& o) {
    double d2 = 0;
    for (std::size_t i = 0; i < o.p.size(); ++i)
        for (std::size_t j = i + 1; j < o.p.size(); ++j) d2 = std::max(d2, (o.p[i] - o.p[j]).squaredNorm());
    return std::sqrt(d2);
}

}  // namespace

std::vector<Hypothesis> drost_ppf_hypotheses(const Points& source, const Points& sn, const Points& target, const Points& tn,
                                       const PpfOptions& o) {
    require(source.cols() == 3 && target.cols() == 3, "ppf: expected 3-d points");
    require(sn.rows() == source.rows() && sn.cols() == 3 && tn.rows() == target.rows() && tn.cols() == 3,
            "ppf: expected one 3-d normal per point");
    require(o.samples >= 3 && o.angle_bins >= 2 && o.rotation_bins >= 2 && o.peaks >= 1 && o.hypotheses >= 1,
            "ppf: invalid options");
    std::vector<Hypothesis> out;
    Oriented s = orient(source, sn, o.samples), t = orient(target, tn, o.samples);
    if (s.p.size() < 3 || t.p.size() < 3) return out;
    const double diam = std::max(diameter(s), diameter(t));
    if (!(diam > 0)) return out;
    Quant q;
    q.step = o.distance_step > 0 ? o.distance_step : 0.05 * diam;
    q.nd = static_cast<int>(diam / q.step) + 1;
    if (q.nd > 4096) q.nd = 4096;  // pairs longer than that are left out
    q.na = o.angle_bins;
    q.na3 = (o.angle_bins + 1) / 2;
    std::vector<Pose> poses = vote(s, t, q, o);
    if (o.symmetric) {
        for (Pose& p : vote(t, s, q, o)) poses.push_back({geometry::invert(p.t), p.votes});
    }
    // Greedy clustering, most votes first; a cluster keeps its first pose and sums the votes.
    std::vector<std::size_t> order(poses.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return poses[a].votes > poses[b].votes; });
    const double near = o.cluster_distance > 0 ? o.cluster_distance : 2 * q.step;
    std::vector<Pose> clusters;
    for (std::size_t k : order) {
        const Transform& t = poses[k].t;
        bool merged = false;
        for (Pose& c : clusters) {
            if (geometry::poses_close(c.t, t, o.cluster_deg, near)) {
                c.votes += poses[k].votes;
                merged = true;
                break;
            }
        }
        if (!merged) clusters.push_back(poses[k]);
    }
    std::vector<std::size_t> idx(clusters.size());
    for (std::size_t k = 0; k < idx.size(); ++k) idx[k] = k;
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return clusters[a].votes > clusters[b].votes; });
    for (std::size_t k : idx) {
        if (static_cast<int>(out.size()) >= o.hypotheses) break;
        out.push_back({clusters[k].t, static_cast<std::int64_t>(clusters[k].votes)});
    }
    return out;
}

}  // namespace orbit::registration
