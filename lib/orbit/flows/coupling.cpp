#include "orbit/flows/coupling.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"

namespace orbit::flows {

nlohmann::json CouplingConfig::to_json() const {
    nlohmann::json j = {{"transform", transform}, {"dim", dim},           {"layers", layers},           {"hidden", hidden},
            {"blocks", blocks},       {"bins", bins},         {"tail_bound", tail_bound},   {"scale_clamp", scale_clamp},
            {"permutation", permutation}, {"actnorm", actnorm}, {"lu", lu},                  {"dropout", dropout},
            {"activation", activation},   {"perms", perms}};
    if (context > 0) j["context"] = context;  // unconditional files stay as they were
    return j;
}

CouplingConfig CouplingConfig::from_json(const nlohmann::json& j) {
    CouplingConfig c;
    c.transform = j.at("transform").get<std::string>();
    c.dim = j.at("dim").get<int>();
    c.layers = j.at("layers").get<int>();
    c.hidden = j.at("hidden").get<int>();
    c.blocks = j.at("blocks").get<int>();
    c.bins = j.at("bins").get<int>();
    c.tail_bound = j.at("tail_bound").get<double>();
    c.scale_clamp = j.at("scale_clamp").get<double>();
    c.permutation = j.at("permutation").get<std::string>();
    c.actnorm = j.at("actnorm").get<bool>();
    c.lu = j.at("lu").get<bool>();
    c.dropout = j.at("dropout").get<double>();
    c.activation = j.at("activation").get<std::string>();
    c.perms = j.at("perms").get<std::vector<std::vector<int>>>();
    c.context = j.value("context", 0);
    return c;
}

template <class T>
int CouplingFlow<T>::params_per_dim() const {
    return cfg_.transform == "spline" ? 3 * cfg_.bins - 1 : 2;
}

template <class T>
CouplingFlow<T>::CouplingFlow(CouplingConfig cfg, Rng& rng) : cfg_(std::move(cfg)) {
    const int D = cfg_.dim;
    if (D < 2) throw Error("coupling flows need at least 2 dimensions, the data has " + std::to_string(D));
    if (cfg_.transform != "spline" && cfg_.transform != "affine")
        throw UsageError("unknown coupling transform '" + cfg_.transform + "' (expected spline or affine)");
    if (cfg_.layers < 1 || cfg_.hidden < 1 || cfg_.blocks < 0) throw UsageError("layers and hidden must be >= 1");
    if (cfg_.transform == "spline" && (cfg_.bins < 2 || cfg_.bins > 64)) throw UsageError("spline bins must lie in [2, 64]");
    if (cfg_.context < 0) throw Error("the context width must be >= 0");
    if (!(cfg_.tail_bound > 0) || !(cfg_.scale_clamp > 0)) throw UsageError("tail bound and scale clamp must be > 0");
    if (cfg_.permutation != "reverse" && cfg_.permutation != "random")
        throw UsageError("unknown permutation '" + cfg_.permutation + "' (expected reverse or random)");
    da_ = D / 2;
    db_ = D - da_;
    const auto act = nn::parse_activation(cfg_.activation);
    const bool have_perms = static_cast<int>(cfg_.perms.size()) == cfg_.layers;
    if (!have_perms) cfg_.perms.clear();
    for (int l = 0; l < cfg_.layers; ++l) {
        Layer layer;
        if (have_perms) {
            layer.perm = cfg_.perms[l];
            require(static_cast<int>(layer.perm.size()) == D, "model permutation " + std::to_string(l) + " has the wrong size");
        } else if (cfg_.permutation == "reverse") {
            for (int j = D - 1; j >= 0; --j) layer.perm.push_back(j);
        } else {
            for (auto j : rng.permutation(D)) layer.perm.push_back(static_cast<int>(j));
        }
        if (!have_perms) cfg_.perms.push_back(layer.perm);
        layer.inv_perm.assign(D, 0);
        for (int j = 0; j < D; ++j) {
            require(layer.perm[j] >= 0 && layer.perm[j] < D, "model permutation holds an index out of range");
            layer.inv_perm[layer.perm[j]] = j;
        }
        const std::string name = "layer" + std::to_string(l);
        if (cfg_.actnorm) {
            layer.an_logs = {name + ".actnorm.logs", Mat<T>::Zero(1, D), Mat<T>::Zero(1, D)};
            layer.an_bias = {name + ".actnorm.bias", Mat<T>::Zero(1, D), Mat<T>::Zero(1, D)};
        }
        if (cfg_.lu) {
            // starts at the identity: L = I, U = I (softplus(s) + 1e-3 = 1)
            const T s0 = T(std::log(std::expm1(1.0 - 1e-3)));
            layer.lu_l = {name + ".lu.L", Mat<T>::Zero(D, D), Mat<T>::Zero(D, D)};
            layer.lu_u = {name + ".lu.U", Mat<T>::Zero(D, D), Mat<T>::Zero(D, D)};
            layer.lu_s = {name + ".lu.s", Mat<T>::Constant(1, D, s0), Mat<T>::Zero(1, D)};
            layer.lu_b = {name + ".lu.b", Mat<T>::Zero(1, D), Mat<T>::Zero(1, D)};
        }
        layer.net = nn::ResidualNet<T>(name + ".net", da_ + cfg_.context, cfg_.hidden, db_ * params_per_dim(), cfg_.blocks, act, rng,
                                       0.0, cfg_.dropout);
        layers_.push_back(std::move(layer));
    }
}

template <class T>
nn::ParamList<T> CouplingFlow<T>::params() {
    nn::ParamList<T> out;
    for (auto& l : layers_) {
        if (cfg_.actnorm) {
            out.push_back(&l.an_logs);
            out.push_back(&l.an_bias);
        }
        if (cfg_.lu) {
            out.push_back(&l.lu_l);
            out.push_back(&l.lu_u);
            out.push_back(&l.lu_s);
            out.push_back(&l.lu_b);
        }
        l.net.params(out);
    }
    return out;
}

template <class T>
Var CouplingFlow<T>::coupling(Tape<T>& tape, Layer& l, Var xb, Var theta, Var& logdet, bool inverse) {
    (void)l;
    if (cfg_.transform == "spline") {
        auto [y, ld] = tape.rq_spline(xb, theta, cfg_.bins, T(cfg_.tail_bound), inverse);
        logdet = tape.add(logdet, ld);
        return y;
    }
    Var t = tape.cols(theta, 0, db_);
    Var s = tape.softclamp(tape.cols(theta, db_, db_), T(cfg_.scale_clamp));
    if (!inverse) {
        logdet = tape.add(logdet, tape.sum_rows(s));
        return tape.add(tape.mul(xb, tape.exp(s)), t);
    }
    logdet = tape.sub(logdet, tape.sum_rows(s));
    return tape.mul(tape.sub(xb, t), tape.exp(tape.scale(s, T(-1))));
}

template <class T>
void CouplingFlow<T>::check_context(Eigen::Index rows, const Mat<T>& ctx) const {
    require(ctx.cols() == cfg_.context, "flow: the context has " + std::to_string(ctx.cols()) +
                                            " columns, the model expects " + std::to_string(cfg_.context));
    if (cfg_.context > 0) require(ctx.rows() == rows, "flow: the context has a different number of rows");
}

template <class T>
std::pair<Var, Var> CouplingFlow<T>::forward(Tape<T>& tape, Var x, Rng* rng, Var ctx) {
    const Eigen::Index B = tape.value(x).rows();
    require(tape.value(x).cols() == cfg_.dim, "flow: input has " + std::to_string(tape.value(x).cols()) +
                                                  " columns, the model expects " + std::to_string(cfg_.dim));
    const bool cond = ctx.id >= 0;
    check_context(B, cond ? tape.value(ctx) : Mat<T>());
    Var h = x;
    Var logdet = tape.constant(Mat<T>::Zero(B, 1));
    for (auto& l : layers_) {
        h = tape.gather_cols(h, l.perm);
        if (cfg_.actnorm) {
            Var logs = tape.param(l.an_logs);
            h = tape.add_row(tape.mul_row(h, tape.exp(logs)), tape.param(l.an_bias));
            logdet = tape.add_row(logdet, tape.sum(logs));
        }
        if (cfg_.lu) {
            Var du = tape.add_scalar(tape.softplus(tape.param(l.lu_s)), T(1e-3));
            Var W = tape.lu_compose(tape.param(l.lu_l), tape.param(l.lu_u), du);
            h = tape.linear(h, W, tape.param(l.lu_b));
            logdet = tape.add_row(logdet, tape.sum(tape.log(du)));
        }
        Var xa = tape.cols(h, 0, da_);
        Var xb = tape.cols(h, da_, db_);
        Var in = cond ? tape.concat_cols({xa, ctx}) : xa;
        // inference skips the tape inside the conditioner (see ResidualNet::infer)
        const bool fast = !tape.recording() && (rng == nullptr || cfg_.dropout == 0);
        Var theta = fast ? tape.constant(l.net.infer(tape.value(in))) : l.net.forward(tape, in, rng);
        Var yb = coupling(tape, l, xb, theta, logdet, false);
        h = tape.concat_cols({xa, yb});
    }
    return {h, logdet};
}

template <class T>
Var CouplingFlow<T>::log_prob(Tape<T>& tape, Var x, Rng* rng, Var ctx) {
    auto [z, ld] = forward(tape, x, rng, ctx);
    const T c = T(-0.5 * cfg_.dim * std::log(2 * std::numbers::pi));
    Var base = tape.add_scalar(tape.scale(tape.sum_rows(tape.square(z)), T(-0.5)), c);
    return tape.add(base, ld);
}

template <class T>
Mat<T> CouplingFlow<T>::inverse(const Mat<T>& z, Mat<T>* logdet, const Mat<T>& ctx) {
    require(z.cols() == cfg_.dim, "flow: latent input has " + std::to_string(z.cols()) + " columns, the model expects " +
                                      std::to_string(cfg_.dim));
    check_context(z.rows(), ctx);
    const bool cond = cfg_.context > 0;
    Tape<T> tape(false);
    Var h = tape.constant(z);
    Var ld = tape.constant(Mat<T>::Zero(z.rows(), 1));
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
        Layer& l = *it;
        Var xa = tape.cols(h, 0, da_);
        Var yb = tape.cols(h, da_, db_);
        Var theta;
        if (cond) {
            Mat<T> in(z.rows(), da_ + cfg_.context);
            in << tape.value(xa), ctx;
            theta = tape.constant(l.net.infer(in));
        } else {
            theta = tape.constant(l.net.infer(tape.value(xa)));
        }
        Var xb = coupling(tape, l, yb, theta, ld, true);
        h = tape.concat_cols({xa, xb});
        if (cfg_.lu) {
            // y = x W^T + b with W = L U: x^T = U^{-1} L^{-1} (y - b)^T
            Mat<T> R = (tape.value(h).rowwise() - l.lu_b.value.row(0)).transpose();
            // recover L and U from the parameters rather than factoring W again
            Mat<T> Lm = l.lu_l.value.template triangularView<Eigen::StrictlyLower>();
            Lm.diagonal().setOnes();
            Mat<T> Um = l.lu_u.value.template triangularView<Eigen::StrictlyUpper>();
            Tape<T> t2(false);
            Um.diagonal() = t2.value(t2.add_scalar(t2.softplus(t2.constant(l.lu_s.value)), T(1e-3))).row(0).transpose();
            Lm.template triangularView<Eigen::UnitLower>().solveInPlace(R);
            Um.template triangularView<Eigen::Upper>().solveInPlace(R);
            h = tape.constant(Mat<T>(R.transpose()));
            ld = tape.constant(Mat<T>((tape.value(ld).array() - Um.diagonal().array().log().sum()).matrix()));
        }
        if (cfg_.actnorm) {
            Mat<T> v = tape.value(h);
            v.rowwise() -= l.an_bias.value.row(0);
            v.array().rowwise() *= (-l.an_logs.value.row(0).array()).exp();
            h = tape.constant(std::move(v));
            ld = tape.constant(Mat<T>((tape.value(ld).array() - l.an_logs.value.sum()).matrix()));
        }
        h = tape.gather_cols(h, l.inv_perm);
    }
    if (logdet) *logdet = tape.value(ld);
    return tape.value(h);
}

