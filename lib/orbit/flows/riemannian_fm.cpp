#include "orbit/flows/riemannian_fm.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

#include "orbit/core/error.hpp"
#include "orbit/flows/cfm.hpp"
#include "orbit/ot/exact.hpp"

namespace orbit::flows {

nlohmann::json RfmConfig::to_json() const {
    nlohmann::json j = {{"manifold", manifold}, {"dim", dim},       {"hidden", hidden}, {"blocks", blocks},
                        {"freqs", freqs},       {"activation", activation}, {"context", context}, {"base", base},
                        {"coupling", coupling}};
    if (base != "uniform") j["base_mixture"] = mixture.to_json();
    return j;
}

RfmConfig RfmConfig::from_json(const nlohmann::json& j) {
    RfmConfig c;
    c.manifold = j.at("manifold").get<std::string>();
    c.dim = j.at("dim").get<int>();
    c.hidden = j.at("hidden").get<int>();
    c.blocks = j.at("blocks").get<int>();
    c.freqs = j.at("freqs").get<int>();
    c.activation = j.at("activation").get<std::string>();
    c.context = j.value("context", 0);
    c.base = j.value("base", std::string("uniform"));
    c.coupling = j.value("coupling", std::string("none"));
    if (c.base != "uniform") c.mixture = VmfMixture::from_json(j.at("base_mixture"));
    return c;
}

namespace {

// The largest block of rows a minibatch coupling matches at once (a training
// batch up to this size is matched whole; longer runs of rows, as in a
// validation loss, block by block, so the cost stays O(rows)).
constexpr Eigen::Index kCoupleRows = 256;

// Row i of x (nine numbers, row-major) as a rotation matrix.
Eigen::Matrix3d rotation_of_row(const Matrix& x, Eigen::Index i) {
    Eigen::Matrix3d R;
    for (int j = 0; j < 9; ++j) R(j / 3, j % 3) = x(i, j);
    return R;
}

template <class T>
void act_with_derivative(Mat<T>& z, Mat<T>& d, nn::Activation a) {
    switch (a) {
        case nn::Activation::relu:
            d = (z.array() > T(0)).template cast<T>().matrix();
            z = z.cwiseMax(T(0));
            break;
        case nn::Activation::tanh:
            z = z.array().tanh().matrix();
            d = (T(1) - z.array().square()).matrix();
            break;
        case nn::Activation::silu: {
            const auto s = (T(1) / (T(1) + (-z.array()).exp())).eval();
            d = (s * (T(1) + z.array() * (T(1) - s))).matrix();
            z = (z.array() * s).matrix();
            break;
        }
    }
}

template <class T>
Mat<T> affine(const nn::Linear<T>& l, const Mat<T>& x) {
    Mat<T> y = x * l.W.value.transpose();
    y.rowwise() += l.b.value.row(0);
    return y;
}

}  // namespace

template <class T>
Mat<T> forward_jvp(const nn::ResidualNet<T>& net, const Mat<T>& x, const std::vector<Mat<T>>& dx,
                   std::vector<Mat<T>>& dy) {
    const std::size_t K = dx.size();
    Mat<T> h = affine(net.first, x), d;
    std::vector<Mat<T>> dh(K);
    for (std::size_t k = 0; k < K; ++k) dh[k] = dx[k] * net.first.W.value.transpose();
    if (net.fc0.empty()) {  // in -> hidden -> act -> out
        act_with_derivative(h, d, net.act);
        for (auto& t : dh) t = t.cwiseProduct(d);
    }
    for (std::size_t b = 0; b < net.fc0.size(); ++b) {  // h + fc1(act(fc0(act(h))))
        Mat<T> a = h, z;
        act_with_derivative(a, d, net.act);
        z = affine(net.fc0[b], a);
        Mat<T> dz;
        std::vector<Mat<T>> tz(K);
        for (std::size_t k = 0; k < K; ++k) tz[k] = dh[k].cwiseProduct(d) * net.fc0[b].W.value.transpose();
        act_with_derivative(z, dz, net.act);
        h += affine(net.fc1[b], z);
        for (std::size_t k = 0; k < K; ++k) dh[k] += tz[k].cwiseProduct(dz) * net.fc1[b].W.value.transpose();
    }
    dy.resize(K);
    for (std::size_t k = 0; k < K; ++k) dy[k] = dh[k] * net.last.W.value.transpose();
    return affine(net.last, h);
}

template <class T>
RiemannianField<T>::RiemannianField(RfmConfig cfg, Rng& rng) : cfg_(std::move(cfg)) {
    m_ = make_manifold(cfg_.manifold, cfg_.dim);
    if (cfg_.hidden < 1 || cfg_.blocks < 0 || cfg_.freqs < 0 || cfg_.freqs > 16 || cfg_.context < 0)
        throw UsageError("flow matching: hidden >= 1, blocks >= 0 and 0 <= freqs <= 16 are required");
    // Over a vMF base the output layer starts at zero: the untrained flow is
    // its base, which likelihood selection (select_every) can then keep.
    net_ = nn::ResidualNet<T>("field", cfg_.dim + 1 + 2 * cfg_.freqs + cfg_.context, cfg_.hidden, m_->tangent_width(),
                              cfg_.blocks, nn::parse_activation(cfg_.activation), rng, cfg_.base == "uniform" ? -1.0 : 0.0);
    if (cfg_.base != "uniform" && (cfg_.manifold != "sphere" || cfg_.dim != 3 || cfg_.mixture.size() < 1))
        throw UsageError("a von Mises-Fisher base needs the sphere S^2 and a fitted mixture");
    if (cfg_.coupling != "none" && cfg_.coupling != "exact")
        throw UsageError("Riemannian flow matching couples its minibatches by none or exact, not " + cfg_.coupling);
    if (cfg_.coupling != "none" && cfg_.context > 0)
        throw UsageError("a minibatch coupling would pair points with other rows' context: use it unconditionally");
}

template <class T>
Eigen::RowVectorXd RiemannianField<T>::draw_base(Rng& rng) const {
    return cfg_.base == "uniform" ? m_->uniform(rng) : cfg_.mixture.sample(rng);
}

template <class T>
double RiemannianField<T>::base_log_density(const Eigen::Ref<const Eigen::RowVectorXd>& x) const {
    return cfg_.base == "uniform" ? -m_->log_volume() : cfg_.mixture.log_density_at(x);
}

void fit_rfm_base(RfmConfig& cfg, const Matrix& train, std::uint64_t seed, const Matrix& val) {
    const std::string& b = cfg.base;
    if (b == "uniform") return;
    if (b.rfind("vmf", 0) != 0 || (b.size() > 3 && b[3] != ':'))
        throw UsageError("unknown base '" + b + "' for Riemannian flow matching (expected uniform, vmf or vmf:K)");
    if (cfg.manifold != "sphere" || train.cols() != 3)
        throw UsageError("a von Mises-Fisher base (" + b + ") applies to unit vectors of S^2 (rows of 3)");
    if (b == "vmf") {
        cfg.mixture = val.rows() >= 10 && val.cols() == 3 ? fit_vmf_mixture_validated(train, val, 128, seed)
                                                           : fit_vmf_mixture_auto(train, 128, seed);
        return;
    }
    int K = 0;
    try {
        std::size_t used = 0;
        K = std::stoi(b.substr(4), &used);
        if (used != b.size() - 4) K = 0;
    } catch (const std::exception&) {
        K = 0;
    }
    if (K < 1 || K > 1024) throw UsageError("base " + b + ": K must be an integer in [1, 1024]");
    if (train.rows() < K) throw UsageError("base " + b + ": fewer training rows than components");
    cfg.mixture = fit_vmf_mixture(train, K, seed);
}

template <class T>
nn::ParamList<T> RiemannianField<T>::params() {
    return network_params(net_);
}

template <class T>
Mat<T> RiemannianField<T>::input(const Matrix& x, const Eigen::VectorXd& t, const Mat<T>& ctx) const {
    const Mat<T> xs = x.cast<T>();
    const Eigen::Matrix<T, Eigen::Dynamic, 1> ts = t.cast<T>();
    return flow_matching_input<T>(xs, ts, cfg_.freqs, ctx);
}

template <class T>
Mat<T> RiemannianField<T>::input(const Matrix& x, double t, const Mat<T>& ctx) const {
    return input(x, Eigen::VectorXd::Constant(x.rows(), t), ctx);
}

template <class T>
Matrix RiemannianField<T>::to_ambient(const Matrix& x, const Matrix& f) const {
    const Eigen::Index B = x.rows();
    Matrix v(B, cfg_.dim);
    for (Eigen::Index i = 0; i < B; ++i) {
        if (cfg_.manifold == "sphere") {
            v.row(i) = f.row(i) - f.row(i).dot(x.row(i)) * x.row(i);
        } else {
            const Eigen::Matrix3d R = rotation_of_row(x, i);
            const Eigen::Matrix3d V = R * so3_hat(f.row(i).transpose());
            for (int j = 0; j < 9; ++j) v(i, j) = V(j / 3, j % 3);
        }
    }
    return v;
}

template <class T>
Matrix RiemannianField<T>::velocity(const Matrix& x, double t, const Mat<T>& ctx) const {
    return to_ambient(x, net_.infer(input(x, t, ctx)).template cast<double>());
}

template <class T>
Matrix RiemannianField<T>::velocity_div(const Matrix& x, double t, const Mat<T>& ctx, Vector& div) const {
    const Eigen::Index B = x.rows();
    const int n = cfg_.dim;
    const Mat<T> in = input(x, t, ctx);
    std::vector<Mat<T>> dx, dy;
    const bool sphere = cfg_.manifold == "sphere";
    // directions in the network's input: the ambient axes (sphere) or the frame R [e_i]x (SO(3))
    const int K = sphere ? n : 3;
    for (int k = 0; k < K; ++k) {
        Mat<T> d = Mat<T>::Zero(B, in.cols());
        if (sphere) {
            d.col(k).setOnes();
        } else {
            const Eigen::Matrix3d E = so3_hat(Eigen::Vector3d::Unit(k));
            for (Eigen::Index i = 0; i < B; ++i) {
                const Eigen::Matrix3d R = rotation_of_row(x, i);
                const Eigen::Matrix3d RE = R * E;
                for (int j = 0; j < 9; ++j) d(i, j) = T(RE(j / 3, j % 3));
            }
        }
        dx.push_back(std::move(d));
    }
    const Matrix f = forward_jvp(net_, in, dx, dy).template cast<double>();
    div.resize(B);
    for (Eigen::Index i = 0; i < B; ++i) {
        if (sphere) {
            const double fx = f.row(i).dot(x.row(i));
            double tr = 0, xjx = 0;
            for (int j = 0; j < n; ++j) {
                const double dyj_j = double(dy[std::size_t(j)](i, j));
                tr += dyj_j;
                xjx += x(i, j) * dy[std::size_t(j)].row(i).template cast<double>().dot(x.row(i));
            }
            div(i) = tr - xjx - double(n - 1) * fx;
        } else {
            div(i) = double(dy[0](i, 0)) + double(dy[1](i, 1)) + double(dy[2](i, 2));
        }
    }
    return to_ambient(x, f);
}

template <class T>
Var RiemannianField<T>::loss(Tape<T>& tape, const Matrix& x1, const Mat<T>& ctx, Rng& rng) {
    const Eigen::Index B = x1.rows();
    const int n = cfg_.dim, w = m_->tangent_width();
    require(x1.cols() == n, "flow matching: batch has the wrong number of columns");
    Matrix xt(B, n), ut(B, w);
    Eigen::VectorXd t(B);
    RowVec a, b;
    if (cfg_.coupling == "none") {
        for (Eigen::Index i = 0; i < B; ++i) {
            const RowVec x0 = draw_base(rng);
            t(i) = rng.uniform();
            m_->geodesic(x0, x1.row(i), t(i), a, b);
            xt.row(i) = a;
            ut.row(i) = b;
        }
    } else {  // exact: the base draws re-matched to the rows by least squared geodesic distance
        Matrix x0(B, n);
        for (Eigen::Index i = 0; i < B; ++i) x0.row(i) = draw_base(rng);
        for (Eigen::Index r0 = 0; r0 < B; r0 += kCoupleRows) {  // blocks of at most kCoupleRows rows
            const Eigen::Index r = std::min(kCoupleRows, B - r0);
            const std::vector<int> perm =
                ot::assignment(squared_geodesic_distances(*m_, x1.middleRows(r0, r), x0.middleRows(r0, r)));
            for (Eigen::Index i = r0; i < r0 + r; ++i) {
                t(i) = rng.uniform();
                m_->geodesic(x0.row(r0 + perm[std::size_t(i - r0)]), x1.row(i), t(i), a, b);
                xt.row(i) = a;
                ut.row(i) = b;
            }
        }
    }
    Var f = net_.forward(tape, tape.constant(input(xt, t, ctx)), nullptr);
    Var v = f;
    if (cfg_.manifold == "sphere") {  // tangent projection f - (f . x) x
        Var X = tape.constant(xt.cast<T>());
        v = tape.sub(f, tape.mul_col(X, tape.sum_rows(tape.mul(f, X))));
    }
    return tape.mean(tape.square(tape.sub(v, tape.constant(ut.cast<T>()))));
}

template class RiemannianField<float>;
template class RiemannianField<double>;
template Mat<float> forward_jvp(const nn::ResidualNet<float>&, const Mat<float>&, const std::vector<Mat<float>>&,
                                std::vector<Mat<float>>&);
template Mat<double> forward_jvp(const nn::ResidualNet<double>&, const Mat<double>&, const std::vector<Mat<double>>&,
                                 std::vector<Mat<double>>&);

Matrix squared_geodesic_distances(const Manifold& m, const Matrix& a, const Matrix& b) {
    Matrix d(a.rows(), b.rows());
    if (m.name() == "sphere") {  // the angle between unit vectors
        const Matrix c = a * b.transpose();
        for (Eigen::Index j = 0; j < d.cols(); ++j)
            for (Eigen::Index i = 0; i < d.rows(); ++i) {
                const double th = std::acos(std::clamp(c(i, j), -1.0, 1.0));
                d(i, j) = th * th;
            }
        return d;
    }
    for (Eigen::Index i = 0; i < d.rows(); ++i)
        for (Eigen::Index j = 0; j < d.cols(); ++j) d(i, j) = m.log(a.row(i), b.row(j)).squaredNorm();
    return d;
}

OdeStats integrate_on_manifold(const std::function<void(double, const Matrix&, Matrix&)>& f, Matrix& y, double t0,
                               double t1, const OdeOptions& o, const Manifold& m) {
    const int n = m.ambient();
    return integrate(f, y, t0, t1, o, [&](Matrix& s) {
        for (Eigen::Index i = 0; i < s.rows(); ++i) s.row(i).head(n) = m.project(s.row(i).head(n));
    });
}

}  // namespace orbit::flows
