#include "orbit/flows/cfm.hpp"

#include <cmath>
#include <numbers>

#include "orbit/core/error.hpp"
#include "orbit/ot/exact.hpp"
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::flows {

nlohmann::json CfmConfig::to_json() const {
    nlohmann::json j = {{"dim", dim},           {"hidden", hidden},     {"blocks", blocks}, {"freqs", freqs},
                        {"activation", activation}, {"coupling", coupling}, {"sigma", sigma},   {"sinkhorn_eps", sinkhorn_eps}};
    if (context > 0) j["context"] = context;  // unconditional files stay as they were
    if (!base.empty()) {
        j["base"] = base;
        j["source_noise"] = source_noise;
    }
    return j;
}

CfmConfig CfmConfig::from_json(const nlohmann::json& j) {
    CfmConfig c;
    c.dim = j.at("dim").get<int>();
    c.hidden = j.at("hidden").get<int>();
    c.blocks = j.at("blocks").get<int>();
    c.freqs = j.at("freqs").get<int>();
    c.activation = j.at("activation").get<std::string>();
    c.coupling = j.at("coupling").get<std::string>();
    c.sigma = j.at("sigma").get<double>();
    c.sinkhorn_eps = j.at("sinkhorn_eps").get<double>();
    c.context = j.value("context", 0);
    c.base = j.value("base", std::string());
    c.source_noise = j.value("source_noise", 0.0);
    return c;
}

template <class T>
VelocityField<T>::VelocityField(CfmConfig cfg, Rng& rng) : cfg_(std::move(cfg)) {
    if (cfg_.dim < 1) throw Error("flow matching needs at least one dimension");
    if (cfg_.hidden < 1 || cfg_.blocks < 0 || cfg_.freqs < 0 || cfg_.freqs > 16)
        throw UsageError("flow matching: hidden >= 1, blocks >= 0 and 0 <= freqs <= 16 are required");
    if (cfg_.coupling != "none" && cfg_.coupling != "exact" && cfg_.coupling != "sinkhorn")
        throw UsageError("unknown coupling '" + cfg_.coupling + "' (expected none, exact or sinkhorn)");
    if (!(cfg_.sigma >= 0) || !(cfg_.sinkhorn_eps > 0)) throw UsageError("sigma must be >= 0 and sinkhorn eps > 0");
    if (cfg_.context < 0) throw Error("flow matching: the context width must be >= 0");
    if (interpolant()) {
        parse_interpolant_base(cfg_.base);
        if (!(cfg_.source_noise >= 0)) throw UsageError("the interpolant's source noise must be >= 0");
        if ((cfg_.context != cfg_.dim && cfg_.context != 0) || cfg_.coupling != "none")
            throw Error("an interpolant is conditioned on its whole degraded view or not at all, and has no minibatch coupling");
    }
    net_ = nn::ResidualNet<T>("field", cfg_.dim + 1 + 2 * cfg_.freqs + cfg_.context, cfg_.hidden, cfg_.dim, cfg_.blocks,
                              nn::parse_activation(cfg_.activation), rng, -1.0);
}

template <class T>
nn::ParamList<T> VelocityField<T>::params() {
    return network_params(net_);
}

template <class T>
Mat<T> flow_matching_input(const Mat<T>& x, const Eigen::Matrix<T, Eigen::Dynamic, 1>& t, int freqs, const Mat<T>& ctx) {
    const Eigen::Index D = x.cols(), F = freqs, C = ctx.cols();
    if (C > 0) require(ctx.rows() == x.rows(), "flow matching: the context has a different number of rows");
    Mat<T> in(x.rows(), D + 1 + 2 * F + C);
    in.leftCols(D) = x;
    in.col(D) = t;
    for (int k = 0; k < F; ++k) {
        const T w = T(std::numbers::pi * double(1 << k));
        in.col(D + 1 + 2 * k) = (w * t.array()).sin().matrix();
        in.col(D + 2 + 2 * k) = (w * t.array()).cos().matrix();
    }
    if (C > 0) in.rightCols(C) = ctx;
    return in;
}
template Mat<float> flow_matching_input(const Mat<float>&, const Eigen::Matrix<float, Eigen::Dynamic, 1>&, int,
                                        const Mat<float>&);
template Mat<double> flow_matching_input(const Mat<double>&, const Eigen::Matrix<double, Eigen::Dynamic, 1>&, int,
                                         const Mat<double>&);

template <class T>
Mat<T> VelocityField<T>::input(const Mat<T>& x, const Eigen::Matrix<T, Eigen::Dynamic, 1>& t, const Mat<T>& ctx) const {
    if (interpolant() && cfg_.context == 0) return flow_matching_input<T>(x, t, cfg_.freqs, Mat<T>());  // unconditioned
    require(ctx.cols() == cfg_.context, "flow matching: the context has " + std::to_string(ctx.cols()) +
                                            " columns, the model expects " + std::to_string(cfg_.context));
    return flow_matching_input<T>(x, t, cfg_.freqs, ctx);
}

template <class T>
Var VelocityField<T>::forward(Tape<T>& tape, Var in) {
    return net_.forward(tape, in, nullptr);
}

template <class T>
Mat<T> VelocityField<T>::velocity(const Mat<T>& x, double t, const Mat<T>& ctx) {
    Tape<T> tape(false);
    Eigen::Matrix<T, Eigen::Dynamic, 1> tv = Eigen::Matrix<T, Eigen::Dynamic, 1>::Constant(x.rows(), T(t));
    return tape.value(forward(tape, tape.constant(input(x, tv, ctx))));
}

template <class T>
Mat<T> VelocityField<T>::velocity_div(const Mat<T>& x, double t, Mat<T>& div, const Mat<T>& ctx) {
    Eigen::Matrix<T, Eigen::Dynamic, 1> tv = Eigen::Matrix<T, Eigen::Dynamic, 1>::Constant(x.rows(), T(t));
    std::vector<int> cols(static_cast<std::size_t>(cfg_.dim));
    for (int j = 0; j < cfg_.dim; ++j) cols[static_cast<std::size_t>(j)] = j;
    return net_.forward_with_trace(input(x, tv, ctx), cols, div);
}

template <class T>
void VelocityField<T>::couple(Mat<T>& x0, Mat<T>& x1, Rng& rng) const {
    if (cfg_.coupling == "none") return;
    const Eigen::Index n = x0.rows();
    require(x1.rows() == n, "flow matching: OT coupling needs equal batches");
    Matrix cost(n, n);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) cost(i, j) = double((x0.row(i) - x1.row(j)).squaredNorm());
    if (cfg_.coupling == "exact") {
        const std::vector<int> perm = ot::assignment(cost);
        Mat<T> matched(n, x1.cols());
        for (Eigen::Index i = 0; i < n; ++i) matched.row(i) = x1.row(perm[static_cast<std::size_t>(i)]);
        x1 = std::move(matched);
        return;
    }
    // Sinkhorn: draw n pairs from the entropic plan (as torchcfm does).
    ot::SinkhornOptions opt;
    opt.eps = cfg_.sinkhorn_eps * cost.mean();
    opt.plan = ot::PlanKind::Dense;
    opt.max_iter = 200;
    opt.tol = 1e-4;
    const Vector a = Vector::Constant(n, 1.0 / double(n));
    auto res = ot::sinkhorn(cost, a, a, opt);
    require(res.plan.has_value() && res.finite, "flow matching: the Sinkhorn coupling failed");
    const Matrix& P = *res.plan;
    std::vector<double> cum(static_cast<std::size_t>(n * n));
    double acc = 0;
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) cum[static_cast<std::size_t>(i * n + j)] = (acc += std::max(0.0, P(i, j)));
    Mat<T> a0(n, x0.cols()), a1(n, x1.cols());
    for (Eigen::Index k = 0; k < n; ++k) {
        const double u = rng.uniform() * acc;
        const auto it = std::upper_bound(cum.begin(), cum.end(), u);
        const Eigen::Index idx = std::min<Eigen::Index>(n * n - 1, it - cum.begin());
        a0.row(k) = x0.row(idx / n);
        a1.row(k) = x1.row(idx % n);
    }
    x0 = std::move(a0);
    x1 = std::move(a1);
}

