#include "orbit/registration/register.hpp"

#include <Eigen/LU>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/names.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/progress.hpp"
#include "orbit/core/sorting.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/geometry/features.hpp"
#include "orbit/geometry/kdtree.hpp"
#include "orbit/geometry/metrics.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/registration/cpd.hpp"
#include "orbit/registration/global.hpp"
#include "orbit/registration/gmm_ot.hpp"
#include "orbit/registration/gw_init.hpp"
#include "orbit/registration/icp.hpp"
#include "orbit/registration/ppf.hpp"
#include "orbit/registration/score.hpp"

namespace orbit::registration {

constexpr Spelling<Method> kMethods[] = {{Method::automatic, "auto"}, {Method::icp, "icp"}, {Method::icp_plane, "icp-plane"},
                                         {Method::cpd, "cpd"}, {Method::global, "global"}, {Method::gmm_ot, "gmm-ot"},
                                         {Method::gw, "gw"}, {Method::udpreg, "udpreg"}};

Method parse_method(const std::string& name) {
    return parse_spelling(kMethods, name, "expected one of auto, icp, icp-plane, cpd, global, gmm-ot, gw, udpreg; found '" + name + "'");
}

std::string method_name(Method m) { return spelling_of(kMethods, m); }

bool verifies_candidates(Method m) {
    return m == Method::global || m == Method::gmm_ot || m == Method::udpreg || m == Method::automatic;
}

std::string hypothesis_score_name(Method m) { return verifies_candidates(m) ? "verification" : "fitness"; }

namespace {

// What a cloud looks like: its spread along the principal axes.
enum class Shape { ok, planar, collinear, point };
Shape classify(const Points& p) {
    Eigen::RowVector3d c = p.colwise().mean();
    Eigen::Matrix3d cov = (p.rowwise() - c).transpose() * (p.rowwise() - c);
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(cov);
    Eigen::Vector3d s = svd.singularValues();  // variances along the axes, descending
    double scale = std::max(s[0], 1e-300);
    if (s[0] <= 1e-24 * std::max(1.0, (p.rowwise() - Eigen::RowVector3d::Zero()).squaredNorm())) return Shape::point;
    if (s[1] <= 1e-12 * scale) return Shape::collinear;
    if (s[2] <= 1e-12 * scale) return Shape::planar;
    return Shape::ok;
}

void check_input(const Points& p, const std::string& which) {
    require(p.cols() == 3, which + ": expected 3-d points [N,3], found " + std::to_string(p.cols()) + " columns");
    require(p.rows() >= 3, which + ": rigid registration needs at least 3 points, found " + std::to_string(p.rows()));
    require(p.allFinite(), which + ": points contain NaN or infinite values");
    Shape s = classify(p);
    require(s != Shape::point, which + ": all points coincide; the rotation is undetermined");
    require(s != Shape::collinear, which + ": the points are collinear; the rotation about their line is undetermined");
}

// A cloud with what the methods need, computed once.
struct Cloud {
    const Points* full = nullptr;
    Points down;              // downsampled for features (or a copy of full)
    geometry::KdTree down_tree;
    Points normals, features; // on `down`
};

struct Scales {
    double spacing, distance, voxel, normal_radius, feature_radius, radius;
};

double rms_radius(const Points& p) {
    Eigen::RowVector3d c = p.colwise().mean();
    return std::sqrt((p.rowwise() - c).squaredNorm() / static_cast<double>(p.rows()));
}

Scales derive_scales(const Points& target, const Points& source, const Options& o) {
    Scales sc{};
    sc.radius = rms_radius(target);
    std::int64_t n = std::max(target.rows(), source.rows());
    sc.voxel = o.voxel;
    if (sc.voxel <= 0 && n > 5000) {
        // Aim at roughly 3000 points on a surface: spacing ~ sqrt(area / N), area ~ 4 pi r^2.
        sc.voxel = std::sqrt(4 * 3.14159265 * sc.radius * sc.radius / 3000.0);
    }
    Points t = sc.voxel > 0 ? geometry::voxel_downsample(target, sc.voxel) : target;
    geometry::KdTree tree(t);
    sc.spacing = std::max(geometry::mean_spacing(t, tree), 1e-12 * std::max(1.0, sc.radius));
    sc.distance = o.distance > 0 ? o.distance : 2.5 * sc.spacing;
    sc.normal_radius = o.normal_radius > 0 ? o.normal_radius : 4 * sc.spacing;
    sc.feature_radius = o.feature_radius > 0 ? o.feature_radius : 12 * sc.spacing;
    return sc;
}

Cloud prepare(const Points& p, const Scales& sc, bool features) {
    Cloud c;
    c.full = &p;
    c.down = sc.voxel > 0 ? geometry::voxel_downsample(p, sc.voxel) : p;
    c.down_tree = geometry::KdTree(c.down);
    if (features) {
        c.normals = geometry::estimate_normals(c.down, c.down_tree, sc.normal_radius, 30);
        c.features = geometry::compute_fpfh(c.down, c.normals, c.down_tree, sc.feature_radius, 100, true);
    }
    return c;
}

IcpOptions icp_options(const Options& o, const Scales& sc, bool plane) {
    IcpOptions io;
    io.point_to_plane = plane;
    io.max_distance = sc.distance;
    io.start_distance = o.anneal ? std::max(sc.distance, 0.75 * sc.radius) : 0.0;
    // From a wide start, a slow schedule lets each scale settle before the next
    // one: 0.8 per iteration shrinks faster than the pose follows, and leaves
    // it wherever the centroid pull of the partial overlap put it.
    io.anneal_factor = 0.93;
    io.trim = o.trim;
    io.max_iterations = o.max_iterations;
    return io;
}

// Scores candidate poses of one pair (see score.hpp) and refines them.
//
// The score multiplies what the descriptors say by what the geometry says:
// (1 + the descriptor correspondences the pose explains) x (the surface
// agreement of source onto target + that of target onto source, tau = s)
// x exp(-w x (the free-space violations of both sides)).
// Descriptors alone favour a flipped pose of a smooth, partly symmetric shape
// when its wrong matches happen to be consistent; a one-sided surface term
// favours poses that tuck the source into the middle of the target. The
// symmetric agreement counts the overlap from both sides, so a pose that
// explains the shared part of both clouds wins, whatever share of either
// cloud that part is. When that part is small, a flipped pose can explain
// as much of it; but it pushes the rest of each cloud through the other's
// interior, which the violation term charges for.
class Verifier {
public:
    // Takes the two clouds (with features) and matches their descriptors.
    Verifier(Cloud s, Cloud t, const Scales& sc, double free_space_weight)
        : s_(std::move(s)), t_(std::move(t)), sc_(sc), corr_(ranked_correspondences(s_.features, t_.features)),
          s_hull_(s_.down), t_hull_(t_.down), weight_(free_space_weight) {}

