// Learned canonicalization: vector-neuron equivariance by construction (float32
// and float64), every backward against central finite differences (float64),
// the canonicalization prior falling on a small upright set, deterministic
// training for any thread count, degenerate clouds flagged, model files.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <functional>

#include "orbit/canon/learned.hpp"
#include "orbit/canon/vector_neurons.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/random.hpp"

#include "nn_fixtures.hpp"

using namespace orbit;
using namespace orbit::canon;
using nn::Mat;
using nn::Param;
using nn::ParamList;
using nn::Tape;
using nn::Var;
using M = Mat<double>;
using test::grad_error_params;
using test::random_mat;

namespace {

Eigen::Matrix3d random_rotation(Rng& rng, bool reflect = false) {
    Eigen::Matrix3d a;
    for (int i = 0; i < 9; ++i) a.data()[i] = rng.normal();
    Eigen::HouseholderQR<Eigen::Matrix3d> qr(a);
    Eigen::Matrix3d q = qr.householderQ();
    if (q.determinant() < 0) q.col(0) *= -1;
    if (reflect) q.col(2) *= -1;
    return q;
}

// An asymmetric upright template and noisy, rescaled, shifted copies of it.
std::vector<Points> upright_clouds(int b, int n, Rng& rng) {
    Points tmpl(n, 3);
    for (int i = 0; i < n; ++i) {
        const double u = rng.uniform();
        tmpl.row(i) << 2.0 * u * u, 0.8 * rng.normal() * (1 - 0.5 * u), 0.3 * rng.normal() + 0.4 * u;
    }
    std::vector<Points> out;
    for (int k = 0; k < b; ++k) {
        Points x = tmpl;
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] += 0.03 * rng.normal();
        x *= rng.uniform(0.5, 2.0);
        x.rowwise() += Eigen::RowVector3d(rng.normal(), rng.normal(), rng.normal());
        out.push_back(x);
    }
    return out;
}


// Rotates the three component matrices [R, C]: v' = Q v per row and channel.
std::array<M, 3> rotate(const std::array<M, 3>& v, const Eigen::Matrix3d& q) {
    std::array<M, 3> o;
    for (int a = 0; a < 3; ++a) o[a] = q(a, 0) * v[0] + q(a, 1) * v[1] + q(a, 2) * v[2];
    return o;
}

Eigen::Matrix3d frame_of(const M& r) {
    Eigen::Matrix3d R;
    for (int i = 0; i < 9; ++i) R(i / 3, i % 3) = r(0, i);
    return R;
}

template <class T>
Eigen::Matrix3d net_frame(VnCanonicalizerNet<T>& net, const Points& x) {
    Tape<T> tape(false);
    const Points c = x.rowwise() - x.colwise().mean();
    const Var r = net.forward(tape, c.cast<T>(), int(x.rows()));
    return frame_of(tape.value(r).template cast<double>());
}

}  // namespace