template <class T>
Var VelocityField<T>::loss(Tape<T>& tape, const Mat<T>& x1_in, Rng& rng, const Mat<T>& ctx_in) {
    const Eigen::Index n = x1_in.rows(), D = cfg_.dim;
    require(x1_in.cols() == D, "flow matching: batch has the wrong number of columns");
    if (interpolant()) return interpolant_loss(tape, x1_in, rng, ctx_in);
    Mat<T> x0(n, D), x1 = x1_in;
    for (Eigen::Index i = 0; i < x0.size(); ++i) x0.data()[i] = T(rng.normal());
    // A minibatch OT coupling would pair a point with another row's context.
    require(ctx_in.cols() == 0 || cfg_.coupling == "none", "flow matching: OT couplings are unconditional only");
    couple(x0, x1, rng);
    Eigen::Matrix<T, Eigen::Dynamic, 1> t(n);
    for (Eigen::Index i = 0; i < n; ++i) t(i) = T(rng.uniform());
    Mat<T> xt = (x1.array().colwise() * t.array() + x0.array().colwise() * (T(1) - t.array())).matrix();
    if (cfg_.sigma > 0)
        for (Eigen::Index i = 0; i < xt.size(); ++i) xt.data()[i] += T(cfg_.sigma * rng.normal());
    Var v = forward(tape, tape.constant(input(xt, t, ctx_in)));
    Var u = tape.constant(x1 - x0);
    return tape.mean(tape.square(tape.sub(v, u)));
}

template <class T>
Var VelocityField<T>::interpolant_loss(Tape<T>& tape, const Mat<T>& x1, Rng& rng, const Mat<T>& source) {
    const Eigen::Index n = x1.rows(), D = cfg_.dim;
    require(source.rows() == n && source.cols() == D, "interpolant: every data row needs its degraded view");
    // x0 from the coupling: the source blurred by source_noise, or N(0, I) independent of it
    const bool coupled = parse_interpolant_base(cfg_.base) == InterpolantBase::source;
    Mat<T> x0(n, D), z;
    for (Eigen::Index i = 0; i < x0.size(); ++i)
        x0.data()[i] = coupled ? source.data()[i] + T(cfg_.source_noise * rng.normal()) : T(rng.normal());
    Eigen::Matrix<T, Eigen::Dynamic, 1> t(n);
    for (Eigen::Index i = 0; i < n; ++i) t(i) = T(rng.uniform());
    if (cfg_.sigma > 0) {
        z.resize(n, D);
        for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = T(rng.normal());
    }
    Mat<T> it, dit;
    stochastic_interpolant<T>(x0, x1, z, t, cfg_.sigma, it, dit);
    Var v = forward(tape, tape.constant(input(it, t, source)));
    return tape.mean(tape.square(tape.sub(v, tape.constant(dit))));
}

template class VelocityField<float>;
template class VelocityField<double>;

}  // namespace orbit::flows
