// Weighted frames (a learned weighting of the frames the points induce):
// equivariance by construction in SO(2) and SO(3) (float64 1e-12, float32
// 1e-5), permutation invariance, parameter gradients of the network and of
// both prior forms against central finite differences, the prior falling with
// the same bits for 1 and 2 threads, model files, and bad configurations.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "orbit/canon/learned.hpp"
#include "orbit/canon/weighted_frames.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/random.hpp"

#include "canon_fixtures.hpp"

using namespace orbit;
using namespace orbit::canon;
using nn::Mat;
using nn::Tape;
using nn::Var;
using M = Mat<double>;
using test::grad_error_params;
using test::random_mat;

using test::random_rotation;
using test::test_cloud;

TEST_CASE("weighted frames: rotating the input rotates the frame; permutations change nothing", "[canon][learned]") {
    Rng rng(21);
    for (int dim : {2, 3}) {
        WfConfig cfg;
        cfg.dim = dim;
        cfg.grid = 6;
        cfg.hidden = 24;
        cfg.neighbors = 6;
        WeightedFramesNet<float> net32(cfg, rng);
        WeightedFramesNet<double> net64 = net32.cast<double>();
        double worst64 = 0, worst32 = 0, perm = 0;
        for (int trial = 0; trial < 5; ++trial) {
            const Points x = test_cloud(40, dim, rng);
            const Eigen::Matrix3d q = random_rotation(rng, dim);
            const Points gx = x * q.topLeftCorner(dim, dim).transpose();
            const Eigen::Matrix3d R = test::network_frame(net64, x);
            CHECK((R.transpose() * R - Eigen::Matrix3d::Identity()).norm() < 1e-12);
            CHECK(R.determinant() == Approx(1.0).margin(1e-12));
            worst64 = std::max(worst64, (test::network_frame(net64, gx) - q * R).cwiseAbs().maxCoeff());
            worst32 = std::max(worst32, (test::network_frame(net32, gx) - q * test::network_frame(net32, x)).cwiseAbs().maxCoeff());
            const std::vector<std::int64_t> p = rng.permutation(x.rows());
            Points px(x.rows(), dim);
            for (Eigen::Index i = 0; i < x.rows(); ++i) px.row(i) = x.row(p[static_cast<std::size_t>(i)]);
            perm = std::max(perm, (test::network_frame(net64, px) - R).cwiseAbs().maxCoeff());
        }
        std::printf("weighted frames equivariance (%dD): float64 %.3g, float32 %.3g, permutation %.3g\n", dim, worst64,
                    worst32, perm);
        CHECK(worst64 < 1e-12);
        CHECK(worst32 < 1e-5);
        CHECK(perm < 1e-12);
    }
}

