#include "orbit/udpreg/train.hpp"

#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/geometry/kdtree.hpp"
#include "orbit/geometry/metrics.hpp"
#include "orbit/geometry/perturb.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/registration/global.hpp"
#include "orbit/registration/icp.hpp"
#include "orbit/registration/register.hpp"
#include "orbit/distributed/data_parallel.hpp"
#include "orbit/udpreg/inputs.hpp"
#include "orbit/udpreg/losses.hpp"

namespace orbit::udpreg {

Losses& Losses::operator+=(const Losses& o) {
    self += o.self;
    cross += o.cross;
    contrastive += o.contrastive;
    total += o.total;
    return *this;
}

Losses Losses::scaled(double s) const { return {self * s, cross * s, contrastive * s, total * s}; }

namespace {
// The seeded order of the sets; the first `held` of it are held out.
std::vector<std::int64_t> split_order(std::int64_t count, double share, std::uint64_t seed, std::int64_t& held) {
    held = count >= 2 && share > 0 ? std::max<std::int64_t>(1, std::llround(share * double(count))) : 0;
    held = std::min<std::int64_t>(held, std::max<std::int64_t>(count - 1, 0));
    Rng split(seed, 0x73706c6974ULL);  // "split"
    return split.permutation(count);
}
}  // namespace

std::vector<std::int64_t> validation_indices(std::int64_t count, double share, std::uint64_t seed) {
    std::int64_t held = 0;
    std::vector<std::int64_t> order = split_order(count, share, seed, held);
    order.resize(static_cast<std::size_t>(held));
    return order;
}

std::pair<std::vector<Points>, std::vector<Points>> split_validation(const std::vector<Points>& sets, double share,
                                                                     std::uint64_t seed) {
    std::int64_t held = 0;
    const std::vector<std::int64_t> order = split_order(static_cast<std::int64_t>(sets.size()), share, seed, held);
    std::vector<Points> train, valid;
    for (std::size_t k = 0; k < order.size(); ++k)
        (static_cast<std::int64_t>(k) < held ? valid : train).push_back(sets[static_cast<std::size_t>(order[k])]);
    return {std::move(train), std::move(valid)};
}

TrainingPair draw_pair(const Points& shape, const PairProtocol& pr, Rng& rng) {
    require(shape.cols() == 3 && shape.rows() >= 16, "udpreg: a training shape needs at least 16 points of 3 coordinates");
    geometry::PerturbOptions ref;
    ref.normalize = true;
    ref.keep_fraction = pr.overlap;
    ref.resample = pr.points;
    ref.noise = pr.noise;
    ref.noise_clip = pr.noise_clip;
    ref.shuffle = true;
    geometry::PerturbOptions src = ref;
    src.uniform_rotation = pr.uniform_rotation;
    src.euler_max_deg = pr.rotation_deg;
    src.translation = pr.translation;
    Rng rs = rng.split(1), rt = rng.split(2);
    geometry::Perturbed s = geometry::perturb(shape, Points(), src, rs);
    geometry::Perturbed t = geometry::perturb(shape, Points(), ref, rt);
    TrainingPair p;
    p.source = std::move(s.points);
    p.target = std::move(t.points);
    p.truth = t.transform * s.transform.inverse();
    return p;
}

namespace {

// Everything a pair needs before the network runs.
struct Prepared {
    Points fs, ft;     // FPFH
    Points in;         // stacked network inputs [Ns + Nt, kInputWidth]
    std::vector<int> graph;  // the network's context graph of the stacked clouds
    double distance;   // inlier distance, 2.5 x spacing as registration uses
    geometry::KdTree target_tree;
    std::vector<Transform> descriptor_hypotheses;  // FPFH + RANSAC, from the clouds alone
};

Prepared prepare(const TrainingPair& p, int context) {
    Prepared q;
    q.graph = context_graph(p.source, p.target, context);
    DescriptorScales sc = descriptor_scales(p.target);
    q.fs = registration_fpfh(p.source, sc);
    q.ft = registration_fpfh(p.target, sc);
    q.in.resize(p.source.rows() + p.target.rows(), kInputWidth);
    q.in << network_inputs(p.source, q.fs), network_inputs(p.target, q.ft);
    q.distance = 2.5 * sc.spacing;
    q.target_tree = geometry::KdTree(p.target);
    // Hypotheses from FPFH matches (a few RANSAC draws, seeded by the clouds'
    // sizes only): with the model's own ones they let training start from
    // mostly right alignments before the posteriors mean anything.
    registration::RansacOptions ro;
    ro.max_iterations = 4000;
    ro.distance = q.distance;
    ro.hypotheses = 4;
    Rng rng(0x72616e73ULL, static_cast<std::uint64_t>(p.source.rows() * 131 + p.target.rows()));
    for (const auto& h : registration::ransac(p.source, p.target, registration::ranked_correspondences(q.fs, q.ft), ro, rng))
        q.descriptor_hypotheses.push_back(h.transform);
    return q;
}

// The alignment the losses are evaluated under: GMM+OT hypotheses from the
// model's current posteriors and features plus the FPFH+RANSAC ones, a short
// trimmed ICP from each, the best fitness. No pose of the pair is read.
Transform estimate_alignment(const TrainingPair& p, const Prepared& q, const Matrix& gs, const Points& zs, const Matrix& gt,
                             const Points& zt, Rng& rng) {
    FixedPosteriors fixed(gs, zs, gt, zt, &p.source);
    registration::GmmOtOptions go;
    go.components = static_cast<int>(gs.cols());
    go.hypotheses = 4;
    std::vector<Transform> hyp = registration::udpreg_gmm_ot_hypotheses(p.source, q.fs, p.target, q.ft, go, rng, &fixed);
    for (const Transform& h : feature_match_hypotheses(p.source, zs, p.target, zt, q.distance, 4)) hyp.push_back(h);
    hyp.insert(hyp.end(), q.descriptor_hypotheses.begin(), q.descriptor_hypotheses.end());
    registration::IcpOptions io;
    io.max_distance = q.distance;
    io.start_distance = 2 * q.distance;
    io.trim = 0.9;
    io.max_iterations = 10;
    Transform best = Transform::Identity();
    double best_fit = -1;
    for (const Transform& h : hyp) {
        registration::IcpResult r = registration::icp(p.source, p.target, q.target_tree, Points(), h, io);
        double fit = geometry::evaluate_fit(p.source, q.target_tree, r.transform, q.distance).fitness;
        if (fit > best_fit) {
            best_fit = fit;
            best = r.transform;
        }
    }
    return best;
}

// Forward, losses and (with a recording tape) the backward pass, detached
// from the parameters' grad so that pairs can run at once.
Losses pair_pass(Model& model, const TrainingPair& p, const Prepared& q, const TrainOptions& o, double ramp, Rng& rng,
                 nn::Tape<float>& tape, double grad_scale) {
    const Eigen::Index ns = p.source.rows(), nt = p.target.rows();
    const int C = model.config().features, K = model.config().components;
    tape.clear();
    tape.set_parallel_products(false);
    nn::Var out = model.network().forward(tape, tape.constant(q.in.cast<float>()), q.graph);
    const Mat<float> v = tape.value(out);
    Mat<float> Fs = v.topLeftCorner(ns, C), Ft = v.bottomLeftCorner(nt, C);
    Mat<float> Gs = v.topRightCorner(ns, K), Gt = v.bottomRightCorner(nt, K);
    Transform T = estimate_alignment(p, q, posterior_rows(Gs.cast<double>()), unit_rows<double>(Fs.cast<double>()),
                                     posterior_rows(Gt.cast<double>()),
                                     unit_rows<double>(Ft.cast<double>()), rng);
    const LossWeights& w = o.weights;
    const Mat<float> xs = p.source.cast<float>(), xt = p.target.cast<float>();
    const Mat<float> xa = geometry::apply(T, p.source).cast<float>();
    CloudGrad<float> ss = self_consistency_loss(xs, Fs, Gs, float(w.balance), float(w.spread), float(w.sharpen));
    CloudGrad<float> st = self_consistency_loss(xt, Ft, Gt, float(w.balance), float(w.spread), float(w.sharpen));
    // Pairs for the contrastive loss: sampled source points whose aligned
    // position has a target point within the inlier distance (one per target).
    std::vector<std::pair<int, int>> pairs;
    {
        std::vector<std::int64_t> order = rng.permutation(ns);
        std::vector<char> used(static_cast<std::size_t>(nt), 0);
        const Points xad = geometry::apply(T, p.source);
        for (std::int64_t i : order) {
            if (pairs.size() >= 256) break;
            geometry::Neighbor nb = q.target_tree.nearest_within(xad.row(i).data(), q.distance);
            if (nb.index < 0 || used[static_cast<std::size_t>(nb.index)]) continue;
            used[static_cast<std::size_t>(nb.index)] = 1;
            pairs.push_back({static_cast<int>(i), static_cast<int>(nb.index)});
        }
    }
    PairGrad<float> cc = cross_consistency_loss(xa, Gs, xt, Gt, pairs);
    PairGrad<float> lc = local_contrastive_loss(Fs, Ft, pairs, float(w.temperature));
    Losses l;
    l.self = 0.5 * (double(ss.value) + double(st.value));
    l.cross = cc.value;
    l.contrastive = lc.value;
    l.total = w.self * l.self + ramp * (w.cross * l.cross + w.contrastive * l.contrastive);
    if (tape.recording()) {
        const float a = float(grad_scale * w.self * 0.5), b = float(grad_scale * ramp * w.cross),
                    c = float(grad_scale * ramp * w.contrastive);
        Mat<float> seed(ns + nt, C + K);
        seed.topLeftCorner(ns, C) = a * ss.d_points + c * lc.d_f_s;
        seed.bottomLeftCorner(nt, C) = a * st.d_points + c * lc.d_f_t;
        seed.topRightCorner(ns, K) = a * ss.d_gamma + b * cc.d_gamma_s;
        seed.bottomRightCorner(nt, K) = a * st.d_gamma + b * cc.d_gamma_t;
        // sum(out .* seed) has gradient `seed` with respect to out.
        nn::Var loss = tape.sum(tape.mul(out, tape.constant(std::move(seed))));
        tape.backward_detached(loss);
    }
    return l;
}

}  // namespace

Losses pair_losses(Model& model, const TrainingPair& pair, const TrainOptions& o, double ramp, Rng& rng, bool grads,
                   double grad_scale) {
    nn::Tape<float> tape(grads);
    if (grads)
        for (auto* p : model.params())
            if (p->grad.size() != p->value.size()) p->zero_grad();
    Prepared q = prepare(pair, model.config().context);
    Losses l = pair_pass(model, pair, q, o, ramp, rng, tape, grad_scale);
    if (grads) tape.add_param_grads();
    return l;
}

namespace {
// One optimisation step on prepared pairs.
Losses step_prepared(Model& model, const std::vector<const TrainingPair*>& pairs, const std::vector<const Prepared*>& prep,
                     const TrainOptions& o, double ramp, std::uint64_t stream, double lr) {
    const auto n = static_cast<std::int64_t>(pairs.size());
    require(n > 0, "udpreg: a training step needs at least one pair");
    auto params = model.params();
    if (!model.optimizer) model.optimizer = std::make_unique<nn::Adam<float>>(params, nn::AdamOptions{});
    for (auto* p : params) p->zero_grad();
    std::vector<nn::Tape<float>> tapes;
    tapes.reserve(static_cast<std::size_t>(n));
    for (std::int64_t b = 0; b < n; ++b) tapes.emplace_back(true);
    std::vector<Losses> losses(static_cast<std::size_t>(n));
    // mpirun -n P: each rank records its share of the pairs; the same gradient bits for any P (and -j)
    distributed::record_shards(tapes, params, losses, [&](std::int64_t b) {
        try {
            const auto i = static_cast<std::size_t>(b);
            Rng rng(o.seed, mix64(stream, static_cast<std::uint64_t>(b)));
            losses[i] = pair_pass(model, *pairs[i], *prep[i], o, ramp, rng, tapes[i], 1.0 / double(n));
        } catch (const std::exception& e) {
            throw Error(std::string("udpreg training: ") + e.what());
        }
    });
    Losses sum;
    for (std::int64_t b = 0; b < n; ++b) sum += losses[static_cast<std::size_t>(b)];
    if (o.clip > 0) nn::clip_grad_norm(params, o.clip);
    model.optimizer->step(lr);
    return sum.scaled(1.0 / double(n));
}
}  // namespace

Losses train_step(Model& model, const std::vector<TrainingPair>& pairs, const TrainOptions& o, double ramp,
                  std::uint64_t stream, double lr) {
    std::vector<Prepared> prep(pairs.size());
    parallel_for(static_cast<std::int64_t>(pairs.size()),
                 [&](std::int64_t i) {
        prep[static_cast<std::size_t>(i)] = prepare(pairs[static_cast<std::size_t>(i)], model.config().context);
    });
    std::vector<const TrainingPair*> pp;
    std::vector<const Prepared*> qq;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        pp.push_back(&pairs[i]);
        qq.push_back(&prep[i]);
    }
    return step_prepared(model, pp, qq, o, ramp, stream, lr);
}

