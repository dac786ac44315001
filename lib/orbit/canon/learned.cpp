#include "orbit/canon/learned.hpp"

#include <Eigen/Dense>
#include <chrono>
#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/distributed/data_parallel.hpp"
#include "orbit/nn/optim.hpp"
#include "orbit/nn/store.hpp"

namespace orbit::canon {

namespace {

constexpr const char* kFormat = "orbit-canonicalizer";

struct Centred {
    Eigen::Vector3d centroid = Eigen::Vector3d::Zero();
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
    double rms = 0;
    bool collapsed = false;
};

// Centroid, covariance and RMS radius (2-D clouds padded with z = 0); "collapsed" with the PCA path's test.
Centred centre(const PointsRef& x) {
    Centred c;
    double max_abs = 0;
    const double n = static_cast<double>(x.rows());
    const auto dim = x.cols();
    auto row = [&](Eigen::Index i) {
        Eigen::Vector3d p = Eigen::Vector3d::Zero();
        p.head(dim) = x.row(i).transpose();
        return p;
    };
    for (Eigen::Index i = 0; i < x.rows(); ++i) c.centroid += row(i);
    c.centroid /= n;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        const Eigen::Vector3d d = row(i) - c.centroid;
        c.cov += d * d.transpose();
        max_abs = std::max(max_abs, x.row(i).cwiseAbs().maxCoeff());
    }
    c.cov /= n;
    c.rms = std::sqrt(c.cov.trace());
    c.collapsed = !(c.cov.trace() > 1e-24 * std::max(max_abs * max_abs, 1e-300));
    return c;
}

void check_cloud(const PointsRef& x, int dim) {
    if (x.rows() == 0) throw Error("canonicalize: the point cloud is empty");
    if (x.cols() != dim)
        throw Error("canonicalize: this learned canonicalizer expects " + std::to_string(dim) + "-D points, found " +
                    std::to_string(x.cols()) + " coordinates");
}

template <class T>
nn::Mat<T> normalized(const PointsRef& x, const Centred& c) {
    return ((x.rowwise() - c.centroid.head(x.cols()).transpose()) / c.rms).template cast<T>();
}

// R from the network's output row (d x d, row-major), embedded in 3 x 3 (z fixed for 2-D).
template <class M>
Eigen::Matrix3d frame_from(const M& r) {
    const int d = r.cols() == 4 ? 2 : 3;
    Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
    for (int i = 0; i < d * d; ++i) R(i / d, i % d) = static_cast<double>(r(0, i));
    return R;
}

// The angle of a rotation, in degrees (the reported distance from the identity).
double rotation_angle_deg(const Eigen::Matrix3d& R) {
    return std::acos(std::clamp((R.trace() - 1) / 2, -1.0, 1.0)) * 180.0 / M_PI;
}

}  // namespace

Group parse_learned_group(const std::string& text) {
    const Group g = parse_group(text);
    return g;
}

LearnedCanonicalizer::LearnedCanonicalizer(Group group, CanonNet<float> net)
    : group_(group), net_(std::move(net)), net64_(net_.cast<double>()) {
    opt_.group = group;
    if (net_.reflections() != has_reflections(group) || (net_.dim() == 2) != (group == Group::SO2))
        throw Error("learned canonicalizer: the network (reflections, dimension) does not match the group " + group_name(group));
}

void LearnedCanonicalizer::set_options(const Options& opt) {
    opt_ = opt;
    opt_.group = group_;
}

Eigen::Matrix3d LearnedCanonicalizer::frame(const PointsRef& x) const {
    check_cloud(x, net_.dim());
    const Centred c = centre(x);
    if (c.collapsed) return Eigen::Matrix3d::Identity();
    nn::Tape<double> tape(false);
    tape.set_parallel_products(false);
    auto& net = const_cast<CanonNet<double>&>(net64_);  // the tape reads parameters in place, never writes
    const nn::Var r = net.forward(tape, normalized<double>(x, c), static_cast<int>(x.rows()));
    return frame_from(tape.value(r));
}