TEST_CASE("weighted frames: descriptors are invariant, frames rotate, a point at the centre weighs nothing", "[canon][learned]") {
    Rng rng(22);
    WfConfig cfg;
    cfg.dim = 2;
    cfg.grid = 5;
    Points x = test_cloud(12, 2, rng);
    x = x.rowwise() - x.colwise().mean();
    x.row(0).setZero();  // a point exactly at the centroid (after re-centring the rest, close enough for the test)
    const Eigen::Matrix2d q = random_rotation(rng, 2).topLeftCorner<2, 2>();
    M f1, d1, f2, d2;
    weighted_frame_inputs<double>(cfg, x, 12, f1, d1);
    weighted_frame_inputs<double>(cfg, x * q.transpose(), 12, f2, d2);
    // Row 0's frame is arbitrary (u = e1, not rotated): its descriptor may differ, but gamma_0 = 0 below.
    CHECK((d1 - d2).bottomRows(11).cwiseAbs().maxCoeff() < 1e-12);
    // Each descriptor is a splat of all n points with weight 1/n (plus |p_i| in the last column).
    CHECK(d1.leftCols(25).rowwise().sum().isApprox(Eigen::VectorXd::Ones(12), 1e-12));
    CHECK(d1(3, 25) == Approx(x.row(3).norm()).epsilon(1e-12));
    // gamma_i F_i = [p_i, J p_i]: linear in p_i, zero at the centre.
    for (int i = 0; i < 12; ++i) {
        CHECK(f1(i, 0) == Approx(x(i, 0)).margin(1e-12));
        CHECK(f1(i, 2) == Approx(x(i, 1)).margin(1e-12));
        CHECK(f1(i, 1) == Approx(-x(i, 1)).margin(1e-12));
        CHECK(f1(i, 3) == Approx(x(i, 0)).margin(1e-12));
    }
    CHECK(f1.row(0).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("weighted frames: the network and both prior forms against finite differences", "[canon][learned]") {
    Rng rng(23);
    for (int dim : {2, 3}) {
        WfConfig cfg;
        cfg.dim = dim;
        cfg.grid = 4;
        cfg.hidden = 6;
        cfg.blocks = 1;
        cfg.neighbors = 4;
        WeightedFramesNet<double> net(cfg, rng);
        const int n = 10;
        const M pts = random_mat(2 * n, dim, rng);
        auto ps = net.params();
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return net.forward(t, pts, n); }) < 1e-6);
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return vector_prior_loss(t, net, pts, n, 0.7); }) < 1e-6);
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return canonicalization_prior_loss(t, net, pts, n, 0.7); }) < 1e-6);
    }
}

TEST_CASE("weighted frames: the prior falls, same bits for any thread count, model files", "[canon][learned]") {
    Rng rng(24);
    // Upright 2-D clouds: noisy, rescaled, shifted copies of one asymmetric template.
    const Points tmpl = test_cloud(32, 2, rng);
    std::vector<Points> data = test::upright_copies(tmpl, 24, rng);
    std::vector<const Points*> clouds;
    for (auto& x : data) clouds.push_back(&x);
    PriorTrainOptions opt;
    opt.group = Group::SO2;
    opt.method = "weighted-frames";
    opt.frames.grid = 6;
    opt.frames.hidden = 16;
    opt.epochs = 30;
    opt.batch = 8;
    opt.lr = 1e-2;
    opt.seed = 5;
    std::vector<PriorEpoch> hist;
    const int keep = threads();
    set_threads(1);
    LearnedCanonicalizer a = train_canonicalization_prior(clouds, opt, [&](const PriorEpoch& e) { hist.push_back(e); });
    set_threads(2);
    LearnedCanonicalizer b = train_canonicalization_prior(clouds, opt);
    set_threads(keep);
    std::printf("weighted frames prior: loss %.4f -> %.4f, mean angle %.1f -> %.1f deg\n", hist.front().loss,
                hist.back().loss, hist.front().angle_deg, hist.back().angle_deg);
    CHECK(hist.back().loss < 0.25 * hist.front().loss);
    CHECK(hist.back().angle_deg < 10.0);
    for (std::size_t i = 0; i < a.net().params().size(); ++i)
        CHECK((a.net().params()[i]->value - b.net().params()[i]->value).cwiseAbs().maxCoeff() == 0.0f);
    const std::string path = "test_weighted_frames_model.h5";
    {
        h5::File f = h5::File::create(path);
        a.save(f);
    }
    LearnedCanonicalizer c = LearnedCanonicalizer::load(path);
    CHECK(c.net().method() == "weighted-frames");
    CHECK((c.frame(data[1]) - a.frame(data[1])).cwiseAbs().maxCoeff() == 0.0);
    std::remove(path.c_str());

    opt.group = Group::O3;  // reflections: u x w is not equivariant under them
    CHECK_THROWS_AS(train_canonicalization_prior(clouds, opt), UsageError);
    Rng r0(0);
    CHECK_THROWS_AS(CanonNet<float>::from_json("weighted-frames", {{"dim", 4}}, r0), std::exception);
    CHECK_THROWS_AS(CanonNet<float>::from_json("spherical-harmonics", nlohmann::json::object(), r0), Error);
}