TEST_CASE("vector neurons: VN-linear and VN-leaky-ReLU commute with O(3)", "[canon][learned]") {
    Rng rng(3);
    const int rows = 7, cin = 4, cout = 5;
    std::array<M, 3> v{random_mat(rows, cin, rng), random_mat(rows, cin, rng), random_mat(rows, cin, rng)};
    const M W = random_mat(cin, cout, rng), U = random_mat(cin, cout, rng);
    auto run = [&](const std::array<M, 3>& in, double slope) {
        Tape<double> t(false);
        const VecVar x{t.constant(in[0]), t.constant(in[1]), t.constant(in[2])};
        const Var w = t.constant(W), u = t.constant(U);
        const VecVar y = vn_leaky_relu(t, vn_linear(t, x, w), vn_linear(t, x, u), slope, 1e-6);
        return std::array<M, 3>{t.value(y.x), t.value(y.y), t.value(y.z)};
    };
    for (bool reflect : {false, true})
        for (double slope : {0.0, 0.2}) {
            const Eigen::Matrix3d q = random_rotation(rng, reflect);
            const auto a = rotate(run(v, slope), q), b = run(rotate(v, q), slope);
            double err = 0;
            for (int k = 0; k < 3; ++k) err = std::max(err, (a[k] - b[k]).cwiseAbs().maxCoeff());
            CHECK(err < 1e-12);
        }
    // The ReLU really is nonlinear: some channels were projected.
    const auto y = run(v, 0.0);
    Tape<double> t(false);
    const VecVar x{t.constant(v[0]), t.constant(v[1]), t.constant(v[2])};
    const M lin = t.value(vn_linear(t, x, t.constant(W)).x);
    CHECK((lin - y[0]).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("vector neurons: backward of the VN layers and Gram-Schmidt against finite differences", "[canon][learned]") {
    Rng rng(4);
    std::vector<Param<double>> ps(5);
    const int rows = 6;
    for (int i = 0; i < 3; ++i) ps[i].value = random_mat(rows, 3, rng);
    ps[3].value = random_mat(3, 4, rng);
    ps[4].value = random_mat(3, 4, rng);
    ParamList<double> list;
    for (auto& p : ps) list.push_back(&p);
    for (double slope : {0.0, 0.2}) {
        const double err = grad_error_params(list, [&](Tape<double>& t) {
            const VecVar x{t.param(ps[0]), t.param(ps[1]), t.param(ps[2])};
            const VecVar y = vn_leaky_relu(t, vn_linear(t, x, t.param(ps[3])), vn_linear(t, x, t.param(ps[4])), slope, 1e-6);
            return t.concat_cols({y.x, y.y, y.z});
        });
        CHECK(err < 1e-7);
    }
    for (bool reflections : {false, true}) {
        const double err = grad_error_params({&ps[0], &ps[1], &ps[2]}, [&](Tape<double>& t) {
            return gram_schmidt(t, VecVar{t.param(ps[0]), t.param(ps[1]), t.param(ps[2])}, reflections, 1e-30);
        });
        CHECK(err < 1e-7);
    }
    // Gram-Schmidt gives orthonormal frames, proper without reflections.
    Tape<double> t(false);
    const M r = t.value(gram_schmidt(t, VecVar{t.constant(ps[0].value), t.constant(ps[1].value), t.constant(ps[2].value)},
                                     false, 1e-30));
    for (int i = 0; i < rows; ++i) {
        const Eigen::Matrix3d R = frame_of(r.row(i));
        CHECK((R.transpose() * R - Eigen::Matrix3d::Identity()).norm() < 1e-12);
        CHECK(R.determinant() == Approx(1.0).margin(1e-12));
    }
}

TEST_CASE("vector neurons: the whole network and the prior loss against finite differences", "[canon][learned]") {
    Rng rng(6);
    VnConfig cfg;
    cfg.hidden = 4;
    cfg.layers = 2;
    cfg.neighbors = 4;
    // Variants: plain SO(3), O(3), and SO(3) with chiral (cross-product) features and invariant gates.
    for (int variant = 0; variant < 3; ++variant) {
        cfg.reflections = variant == 1;
        cfg.chiral = cfg.gated = variant == 2;
        VnCanonicalizerNet<double> net(cfg, rng);
        const int n = 10;
        M pts = random_mat(2 * n, 3, rng);
        const double err = grad_error_params(net.params(), [&](Tape<double>& t) { return net.forward(t, pts, n); });
        CHECK(err < 1e-6);
        const double err_loss = grad_error_params(
            net.params(), [&](Tape<double>& t) { return canonicalization_prior_loss(t, net, pts, n, 0.7); });
        CHECK(err_loss < 1e-6);
        const double err_vec = grad_error_params(
            net.params(), [&](Tape<double>& t) { return vector_prior_loss(t, net, pts, n, 0.7); });
        CHECK(err_vec < 1e-6);
        // Its value: 0.7 * sum_b sum_j |v_bj - e_j|^2 / B, from the output vectors directly.
        Tape<double> t(false);
        const VecVar v = net.vectors(t, pts, n);
        const M vx = t.value(v.x), vy = t.value(v.y), vz = t.value(v.z);
        double want = 0;
        for (Eigen::Index b = 0; b < vx.rows(); ++b)
            for (Eigen::Index j = 0; j < vx.cols(); ++j)
                want += (Eigen::Vector3d(vx(b, j), vy(b, j), vz(b, j)) - Eigen::Vector3d::Unit(j)).squaredNorm();
        Tape<double> t2(false);
        CHECK(t2.value(vector_prior_loss(t2, net, pts, n, 0.7))(0, 0) == Approx(0.7 * want / 2).epsilon(1e-12));
    }
}

TEST_CASE("vector neurons: rotating the input rotates the frame (float64 1e-12, float32 1e-5)", "[canon][learned]") {
    Rng rng(8);
    VnConfig cfg;
    for (int variant = 0; variant < 3; ++variant) {
        const bool reflections = variant == 1;
        cfg.reflections = reflections;
        cfg.chiral = cfg.gated = variant == 2;
        VnCanonicalizerNet<float> net32(cfg, rng);
        VnCanonicalizerNet<double> net64 = net32.cast<double>();
        double worst64 = 0, worst32 = 0;
        for (int trial = 0; trial < 5; ++trial) {
            Points x = random_mat(64, 3, rng);
            x.col(0) *= 2.0;  // anisotropic, so the frame is well conditioned
            const Eigen::Matrix3d q = random_rotation(rng, reflections && trial % 2 == 1);
            const Points gx = x * q.transpose();
            // Without reflections in the network, O(3) elements are not tested (e3 = e1 x e2 is a pseudo-vector).
            worst64 = std::max(worst64, (net_frame(net64, gx) - q * net_frame(net64, x)).cwiseAbs().maxCoeff());
            worst32 = std::max(worst32, (net_frame(net32, gx) - q * net_frame(net32, x)).cwiseAbs().maxCoeff());
        }
        std::printf("vn equivariance (%s): float64 %.3g, float32 %.3g\n", variant == 1 ? "O3" : variant == 2 ? "SO3 chiral gated" : "SO3",
                    worst64, worst32);
        CHECK(worst64 < 1e-12);
        CHECK(worst32 < 1e-5);
    }
}

TEST_CASE("learned canonicalizer: canonical copies are invariant, degenerate clouds flagged", "[canon][learned]") {
    Rng rng(9);
    VnConfig cfg;
    for (Group g : {Group::SO3, Group::O3, Group::SE3, Group::E3}) {
        cfg.reflections = has_reflections(g);
        LearnedCanonicalizer lc(g, VnCanonicalizerNet<float>(cfg, rng));
        Points x = random_mat(50, 3, rng);
        x.col(1) *= 2.5;
        x.rowwise() += Eigen::RowVector3d(0.3, -1.0, 2.0);
        const Eigen::Matrix3d q = random_rotation(rng, has_reflections(g));
        Points gx = x * q.transpose();
        if (has_translations(g)) gx.rowwise() += Eigen::RowVector3d(5.0, -2.0, 1.0);
        // A permutation of the points changes nothing either.
        Points perm(gx.rows(), 3);
        for (Eigen::Index i = 0; i < gx.rows(); ++i) perm.row(i) = gx.row((i * 7) % gx.rows());
        const Canonical a = lc.canonicalize(x), b = lc.canonicalize(perm);
        CHECK_FALSE(a.diag.unstable());
        const Points ca = transform_points(a.transform, x), cb = transform_points(b.transform, perm);
        double err = 0;
        for (Eigen::Index i = 0; i < ca.rows(); ++i)
            err = std::max(err, (ca.row((i * 7) % ca.rows()) - cb.row(i)).cwiseAbs().maxCoeff());
        CHECK(err < 1e-11);
        CHECK(a.transform.topLeftCorner<3, 3>().determinant() == Approx(1.0).margin(1e-9));
    }
    cfg.reflections = false;
    LearnedCanonicalizer lc(Group::SO3, VnCanonicalizerNet<float>(cfg, rng));
    const Points same = Points::Constant(20, 3, 1.5);
    const Canonical c0 = lc.canonicalize(same);
    CHECK((c0.diag.flags & flag_collapsed) != 0);
    CHECK(c0.transform.isApprox(Transform::Identity()));
    Points line(20, 3);
    for (int i = 0; i < 20; ++i) line.row(i) = (0.1 * i * i - 3.0) * Eigen::RowVector3d(1.0, 2.0, -0.5);
    const Canonical c1 = lc.canonicalize(line);
    CHECK((c1.diag.flags & flag_eigen_gap) != 0);
    CHECK(c1.diag.unstable());
    Options opt;
    opt.on_unstable = Unstable::error;
    lc.set_options(opt);
    CHECK_THROWS(lc.canonicalize(line));
    CHECK_THROWS(lc.canonicalize(Points::Zero(5, 2)));
}

TEST_CASE("canonicalization prior: the loss falls, deterministic for any thread count, model files", "[canon][learned]") {
    Rng rng(10);
    const std::vector<Points> data = upright_clouds(24, 48, rng);
    std::vector<const Points*> clouds;
    for (auto& x : data) clouds.push_back(&x);
    PriorTrainOptions opt;
    opt.epochs = 25;
    opt.batch = 8;
    opt.lr = 1e-2;
    opt.seed = 3;
    opt.net.hidden = 8;
    std::vector<PriorEpoch> hist;
    const int keep = threads();
    set_threads(1);
    LearnedCanonicalizer a = train_canonicalization_prior(clouds, opt, [&](const PriorEpoch& e) { hist.push_back(e); });
    set_threads(2);
    LearnedCanonicalizer b = train_canonicalization_prior(clouds, opt);
    set_threads(keep);
    REQUIRE(hist.size() == 25);
    std::printf("prior loss: first %.4f last %.4f, mean angle %.1f -> %.1f deg\n", hist.front().loss, hist.back().loss,
                hist.front().angle_deg, hist.back().angle_deg);
    CHECK(hist.back().loss < 0.25 * hist.front().loss);
    CHECK(hist.back().angle_deg < 20.0);
    for (std::size_t i = 0; i < a.net().params().size(); ++i)
        CHECK((a.net().params()[i]->value - b.net().params()[i]->value).cwiseAbs().maxCoeff() == 0.0f);
    // Upright clouds now canonicalize to nearly themselves; rotated copies to the same pose.
    const Eigen::Matrix3d R = a.frame(data[0]);
    CHECK((R - Eigen::Matrix3d::Identity()).norm() < 0.6);
    const Eigen::Matrix3d q = random_rotation(rng);
    const Points gx = data[0] * q.transpose();
    CHECK((a.frame(gx) - q * R).cwiseAbs().maxCoeff() < 1e-12);

    const std::string path = "test_learned_canon_model.h5";
    {
        h5::File f = h5::File::create(path);
        a.save(f);
    }
    LearnedCanonicalizer c = LearnedCanonicalizer::load(path);
    CHECK(c.group() == Group::SO3);
    CHECK((c.frame(data[1]) - a.frame(data[1])).cwiseAbs().maxCoeff() == 0.0);
    CHECK(c.training()["history"]["loss"].size() == 25);
    std::remove(path.c_str());

    opt.group = Group::SO2;  // 3-D clouds for a planar model
    CHECK_THROWS_AS(train_canonicalization_prior(clouds, opt), Error);
}

TEST_CASE("planar vector neurons for SO(2): equivariance, gradients, the prior", "[canon][learned]") {
    Rng rng(12);
    for (bool chiral : {false, true}) {
    VnConfig cfg;
    cfg.dim = 2;
    cfg.chiral = cfg.gated = chiral;
    VnCanonicalizerNet<float> net32(cfg, rng);
    VnCanonicalizerNet<double> net64 = net32.cast<double>();
    auto frame2 = [](auto& net, const Points& x) {
        using T = typename std::decay_t<decltype(net.out.value)>::Scalar;
        Tape<T> tape(false);
        const Points c = x.rowwise() - x.colwise().mean();
        const Mat<double> r = tape.value(net.forward(tape, c.cast<T>(), int(x.rows()))).template cast<double>();
        Eigen::Matrix2d R;
        R << r(0, 0), r(0, 1), r(0, 2), r(0, 3);
        return R;
    };
    double worst64 = 0, worst32 = 0;
    for (int trial = 0; trial < 5; ++trial) {
        Points x = random_mat(40, 2, rng);
        x.col(0) *= 2.0;
        const double a = rng.uniform(-M_PI, M_PI);
        Eigen::Matrix2d q;
        q << std::cos(a), -std::sin(a), std::sin(a), std::cos(a);
        const Points gx = x * q.transpose();
        const Eigen::Matrix2d R = frame2(net64, x);
        CHECK((R.transpose() * R - Eigen::Matrix2d::Identity()).norm() < 1e-12);
        CHECK(R.determinant() == Approx(1.0).margin(1e-12));
        worst64 = std::max(worst64, (frame2(net64, gx) - q * R).cwiseAbs().maxCoeff());
        worst32 = std::max(worst32, (frame2(net32, gx) - q * frame2(net32, x)).cwiseAbs().maxCoeff());
    }
    std::printf("vn equivariance (SO2%s): float64 %.3g, float32 %.3g\n", chiral ? " chiral gated" : "", worst64, worst32);
    CHECK(worst64 < 1e-12);
    CHECK(worst32 < 1e-5);

    VnConfig small = cfg;
    small.hidden = 4;
    small.neighbors = 4;
    VnCanonicalizerNet<double> g(small, rng);
    const M pts = random_mat(20, 2, rng);
    CHECK(grad_error_params(g.params(), [&](Tape<double>& t) { return canonicalization_prior_loss(t, g, pts, 10, 0.5); }) < 1e-6);
    CHECK(grad_error_params(g.params(), [&](Tape<double>& t) { return vector_prior_loss(t, g, pts, 10, 0.5); }) < 1e-6);
    }

    // A cloud symmetric about the y axis: without chiral features e1 must lie on the mirror axis (so R = I is
    // out of reach); with them it need not.
    {
        Points half = random_mat(12, 2, rng), sym(24, 2);
        sym << half, half;
        sym.bottomRows(12).col(0) *= -1.0;
        for (bool chiral : {false, true}) {
            VnConfig c;
            c.dim = 2;
            c.chiral = chiral;
            VnCanonicalizerNet<double> net(c, rng);
            Tape<double> tape(false);
            const Points centred = sym.rowwise() - sym.colwise().mean();
            const Mat<double> r = tape.value(net.forward(tape, centred, 24));
            const double off_axis = std::abs(r(0, 0));  // x component of e1
            if (chiral) CHECK(off_axis > 1e-3);
            else CHECK(off_axis < 1e-12);
        }
    }

    // Upright 2-D sets (an asymmetric template, noisy copies): the prior loss falls, rotated copies agree.
    std::vector<Points> data;
    Points tmpl(32, 2);
    for (int i = 0; i < 32; ++i) {
        const double u = rng.uniform();
        tmpl.row(i) << 2.0 * u * u, 0.6 * rng.normal() + 0.5 * u;
    }
    for (int k = 0; k < 24; ++k) {
        Points x = tmpl;
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] += 0.03 * rng.normal();
        data.push_back(x * rng.uniform(0.5, 2.0));
    }
    std::vector<const Points*> clouds;
    for (auto& x : data) clouds.push_back(&x);
    PriorTrainOptions opt;
    opt.group = Group::SO2;
    opt.epochs = 25;
    opt.batch = 8;
    opt.lr = 1e-2;
    opt.net.hidden = 8;
    std::vector<PriorEpoch> hist;
    LearnedCanonicalizer lc = train_canonicalization_prior(clouds, opt, [&](const PriorEpoch& e) { hist.push_back(e); });
    std::printf("SO2 prior loss: first %.4f last %.4f, mean angle %.1f -> %.1f deg\n", hist.front().loss,
                hist.back().loss, hist.front().angle_deg, hist.back().angle_deg);
    CHECK(hist.back().loss < 0.25 * hist.front().loss);
    const double a = 2.0;
    Eigen::Matrix2d q;
    q << std::cos(a), -std::sin(a), std::sin(a), std::cos(a);
    const Points gx = data[0] * q.transpose();
    const Points c0 = transform_points(lc.canonicalize(data[0]).transform, data[0]);
    const Points c1 = transform_points(lc.canonicalize(gx).transform, gx);
    CHECK((c0 - c1).cwiseAbs().maxCoeff() < 1e-11);
    CHECK_THROWS(lc.canonicalize(Points::Zero(5, 3)));
}