Canonical LearnedCanonicalizer::canonicalize(const PointsRef& x) const {
    check_cloud(x, net_.dim());
    const Centred c = centre(x);
    Canonical out;
    Diagnostics& dg = out.diag;
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(c.cov);
    dg.eigenvalues = es.eigenvalues().reverse().cwiseMax(0.0);
    const bool translate = has_translations(group_);
    double scale = 1.0;
    if (opt_.scale) {
        if (c.collapsed) dg.flags |= flag_collapsed;
        else scale = c.rms;
    }
    dg.scale = scale;
    Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
    if (c.collapsed || x.rows() < 2) {
        dg.flags |= flag_collapsed;
    } else {
        nn::Tape<double> tape(false);
        tape.set_parallel_products(false);
        auto& net = const_cast<CanonNet<double>&>(net64_);  // read in place, never written
        const VecVar v = net.vectors(tape, normalized<double>(x, c), static_cast<int>(x.rows()));
        const nn::Var r = gram_schmidt(tape, v, net.reflections(), 1e-30);
        R = frame_from(tape.value(r));
        const int m = static_cast<int>(tape.value(v.x).cols());
        Eigen::Matrix3d V = Eigen::Matrix3d::Zero();
        for (int j = 0; j < m; ++j)
            V.col(j) = Eigen::Vector3d(tape.value(v.x)(0, j), tape.value(v.y)(0, j), v.planar() ? 0.0 : tape.value(v.z)(0, j));
        // Sines of the angles between each output vector and the span of the earlier ones.
        auto sine = [&](int j) {
            const double nv = V.col(j).norm();
            if (!(nv > 0)) return 0.0;
            Eigen::Vector3d u = V.col(j);
            for (int i = 0; i < j; ++i) u -= u.dot(R.col(i)) * R.col(i);
            return u.norm() / nv;
        };
        dg.gaps = Eigen::Vector2d(m >= 2 ? sine(1) : 1.0, m == 3 ? sine(2) : 1.0);
        if (!(V.col(0).norm() > 1e-9) || dg.gaps.minCoeff() < opt_.gap_tol) dg.flags |= flag_eigen_gap;
    }
    if (dg.unstable()) {
        if (opt_.on_unstable == Unstable::error) throw Error("canonical form is unstable: " + describe_flags(dg.flags));
        if (opt_.on_unstable == Unstable::identity) R.setIdentity();
    }
    out.transform.setIdentity();
    out.transform.topLeftCorner<3, 3>() = R.transpose() / scale;
    if (translate) out.transform.topRightCorner<3, 1>() = -(R.transpose() / scale) * c.centroid;
    return out;
}

void LearnedCanonicalizer::save(h5::File& file) const {
    file.create_group("/model");
    file.set_attr_json("/model", "config",
                       {{"format", kFormat}, {"method", net_.method()}, {"group", group_name(group_)},
                        {"architecture", net_.architecture()}});
    auto& net = const_cast<CanonNet<float>&>(net_);
    nn::save_params(file, "/model/weights", net.params());
    file.set_attr_json("/model", "training", training_);
    if (!adam_m_.empty()) {
        nn::save_mats(file, "/model/optimizer/m", adam_m_);
        nn::save_mats(file, "/model/optimizer/v", adam_v_);
    }
    if (!last_.empty()) nn::save_mats(file, "/model/last/weights", last_);
}

bool is_learned_canonicalizer(const h5::File& file) {
    if (!file.exists("/model") || !file.has_attr("/model", "config")) return false;
    try {
        return file.attr_json("/model", "config").value("format", "") == kFormat;
    } catch (const std::exception&) {
        return false;
    }
}

LearnedCanonicalizer LearnedCanonicalizer::load(const std::string& path) {
    h5::File f = h5::File::open_read(path);
    return load(f, path);
}

LearnedCanonicalizer LearnedCanonicalizer::load(const h5::File& file, const std::string& where) {
    if (!is_learned_canonicalizer(file))
        throw Error(where + ": not an orbit canonicalizer model (no /model config of format " + kFormat + ")");
    try {
        const nlohmann::json cfg = file.attr_json("/model", "config");
        const Group g = parse_learned_group(cfg.at("group").get<std::string>());
        Rng rng(0);
        CanonNet<float> net = CanonNet<float>::from_json(cfg.value("method", ""), cfg.at("architecture"), rng);
        nn::load_params(file, "/model/weights", net.params());
        LearnedCanonicalizer m(g, std::move(net));
        if (file.has_attr("/model", "training")) m.training_ = file.attr_json("/model", "training");
        if (file.exists("/model/optimizer/m")) {
            const auto ps = m.net_.params();
            for (auto* p : ps) m.adam_m_.push_back(nn::Mat<float>::Zero(p->value.rows(), p->value.cols()));
            m.adam_v_ = m.adam_m_;
            nn::load_mats(file, "/model/optimizer/m", m.adam_m_);
            nn::load_mats(file, "/model/optimizer/v", m.adam_v_);
        }
        if (file.exists("/model/last/weights")) {
            for (auto* p : m.net_.params()) m.last_.push_back(nn::Mat<float>::Zero(p->value.rows(), p->value.cols()));
            nn::load_mats(file, "/model/last/weights", m.last_);
        }
        return m;
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": bad canonicalizer config: " + e.what());
    } catch (const UsageError& e) {
        throw Error(where + ": " + e.what());
    }
}