    const Cloud& source() const { return s_; }
    const Cloud& target() const { return t_; }
    const Correspondences& correspondences() const { return corr_; }

    double score(const Transform& pose) const {
        SideScore a = score_side(s_.down, t_.down_tree, &t_hull_, pose, sc_.spacing, sc_.spacing);
        SideScore b = score_side(t_.down, s_.down_tree, &s_hull_, pose.inverse(), sc_.spacing, sc_.spacing);
        double explained = consistent_correspondences(s_.down, t_.down, corr_, pose, sc_.distance);
        return (1 + explained) * (a.agreement + b.agreement) * std::exp(-weight_ * (a.violation + b.violation));
    }

    // A short trimmed ICP from each candidate, then the best score. `scored`
    // (optional) receives each refined candidate with its score, but for the
    // last `unrecorded` candidates (poses already recorded).
    Transform best(const std::vector<Transform>& candidates, double* score_out = nullptr,
                   std::vector<ScoredPose>* scored = nullptr, std::size_t unrecorded = 0) const {
        IcpOptions io;
        io.max_distance = sc_.distance;
        io.start_distance = 2 * sc_.distance;
        io.trim = 0.9;
        io.max_iterations = 10;
        Transform best = candidates.empty() ? Transform::Identity() : candidates.front();
        double best_score = -1;
        for (std::size_t k = 0; k < candidates.size(); ++k) {
            IcpResult r = icp(s_.down, t_.down, t_.down_tree, Points(), candidates[k], io);
            double sc = score(r.transform);
            if (scored && k + unrecorded < candidates.size()) scored->push_back({r.transform, sc});
            if (sc > best_score) {
                best = r.transform;
                best_score = sc;
            }
        }
        if (score_out) *score_out = best_score;
        return best;
    }

private:
    Cloud s_, t_;
    const Scales& sc_;
    Correspondences corr_;
    SupportHull s_hull_, t_hull_;
    double weight_;
};

std::vector<Transform> ransac_candidates(const Cloud& s, const Cloud& t, const Correspondences& corr, const Options& o,
                                         const Scales& sc, Rng& rng) {
    RansacOptions ro;
    ro.max_iterations = o.ransac_iterations;
    ro.distance = sc.distance;
    ro.hypotheses = o.hypotheses;
    std::vector<Hypothesis> hs = ransac(s.down, t.down, corr, ro, rng);
    std::vector<Transform> out;
    for (auto& h : hs) out.push_back(h.transform);
    return out;
}

// The GMM+OT hypotheses (after UDPReg), with the posteriors of `model` or, without one, of EM.
std::vector<Transform> gmm_candidates(const Cloud& s, const Cloud& t, const Options& o, Rng& rng, const PosteriorModel* model) {
    GmmOtOptions go;
    go.components = o.components;
    go.eps = o.sinkhorn_eps;
    go.hypotheses = o.hypotheses;
    go.with_scale = o.with_scale;
    return udpreg_gmm_ot_hypotheses(s.down, s.features, t.down, t.features, go, rng, model);
}

// The first round of candidates: GMM+OT for gmm-ot and udpreg; RANSAC and
// second-order consistency for global and auto (and the learned model's
// hypotheses for auto with one), plus the identity for auto.
std::vector<Transform> first_candidates(const Verifier& v, const Options& o, const Scales& sc, Rng& rng) {
    const Cloud& s = v.source();
    const Cloud& t = v.target();
    // A learned model's own hypotheses (matches of its point features).
    auto add_model_candidates = [&](std::vector<Transform>& cands) {
        for (const Transform& h : o.model->hypotheses(s.down, s.features, t.down, t.features, sc.distance, rng))
            cands.push_back(h);
    };
    if (o.method == Method::gmm_ot || o.method == Method::udpreg) {
        std::vector<Transform> cands = gmm_candidates(s, t, o, rng, o.method == Method::udpreg ? o.model.get() : nullptr);
        if (o.method == Method::udpreg) add_model_candidates(cands);
        return cands;
    }
    std::vector<Transform> cands = ransac_candidates(s, t, v.correspondences(), o, sc, rng);
    // Deterministic hypotheses from second-order consistency: they find
    // the true matches when they are a few percent of the correspondences,
    // where random triples rarely do (small overlaps).
    ConsistencyOptions co;
    co.distance = sc.distance;
    co.hypotheses = o.hypotheses;
    for (auto& h : sc2_pcr_hypotheses(s.down, t.down, v.correspondences(), co)) cands.push_back(h.transform);
    // A learned posterior model's hypotheses move with the cloud by
    // construction: they join the first round.
    if (o.method == Method::automatic && o.model) {
        for (const Transform& h : gmm_candidates(s, t, o, rng, o.model.get())) cands.push_back(h);
        add_model_candidates(cands);
    }
    if (o.method == Method::automatic) cands.push_back(Transform::Identity());
    return cands;
}

// The verified pose of global, gmm-ot, udpreg and auto; the scored candidates go to `scored` (optional).
Transform verified_pose(const Verifier& v, const Options& o, const Scales& sc, Rng& rng, std::vector<ScoredPose>* scored) {
    double score = 0;
    Transform init = v.best(first_candidates(v, o, sc, rng), &score, scored);
    if (o.method != Method::automatic) return init;
    // auto, second round. The GMM+OT hypotheses cost about as much again, so
    // they are added only when the best pose leaves most of the source
    // unexplained (fitness). Point-pair-feature voting needs no descriptor
    // matches, so it can find the pose where the true FPFH matches are too few
    // (small overlaps); it joins when the best score is weak.
    const Cloud& s = v.source();
    const Cloud& t = v.target();
    const bool want_gmm = geometry::evaluate_fit(s.down, t.down_tree, init, sc.distance).fitness < o.auto_gmm_below;
    const bool want_ppf = score < o.auto_ppf_below;
    if (!want_gmm && !want_ppf) return init;
    std::vector<Transform> more;
    if (want_gmm) more = gmm_candidates(s, t, o, rng, nullptr);
    if (want_ppf) {
        PpfOptions po;
        po.hypotheses = o.hypotheses;
        for (auto& h : drost_ppf_hypotheses(s.down, s.normals, t.down, t.normals, po)) more.push_back(h.transform);
    }
    more.push_back(init);
    return v.best(more, nullptr, scored, 1);
}

// The target with what the final ICP needs.
struct Target {
    const Points& points;
    geometry::KdTree tree;
    Points normals;  // for point-to-plane, else empty
};

// icp and icp-plane: two starts from the same pose. Narrow: a fixed net of
// 3.5 s, as a plain ICP; it keeps to the local fit, and when that explains
// most of the source (fitness 0.8 or more) it is the answer. Wide: the
// annealed net, which sees the whole source first and so escapes larger
// misalignments, but is pulled towards the target's centroid, which at
// partial overlap lies off the shared part. The start that puts more of the
// source on the target surface wins.
// The narrow start is point-to-point even for icp-plane: the linearised
// point-to-plane step overshoots from a pose that is off by more than the
// local curvature allows, and slides along flat parts; point-to-plane then
// refines what it found.
IcpResult two_start_icp(const Points& source, const Target& t, const Transform& init, const IcpOptions& io, const Scales& sc) {
    IcpOptions narrow = io;
    narrow.start_distance = 0;
    narrow.point_to_plane = false;
    narrow.max_distance = std::max(sc.distance, 3.5 * sc.spacing);
    IcpResult q = icp(source, t.points, t.tree, t.normals, init, narrow);
    if (io.point_to_plane) {
        IcpOptions fine = io;
        fine.start_distance = 0;
        IcpResult f = icp(source, t.points, t.tree, t.normals, q.transform, fine);
        q = f;
    }
    double aq = score_side(source, t.tree, nullptr, q.transform, sc.distance).agreement;
    if (geometry::evaluate_fit(source, t.tree, q.transform, sc.distance).fitness >= 0.8) return q;
    IcpResult r = icp(source, t.points, t.tree, t.normals, init, io);
    if (aq > score_side(source, t.tree, nullptr, r.transform, sc.distance).agreement) r = q;
    return r;
}

// The final ICP from `init`: plain for icp and icp-plane (two starts when the
// annealed start is wide), narrow and trimmed after the global methods.
IcpResult final_icp(const Points& source, const Target& t, const Transform& init, const Options& o, const Scales& sc) {
    const bool local = o.method == Method::icp || o.method == Method::icp_plane;
    IcpOptions io = icp_options(o, sc, t.normals.rows() > 0);
    if (!local) {
        // Already close: a narrow start and trimming against the non-overlapping part.
        io.start_distance = 2 * sc.distance;
        if (o.trim >= 1) io.trim = 0.9;
    }
    if (local && io.start_distance > 4 * sc.spacing) return two_start_icp(source, t, init, io, sc);
    return icp(source, t.points, t.tree, t.normals, init, io);
}

// Fitness, RMSE and the low_fitness flag of the final transform; its inlier pairs when asked.
void measure(Result& res, const Points& source, const Target& t, const Scales& sc, bool correspondences) {
    geometry::Fit f = geometry::evaluate_fit(source, t.tree, res.transform, sc.distance);
    res.fitness = f.fitness;
    res.inlier_rmse = f.inlier_rmse;
    if (res.fitness < 0.2) res.flags.push_back("low_fitness");
    if (!correspondences) return;
    Points moved = geometry::apply(res.transform, source);
    double d2 = sc.distance * sc.distance;
    for (Eigen::Index i = 0; i < moved.rows(); ++i) {
        auto nb = t.tree.nearest(moved.row(i).data());
        if (nb.dist2 <= d2) res.correspondences.push_back({i, nb.index});
    }
}

// Best first, ties in the order the candidates were verified.
std::vector<ScoredPose> best_first(const std::vector<ScoredPose>& poses) {
    return stable_sorted_descending(poses, [](const ScoredPose& p) { return p.score; });
}

void check_options(const Options& o) {
    require(o.max_iterations >= 1, "registration: the iteration limit must be at least 1, found " + std::to_string(o.max_iterations));
    require(o.trim > 0 && o.trim <= 1, "registration: the share of pairs kept (trim) must lie in (0, 1]");
    require(o.method != Method::udpreg || o.model, "registration: the udpreg method needs a trained model");
}

}  // namespace

Result register_pair(const Points& source, const Points& target, const Options& o, Rng& rng, const Transform* truth) {
    Timer timer;
    check_input(source, "source");
    check_input(target, "target");
    check_options(o);
    Result res;
    if (classify(source) == Shape::planar || classify(target) == Shape::planar) res.flags.push_back("planar");
    const Scales sc = derive_scales(target, source, o);
    const bool local = o.method == Method::icp || o.method == Method::icp_plane;
    const bool plane_final = o.method != Method::icp && o.method != Method::cpd && o.method != Method::gw;
    Target tgt{target, geometry::KdTree(target), Points()};
    if (plane_final) tgt.normals = geometry::estimate_normals(target, tgt.tree, sc.normal_radius, 30);

    Transform init = Transform::Identity();
    std::optional<Verifier> verifier;  // for the methods that verify candidates
    if (o.method == Method::cpd) {
        CpdOptions co;
        co.outlier_weight = o.outlier_weight;
        co.with_scale = o.with_scale;
        co.max_iterations = o.max_iterations;
        Cloud s = prepare(source, sc, false), t = prepare(target, sc, false);
        CpdResult r = cpd(s.down, t.down, Transform::Identity(), co);
        res.iterations = r.iterations;
        if (!r.converged) res.flags.push_back("not_converged");
        res.transform = r.transform;  // CPD's pose is final
    } else {
        if (o.method == Method::gw) {
            init = gw_initial_pose(source, target).transform;  // Gromov-Wasserstein matching: no descriptors, no starting pose
        } else if (verifies_candidates(o.method)) {
            verifier.emplace(prepare(source, sc, true), prepare(target, sc, true), sc, o.free_space_weight);
            init = verified_pose(*verifier, o, sc, rng, o.keep_hypotheses ? &res.hypotheses : nullptr);
        }
        const IcpResult r = final_icp(source, tgt, init, o, sc);
        res.iterations = r.iterations;
        if (!r.converged && local) res.flags.push_back("not_converged");
        res.transform = r.transform;
        // At small overlaps the final ICP can slide off a verified pose: the
        // non-shared parts within its start distance pull it along. Keep the
        // verified pose when the refined one scores clearly worse.
        if (verifier && verifier->score(r.transform) < 0.9 * verifier->score(init)) res.transform = init;
    }
    measure(res, source, tgt, sc, o.keep_correspondences);
    if (o.keep_hypotheses) res.hypotheses = verifier ? best_first(res.hypotheses) : std::vector<ScoredPose>{{res.transform, res.fitness}};
    res.seconds = timer.seconds();
    if (verifier && o.keep_hypotheses && truth) {  // after the clock: a diagnostic, not part of the registration's time
        res.truth_score = verifier->score(*truth);
        verifier->best({*truth}, &res.truth_refined_score);
    }
    return res;
}

std::vector<Result> register_batch(const std::vector<Points>& sources, const std::vector<Points>& targets, const Options& o,
                                   std::uint64_t seed, std::int64_t first_index, const std::vector<Transform>& truths) {
    require(sources.size() == targets.size(), "registration: expected as many sources as targets, found " +
                                                  std::to_string(sources.size()) + " and " + std::to_string(targets.size()));
    require(truths.empty() || truths.size() == sources.size(), "registration: expected one ground-truth transform per pair");
    const auto n = static_cast<std::int64_t>(sources.size());
    std::vector<Result> out(static_cast<std::size_t>(n));
    std::vector<std::string> errors(static_cast<std::size_t>(n));
    // With -v, a batch shows the pairs done (from one thread at a time, as Progress needs).
    std::optional<Progress> progress;
    if (n > 1 && log::level() == log::Level::verbose) progress.emplace("pair", n);
    std::mutex progress_mutex;
    std::int64_t done = 0;
    parallel_for(n, [&](std::int64_t i) {
        // Exceptions must not cross the OpenMP region: keep the message, rethrow after.
        const auto k = static_cast<std::size_t>(i);
        try {
            Rng rng(seed, static_cast<std::uint64_t>(first_index + i));
            out[k] = register_pair(sources[k], targets[k], o, rng, truths.empty() ? nullptr : &truths[k]);
        } catch (const std::exception& e) {
            errors[k] = e.what();
        }
        if (progress) {
            std::lock_guard<std::mutex> lock(progress_mutex);
            progress->update(++done);
        }
    });
    if (progress) progress->finish();
    for (std::int64_t i = 0; i < n; ++i)
        if (!errors[static_cast<std::size_t>(i)].empty())
            throw Error((n > 1 || first_index > 0 ? "pair " + std::to_string(first_index + i) + ": " : std::string()) +
                        errors[static_cast<std::size_t>(i)]);
    return out;
}

Errors evaluate(const Points& source, const Points& target, const Transform& estimate, const Transform& truth) {
    Errors e;
    e.rre_deg = geometry::rre_deg(estimate, truth);
    e.rte = geometry::rte(estimate, truth);
    // The clean cloud is unknown here: the reference plus the truly aligned source stands in for it.
    Points aligned = geometry::apply(truth, source);
    Points clean(target.rows() + aligned.rows(), 3);
    clean << target, aligned;
    e.chamfer = geometry::modified_chamfer(source, target, clean, estimate, truth);
    return e;
}

}  // namespace orbit::registration