double validation_recall(const std::shared_ptr<Model>& model, const std::vector<TrainingPair>& pairs, std::uint64_t seed) {
    if (pairs.empty()) return std::numeric_limits<double>::quiet_NaN();
    registration::Options ro;
    ro.method = registration::Method::udpreg;
    ro.model = model;
    std::vector<Points> s, t;
    for (const auto& p : pairs) {
        s.push_back(p.source);
        t.push_back(p.target);
    }
    std::vector<registration::Result> r = registration::register_batch(s, t, ro, seed);
    int ok = 0;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        registration::Errors e = registration::evaluate(pairs[i].source, pairs[i].target, r[i].transform, pairs[i].truth);
        if (e.rre_deg < 5 && e.rte < 0.1) ++ok;
    }
    return double(ok) / double(pairs.size());
}

namespace {
// A posterior gradient carried to the softmax logits: gamma o (g - <gamma, g>).
double logit_rms(const Matrix& gamma, const Matrix& g) {
    Vec<double> dot = (gamma.array() * g.array()).rowwise().sum();
    Matrix dl = (gamma.array() * (g.colwise() - dot).array()).matrix();
    return dl.norm() / std::sqrt(double(std::max<Eigen::Index>(gamma.rows(), 1)));
}
}  // namespace

PosteriorStats posterior_stats(const Model& model, const std::vector<TrainingPair>& pairs, const TrainOptions& o) {
    PosteriorStats st;
    if (pairs.empty()) return st;
    std::vector<PosteriorStats> per(pairs.size());
    parallel_for(static_cast<std::int64_t>(pairs.size()), [&](std::int64_t b) {
        const TrainingPair& p = pairs[static_cast<std::size_t>(b)];
        DescriptorScales sc = descriptor_scales(p.target);
        Model::Output os = model.run(p.source, registration_fpfh(p.source, sc));
        Model::Output ot = model.run(p.target, registration_fpfh(p.target, sc));
        const Eigen::Index K = os.gamma.cols();
        PosteriorStats& s = per[static_cast<std::size_t>(b)];
        auto entropy = [&](const Matrix& g) {
            return -(g.array() * g.array().max(1e-300).log()).sum() / (double(g.rows()) * std::log(double(K)));
        };
        s.entropy = 0.5 * (entropy(os.gamma) + entropy(ot.gamma));
        s.max_gamma = 0.5 * (os.gamma.rowwise().maxCoeff().mean() + ot.gamma.rowwise().maxCoeff().mean());
        auto argmax = [](const Matrix& g) {
            std::vector<int> a(static_cast<std::size_t>(g.rows()));
            for (Eigen::Index i = 0; i < g.rows(); ++i) g.row(i).maxCoeff(&a[static_cast<std::size_t>(i)]);
            return a;
        };
        const std::vector<int> as = argmax(os.gamma), at = argmax(ot.gamma);
        const Points xa = geometry::apply(p.truth, p.source);
        geometry::KdTree tree(p.target);
        const double dist = 2.5 * sc.spacing;
        std::vector<std::pair<int, int>> pairs_true;
        Vec<double> hs = Vec<double>::Zero(K), ht = Vec<double>::Zero(K);
        int agree = 0;
        for (Eigen::Index i = 0; i < xa.rows(); ++i) {
            geometry::Neighbor nb = tree.nearest_within(xa.row(i).data(), dist);
            if (nb.index < 0) continue;
            pairs_true.push_back({static_cast<int>(i), static_cast<int>(nb.index)});
            const int ks = as[static_cast<std::size_t>(i)], kt = at[static_cast<std::size_t>(nb.index)];
            hs[ks] += 1;
            ht[kt] += 1;
            agree += ks == kt;
        }
        const double m = std::max<double>(1.0, double(pairs_true.size()));
        s.agreement = agree / m;
        s.chance = hs.dot(ht) / (m * m);
        const Matrix& g = os.gamma;
        s.grad_ce = 0.5 * logit_rms(g, Matrix(0.5 * (posterior_consistency<double>(p.source, g, false).d_gamma +
                                                   posterior_consistency<double>(os.features, g, false).d_gamma)));
        s.grad_balance = logit_rms(g, Matrix(o.weights.balance * mixing_balance<double>(g).d_gamma));
        s.grad_spread = logit_rms(g, Matrix(o.weights.spread * component_spread<double>(p.source, g).d_gamma));
        s.grad_sharpen = logit_rms(g, Matrix(o.weights.sharpen * point_entropy<double>(g).d_gamma));
        s.grad_cross = logit_rms(g, Matrix(o.weights.cross * cross_consistency_loss<double>(xa, g, p.target, ot.gamma, pairs_true).d_gamma_s));
    });
    for (const auto& [name, field] : PosteriorStats::fields) {
        for (const PosteriorStats& s : per) st.*field += s.*field;
        st.*field /= double(pairs.size());
    }
    return st;
}