nn::Mat<float> normalized_clouds(const std::vector<const Points*>& clouds, int dim, int& n) {
    if (clouds.empty()) throw Error("no training clouds");
    n = static_cast<int>(clouds[0]->rows());
    nn::Mat<float> all(static_cast<Eigen::Index>(clouds.size()) * n, dim);
    for (std::size_t i = 0; i < clouds.size(); ++i) {
        const Points& x = *clouds[i];
        const std::string where = "cloud " + std::to_string(i) + ": ";
        if (x.cols() != dim)
            throw Error(where + "expected " + std::to_string(dim) + "-D points, found " + std::to_string(x.cols()) +
                        " coordinates");
        if (x.rows() != n)
            throw Error(where + "all clouds need the same number of points (found " + std::to_string(n) + " and " +
                        std::to_string(x.rows()) + ")");
        if (n < 2) throw Error(where + "needs at least 2 points");
        if (!x.allFinite()) throw Error(where + "non-finite coordinates");
        const Centred c = centre(x);
        if (c.collapsed) throw Error(where + "all points coincide");
        all.middleRows(static_cast<Eigen::Index>(i) * n, n) = normalized<float>(x, c);
    }
    return all;
}

PriorForm parse_prior_form(const std::string& text) {
    if (text == "frame") return PriorForm::frame;
    if (text == "vectors") return PriorForm::vectors;
    throw UsageError("unknown prior form '" + text + "' (frame or vectors)");
}

std::string prior_form_name(PriorForm f) { return f == PriorForm::frame ? "frame" : "vectors"; }

namespace {

// A fresh network of the method and architecture in opt, for its group.
CanonNet<float> new_network(const PriorTrainOptions& opt, Rng& init) {
    const int dim = opt.group == Group::SO2 ? 2 : 3;
    if (opt.method == "weighted-frames") {
        if (has_reflections(opt.group))
            throw UsageError("weighted frames are for rotations (SO2, SO3, SE3), not " + group_name(opt.group));
        WfConfig cfg = opt.frames;
        cfg.dim = dim;
        return WeightedFramesNet<float>(WfConfig::from_json(cfg.to_json()), init);
    }
    if (opt.method == "pca-correction") {
        if (has_reflections(opt.group))
            throw UsageError("pca-correction is for rotations (SO2, SO3, SE3), not " + group_name(opt.group));
        PcConfig cfg = opt.correction;
        cfg.dim = dim;
        return PcaCorrectionNet<float>(PcConfig::from_json(cfg.to_json()), init);
    }
    if (opt.method != "vector-neurons")
        throw UsageError("unknown canonicalizer method '" + opt.method + "' (vector-neurons, weighted-frames or pca-correction)");
    VnConfig cfg = opt.net;
    cfg.reflections = has_reflections(opt.group);
    cfg.dim = dim;
    cfg.chiral = cfg.chiral && !cfg.reflections;
    return VnCanonicalizerNet<float>(cfg, init);
}

void check_train_options(const PriorTrainOptions& opt) {
    if (opt.epochs < 0 || opt.batch < 1 || !(opt.lr > 0) || !(opt.beta > 0) || opt.stop_after < 0 || !(opt.jitter >= 0) ||
        !(opt.weight_decay >= 0) || !(opt.val >= 0 && opt.val < 1) || opt.patience < 0)
        throw UsageError("training options out of range (epochs >= 0, batch >= 1, lr > 0, beta > 0, stop_after >= 0, "
                         "jitter >= 0, weight decay >= 0, 0 <= val < 1, patience >= 0)");
}

// One training cloud as the network sees it after the pose-preserving augmentation of opt
// (resampling, jitter), centred and scaled to unit RMS radius again; rng is the cloud's own stream.
nn::Mat<float> augmented(const nn::Mat<float>& pts, const PriorTrainOptions& opt, Rng& rng) {
    const auto n = pts.rows();
    Eigen::MatrixXd x = pts.cast<double>();
    if (opt.resample)
        for (Eigen::Index i = 0; i < n; ++i) x.row(i) = pts.row(static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n)))).cast<double>();
    if (opt.jitter > 0)
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index a = 0; a < x.cols(); ++a) x(i, a) += opt.jitter * rng.normal();
    x.rowwise() -= x.colwise().mean();
    const double rms = std::sqrt(x.squaredNorm() / static_cast<double>(n));
    if (!(rms > 0)) return pts;  // all resampled points coincide: keep the cloud as it was
    return (x / rms).cast<float>();
}

}  // namespace