template <class T>
void CouplingFlow<T>::init_actnorm(const Mat<T>& batch, const Mat<T>& ctx) {
    if (!cfg_.actnorm) return;
    check_context(batch.rows(), ctx);
    Mat<T> h = batch;
    for (auto& l : layers_) {
        Mat<T> p(h.rows(), h.cols());
        for (int j = 0; j < cfg_.dim; ++j) p.col(j) = h.col(l.perm[j]);
        // scale and shift so this layer's output has zero mean and unit variance on the batch
        auto mean = p.colwise().mean().eval();
        auto sd = ((p.rowwise() - mean).array().square().colwise().mean().sqrt() + T(1e-6)).eval();
        l.an_logs.value.row(0) = (-sd.log()).matrix();
        l.an_bias.value.row(0) = (-mean.array() / sd).matrix();
        // pass the batch through this layer to initialize the next one
        Tape<T> tape(false);
        Var x = tape.constant(p);
        x = tape.add_row(tape.mul_row(x, tape.exp(tape.param(l.an_logs))), tape.param(l.an_bias));
        if (cfg_.lu) {
            Var du = tape.add_scalar(tape.softplus(tape.param(l.lu_s)), T(1e-3));
            x = tape.linear(x, tape.lu_compose(tape.param(l.lu_l), tape.param(l.lu_u), du), tape.param(l.lu_b));
        }
        Var xa = tape.cols(x, 0, da_);
        Var in = cfg_.context > 0 ? tape.concat_cols({xa, tape.constant(ctx)}) : xa;
        Var logdet = tape.constant(Mat<T>::Zero(p.rows(), 1));
        Var yb = coupling(tape, l, tape.cols(x, da_, db_), l.net.forward(tape, in, nullptr), logdet, false);
        h = tape.value(tape.concat_cols({xa, yb}));
    }
}

template class CouplingFlow<float>;
template class CouplingFlow<double>;

}  // namespace orbit::flows