nlohmann::json recipe_json(const TrainOptions& o) {
    const PairProtocol& p = o.protocol;
    const LossWeights& w = o.weights;
    return {{"epochs", o.epochs},
            {"pairs", o.pairs},
            {"passes", o.passes},
            {"batch", o.batch},
            {"lr", o.lr},
            {"lr_min", o.lr_min},
            {"clip", o.clip},
            {"val_pairs", o.val_pairs},
            {"protocol",
             {{"overlap", p.overlap},
              {"rotation", p.uniform_rotation ? nlohmann::json("uniform") : nlohmann::json(p.rotation_deg)},
              {"translation", p.translation},
              {"points", p.points},
              {"noise", p.noise},
              {"noise_clip", p.noise_clip}}},
            {"weights",
             {{"self", w.self},
              {"cross", w.cross},
              {"contrastive", w.contrastive},
              {"balance", w.balance},
              {"spread", w.spread},
              {"sharpen", w.sharpen},
              {"temperature", w.temperature},
              {"warmup", w.warmup}}}};
}

nlohmann::json train(const std::shared_ptr<Model>& model, const std::vector<Points>& train_sets,
                     const std::vector<Points>& val_sets, const TrainOptions& o,
                     const std::function<void(const EpochInfo&)>& on_epoch) {
    require(!train_sets.empty(), "udpreg: no training point sets");
    require(o.batch >= 1 && o.pairs >= 1, "udpreg: the pairs per step (batch) and per epoch must be at least 1");
    for (const auto& s : train_sets)
        require(s.cols() == 3 && s.rows() >= 16, "udpreg: every training set needs at least 16 points of 3 coordinates");
    nlohmann::json& tr = model->training;
    int epoch = tr.value("epoch", 0);
    if (!tr.contains("history")) tr["history"] = nlohmann::json::object();
    tr["seed"] = o.seed;
    tr["recipe"] = recipe_json(o);
    nlohmann::json& hist = tr["history"];
    require(o.passes >= 1, "udpreg: the passes over each epoch's pairs must be at least 1");
    const std::int64_t steps_per_pass = (o.pairs + o.batch - 1) / o.batch;
    const std::int64_t total_steps = steps_per_pass * o.passes * o.epochs;
    // Fixed validation pairs: the same ones every epoch and after a resume.
    std::vector<TrainingPair> val;
    if (!val_sets.empty())
        for (int i = 0; i < o.val_pairs; ++i) {
            Rng r(o.seed, mix64(0x76616cULL, static_cast<std::uint64_t>(i)));  // "val"
            val.push_back(draw_pair(val_sets[static_cast<std::size_t>(i) % val_sets.size()], o.protocol, r));
        }
    if (!val.empty() && epoch == 0) {
        const PosteriorStats ps = posterior_stats(*model, val, o);
        for (const auto& [name, field] : PosteriorStats::fields) tr["init_posteriors"][name] = ps.*field;
    }
    Timer all;
    int run = 0;
    while (epoch < o.epochs && (o.stop_after <= 0 || run < o.stop_after)) {
        ++epoch;
        ++run;
        Timer t;
        const double ramp = std::min(1.0, double(epoch) / double(std::max(1, o.weights.warmup)));
        // The epoch's pairs, drawn and described once, then `passes` shuffled passes over them.
        std::vector<TrainingPair> pairs(static_cast<std::size_t>(o.pairs));
        std::vector<Prepared> prep(static_cast<std::size_t>(o.pairs));
        parallel_for(o.pairs, [&](std::int64_t b) {
            Rng r(o.seed, mix64(mix64(0x70616972ULL, static_cast<std::uint64_t>(epoch)), static_cast<std::uint64_t>(b)));  // "pair"
            const Points& shape = train_sets[r.below(train_sets.size())];
            pairs[static_cast<std::size_t>(b)] = draw_pair(shape, o.protocol, r);
            prep[static_cast<std::size_t>(b)] = prepare(pairs[static_cast<std::size_t>(b)], model->config().context);
        });
        Losses sum;
        double lr = o.lr;
        for (int pass = 0; pass < o.passes; ++pass) {
            Rng shuffle(o.seed, mix64(mix64(0x70617373ULL, static_cast<std::uint64_t>(epoch)), static_cast<std::uint64_t>(pass)));
            std::vector<std::int64_t> order = shuffle.permutation(o.pairs);
            for (std::int64_t s = 0; s < steps_per_pass; ++s) {
                const std::int64_t first = s * o.batch, count = std::min<std::int64_t>(o.batch, o.pairs - first);
                std::vector<const TrainingPair*> pp;
                std::vector<const Prepared*> qq;
                for (std::int64_t b = first; b < first + count; ++b) {
                    pp.push_back(&pairs[static_cast<std::size_t>(order[static_cast<std::size_t>(b)])]);
                    qq.push_back(&prep[static_cast<std::size_t>(order[static_cast<std::size_t>(b)])]);
                }
                const std::int64_t step = ((epoch - 1) * o.passes + pass) * steps_per_pass + s;
                const std::uint64_t stream = mix64(static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(step));
                lr = nn::cosine_lr(o.lr, o.lr_min, step, total_steps);
                Losses l = step_prepared(*model, pp, qq, o, ramp, stream, lr);
                if (pass == o.passes - 1) sum += l.scaled(double(count));
            }
        }
        EpochInfo e;
        e.epoch = epoch;
        e.epochs = o.epochs;
        e.train = sum.scaled(1.0 / double(o.pairs));
        e.lr = lr;
        if (!val.empty()) {
            std::vector<Losses> vl(val.size());
            parallel_for(static_cast<std::int64_t>(val.size()), [&](std::int64_t i) {
                Rng r(o.seed, mix64(0x766c6fULL, static_cast<std::uint64_t>(i)));
                vl[static_cast<std::size_t>(i)] = pair_losses(*model, val[static_cast<std::size_t>(i)], o, 1.0, r, false);
            });
            for (const auto& l : vl) e.val += l;
            e.val = e.val.scaled(1.0 / double(val.size()));
            e.val_recall = validation_recall(model, val, o.seed);
            e.val_posteriors = posterior_stats(*model, val, o);
        }
        e.seconds = t.seconds();
        auto push = [&](const char* key, double v) { hist[key].push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json()); };
        push("train_loss", e.train.total);
        push("train_self", e.train.self);
        push("train_cross", e.train.cross);
        push("train_contrastive", e.train.contrastive);
        if (!val.empty()) {
            push("val_loss", e.val.total);
            push("val_self", e.val.self);
            push("val_cross", e.val.cross);
            push("val_contrastive", e.val.contrastive);
            push("val_recall", e.val_recall);
            for (const auto& [name, field] : PosteriorStats::fields) push(("val_" + std::string(name)).c_str(), e.val_posteriors.*field);
        }
        push("seconds", e.seconds);
        tr["epoch"] = epoch;
        tr["steps"] = model->optimizer ? model->optimizer->steps() : 0;
        if (on_epoch) on_epoch(e);
    }
    nlohmann::json report = {{"epochs_run", run}, {"epoch", epoch}, {"seconds", all.seconds()},
                             {"pair_steps_per_second", run > 0 ? double(run) * o.pairs * o.passes / std::max(all.seconds(), 1e-9) : 0.0}};
    if (!hist["train_loss"].empty()) report["final_train_loss"] = hist["train_loss"].back();
    if (hist.contains("val_recall") && !hist["val_recall"].empty()) report["final_val_recall"] = hist["val_recall"].back();
    return report;
}

}  // namespace orbit::udpreg