LearnedCanonicalizer train_canonicalization_prior(const std::vector<const Points*>& clouds, const PriorTrainOptions& opt,
                                                  const std::function<void(const PriorEpoch&)>& on_epoch) {
    check_train_options(opt);
    Rng init(opt.seed, 0);
    LearnedCanonicalizer m(opt.group, new_network(opt, init));
    continue_canonicalization_prior(m, clouds, opt, on_epoch);
    return m;
}

namespace {

// The clouds a run trains on and the ones it holds out for validation (opt.val of them, a choice
// seeded by opt.seed alone), each list in cloud order; without validation every cloud trains.
void split_clouds(std::int64_t b, const PriorTrainOptions& opt, std::vector<std::int64_t>& train, std::vector<std::int64_t>& val) {
    train.clear();
    val.clear();
    const auto k = static_cast<std::int64_t>(std::llround(opt.val * static_cast<double>(b)));
    if (opt.val > 0 && (k < 1 || k >= b))
        throw UsageError("--val " + std::to_string(opt.val) + " holds out " + std::to_string(k) + " of " + std::to_string(b) +
                         " clouds; it must leave at least one for validation and one for training");
    std::vector<char> held(static_cast<std::size_t>(b), 0);
    if (k > 0) {
        Rng pick(opt.seed, 0x76616c6964ULL);  // "valid"
        const std::vector<std::int64_t> p = pick.permutation(b);
        for (std::int64_t i = 0; i < k; ++i) held[static_cast<std::size_t>(p[static_cast<std::size_t>(i)])] = 1;
    }
    for (std::int64_t i = 0; i < b; ++i) (held[static_cast<std::size_t>(i)] ? val : train).push_back(i);
}

// The prior loss (per cloud, mean over the clouds) and the mean angle of R on the held-out clouds, unaugmented.
std::pair<double, double> validate(CanonNet<float>& net, const nn::Mat<float>& data, int n, const std::vector<std::int64_t>& idx,
                                   const PriorTrainOptions& opt) {
    std::vector<double> loss(idx.size()), angle(idx.size());
    parallel_for(static_cast<std::int64_t>(idx.size()), [&](std::int64_t k) {
        nn::Tape<float> tape(false);
        tape.set_parallel_products(false);
        nn::Var frames;
        const nn::Mat<float> pts(data.middleRows(idx[static_cast<std::size_t>(k)] * n, n));
        const float beta = static_cast<float>(opt.beta);  // the model as it is used (an ensemble: the members' mean)
        const nn::Var l = net.angle_bins() > 0             ? training_prior_loss(tape, net, pts, n, beta, opt.prior, frames)
                          : opt.prior == PriorForm::vectors ? vector_prior_loss(tape, net, pts, n, beta, &frames)
                                                            : canonicalization_prior_loss(tape, net, pts, n, beta, &frames);
        loss[static_cast<std::size_t>(k)] = double(tape.value(l)(0, 0));
        angle[static_cast<std::size_t>(k)] = rotation_angle_deg(frame_from(tape.value(frames).row(0)));
    });
    double ls = 0, as = 0;
    for (std::size_t k = 0; k < idx.size(); ++k) ls += loss[k], as += angle[k];  // in cloud order: the same bits for any -j
    const auto m = static_cast<double>(idx.size());
    return {ls / m, as / m};
}

// One epoch of minibatch steps over the training clouds; returns the mean loss and angle over them.
std::pair<double, double> train_epoch(CanonNet<float>& net, nn::Adam<float>& adam, const nn::Mat<float>& data, int n,
                                      const std::vector<std::int64_t>& train, int epoch, const PriorTrainOptions& opt) {
    const auto b = static_cast<std::int64_t>(train.size());
    const std::int64_t per_epoch = (b + opt.batch - 1) / opt.batch;
    Rng order(opt.seed, mix64(0x6f72646572ULL, static_cast<std::uint64_t>(epoch)));  // "order"
    std::vector<std::int64_t> perm = order.permutation(b);
    for (auto& p : perm) p = train[static_cast<std::size_t>(p)];
    double loss_sum = 0, angle_sum = 0;
    for (std::int64_t s = 0; s < per_epoch; ++s) {
        const std::int64_t lo = s * opt.batch, hi = std::min<std::int64_t>(b, lo + opt.batch);
        adam.zero_grad();
        // One tape per cloud, added in cloud order: the same bits for any -j and any number of MPI ranks.
        struct Shard { double loss, angle; };
        std::vector<Shard> shards(static_cast<std::size_t>(hi - lo));
        std::vector<nn::Tape<float>> tapes;
        tapes.reserve(shards.size());
        for (std::size_t k = 0; k < shards.size(); ++k) tapes.emplace_back(true);
        distributed::record_shards(tapes, net.params(), shards, [&](std::int64_t k) {
            nn::Tape<float>& tape = tapes[static_cast<std::size_t>(k)];
            nn::Var frames;
            nn::Mat<float> pts(data.middleRows(perm[static_cast<std::size_t>(lo + k)] * n, n));
            if (opt.resample || opt.jitter > 0) {
                Rng aug(opt.seed, mix64(mix64(0x6175676d656e74ULL, static_cast<std::uint64_t>(epoch)),  // "augment"
                                        static_cast<std::uint64_t>(perm[static_cast<std::size_t>(lo + k)])));
                pts = augmented(pts, opt, aug);
            }
            const float beta = static_cast<float>(opt.beta) / static_cast<float>(hi - lo);
            const nn::Var loss = training_prior_loss(tape, net, pts, n, beta, opt.prior, frames);
            // The cloud's frame, for the reported angle (before this step's update).
            shards[static_cast<std::size_t>(k)] = {double(tape.value(loss)(0, 0)),
                                                   rotation_angle_deg(frame_from(tape.value(frames).row(0)))};
            tape.backward_detached(loss);
        });
        double step_loss = 0;
        for (const Shard& h : shards) step_loss += h.loss, angle_sum += h.angle;
        loss_sum += step_loss * static_cast<double>(hi - lo);
        adam.step(opt.lr);
    }
    return {loss_sum / static_cast<double>(b), angle_sum / static_cast<double>(b)};
}

void set_weights(CanonNet<float>& net, const std::vector<nn::Mat<float>>& w) {
    const auto ps = net.params();
    if (w.size() != ps.size()) throw Error("canonicalizer: the saved last weights do not match the network");
    for (std::size_t i = 0; i < ps.size(); ++i) ps[i]->value = w[i];
}

}  // namespace

void continue_canonicalization_prior(LearnedCanonicalizer& model, const std::vector<const Points*>& clouds,
                                     const PriorTrainOptions& opt, const std::function<void(const PriorEpoch&)>& on_epoch) {
    check_train_options(opt);
    if (opt.group != model.group())
        throw UsageError("the model is a canonicalizer for " + group_name(model.group()) + ", not " + group_name(opt.group));
    const int dim = model.net().dim();
    int n = 0;
    const nn::Mat<float> data = normalized_clouds(clouds, dim, n);
    const auto b = static_cast<std::int64_t>(clouds.size());
    nlohmann::json tr = model.training();
    int epoch = tr.value("epoch", 0);
    if (epoch > 0 && (tr.value("clouds", std::int64_t(-1)) != b || tr.value("points", -1) != n))
        throw Error("the model was trained on " + std::to_string(tr.value("clouds", std::int64_t(-1))) + " clouds of " +
                    std::to_string(tr.value("points", -1)) + " points; resuming needs the same clouds (found " +
                    std::to_string(b) + " of " + std::to_string(n) + ")");
    if (epoch > 0 && tr.value("val", 0.0) != opt.val)
        throw UsageError("the model was trained with --val " + std::to_string(tr.value("val", 0.0)) + "; resuming needs the same");
    std::vector<std::int64_t> train, val;
    split_clouds(b, opt, train, val);
    if (!tr.contains("history")) tr["history"] = {{"loss", nlohmann::json::array()}, {"angle_deg", nlohmann::json::array()}};
    if (!val.empty() && !tr["history"].contains("val_loss")) tr["history"]["val_loss"] = tr["history"]["val_angle_deg"] = nlohmann::json::array();
    // Trained on a copy (from the last epoch's weights where the model keeps the best); the model is rebuilt at the end.
    CanonNet<float> best = model.net();
    CanonNet<float> net = best;
    if (!model.last_weights().empty()) set_weights(net, model.last_weights());
    int best_epoch = tr.value("best_epoch", epoch);
    double best_loss = tr.value("best_val_loss", std::numeric_limits<double>::infinity());
    nn::AdamOptions ao;
    ao.lr = opt.lr;
    ao.weight_decay = opt.weight_decay;
    nn::Adam<float> adam(net.params(), ao);
    if (!model.optimizer_m().empty()) {
        adam.m() = model.optimizer_m();
        adam.v() = model.optimizer_v();
        adam.set_steps(tr.value("steps", std::int64_t(0)));
    }
    auto patient = [&] { return val.empty() || opt.patience <= 0 || epoch - best_epoch < opt.patience; };
    for (int run = 0; epoch < opt.epochs && (opt.stop_after <= 0 || run < opt.stop_after) && patient(); ++run) {
        ++epoch;
        const auto t0 = std::chrono::steady_clock::now();
        const auto [loss, angle] = train_epoch(net, adam, data, n, train, epoch, opt);
        PriorEpoch pe{epoch, opt.epochs, loss, angle, 0, 0, best_epoch, 0};
        tr["history"]["loss"].push_back(pe.loss);
        tr["history"]["angle_deg"].push_back(pe.angle_deg);
        if (!val.empty()) {
            std::tie(pe.val_loss, pe.val_angle_deg) = validate(net, data, n, val, opt);
            if (pe.val_loss < best_loss) best_loss = pe.val_loss, best_epoch = epoch, best = net;
            pe.best_epoch = best_epoch;
            tr["history"]["val_loss"].push_back(pe.val_loss);
            tr["history"]["val_angle_deg"].push_back(pe.val_angle_deg);
        }
        pe.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (on_epoch) on_epoch(pe);
    }
    tr.update({{"objective", "canonicalization-prior"}, {"prior", prior_form_name(opt.prior)}, {"beta", opt.beta}, {"epochs", opt.epochs}, {"epoch", epoch},
               {"steps", adam.steps()}, {"batch", opt.batch}, {"lr", opt.lr}, {"seed", opt.seed}, {"resample", opt.resample}, {"jitter", opt.jitter},
               {"weight_decay", opt.weight_decay}, {"clouds", b}, {"points", n}, {"val", opt.val}, {"patience", opt.patience}});
    if (!val.empty()) tr["val_clouds"] = val;
    if (std::isfinite(best_loss)) tr.update({{"best_epoch", best_epoch}, {"best_val_loss", best_loss}});  // JSON has no infinity
    std::vector<nn::Mat<float>> last;
    if (!val.empty())
        for (auto* p : net.params()) last.push_back(p->value);
    const Options options = model.options();
    model = LearnedCanonicalizer(model.group(), val.empty() ? std::move(net) : std::move(best));
    model.set_options(options);
    model.training() = std::move(tr);
    model.optimizer_m() = adam.m();
    model.optimizer_v() = adam.v();
    model.last_weights() = std::move(last);
}

}  // namespace orbit::canon

namespace orbit::canon {

std::unique_ptr<Canonicalizer> make_canonicalizer(Options& opt, const std::string& model_path, bool group_given) {
    if (model_path.empty()) return std::make_unique<PcaCanonicalizer>(opt);
    auto m = std::make_unique<LearnedCanonicalizer>(LearnedCanonicalizer::load(model_path));
    if (group_given && opt.group != m->group())
        throw UsageError("the requested group " + group_name(opt.group) + " differs from the group of the model " + model_path + " (" +
                         group_name(m->group()) + "); the group comes from the model");
    opt.group = m->group();
    m->set_options(opt);
    return m;
}

}  // namespace orbit::canon
