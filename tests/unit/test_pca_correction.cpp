// PCA correction (a PCA reference frame turned by a learned invariant
// correction): the reference frame on an analytic case and under rotations,
// equivariance by construction in SO(2) and SO(3) with and without averaging
// over the axis signs (float64 1e-12, float32 1e-5), permutation invariance,
// gradients against central finite differences, the prior falling with
// augmentation and the same bits for 1 and 2 threads, model files.
#include <Eigen/Dense>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <utility>
#include <vector>

#include "orbit/canon/learned.hpp"
#include "orbit/canon/pca_correction.hpp"
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

TEST_CASE("pca correction: the reference frame is the signed principal axes and rotates with the cloud", "[canon][learned]") {
    // Analytic: points on the x axis with a long positive tail, plus a little spread in y.
    Eigen::MatrixXd x(5, 2);
    x << -1, 0.1, -1, -0.1, 0, 0.05, 0, -0.05, 2, 0;
    x = x.rowwise() - x.colwise().mean();
    Eigen::Matrix3d F = pca_reference_frame(x);
    CHECK((F - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff() < 1e-12);
    // The mirrored cloud (tail toward -x): the axis turns by a half turn.
    F = pca_reference_frame(-x);
    CHECK((F.topLeftCorner<2, 2>() + Eigen::Matrix2d::Identity()).cwiseAbs().maxCoeff() < 1e-12);
    Rng rng(30);
    for (int dim : {2, 3}) {
        for (int trial = 0; trial < 5; ++trial) {
            Eigen::MatrixXd c = test_cloud(30, dim, rng);
            c = c.rowwise() - c.colwise().mean();
            const Eigen::Matrix3d q = random_rotation(rng, dim);
            const Eigen::Matrix3d F0 = pca_reference_frame(c);
            CHECK((F0.transpose() * F0 - Eigen::Matrix3d::Identity()).norm() < 1e-12);
            CHECK(F0.determinant() == Approx(1.0).margin(1e-12));
            const Eigen::MatrixXd gc = c * q.topLeftCorner(dim, dim).transpose();
            CHECK((pca_reference_frame(gc) - q * F0).cwiseAbs().maxCoeff() < 1e-12);
        }
    }
}

TEST_CASE("pca correction: rotating the input rotates the frame; permutations change nothing", "[canon][learned]") {
    Rng rng(31);
    for (int dim : {2, 3})
        for (bool average : {true, false}) {
            PcConfig cfg;
            cfg.dim = dim;
            cfg.grid = 6;
            cfg.hidden = 24;
            cfg.average_signs = average;
            cfg.members = average ? 3 : 1;  // an ensemble's mean vectors are as equivariant as one network's
            PcaCorrectionNet<float> net32(cfg, rng);
            PcaCorrectionNet<double> net64 = net32.cast<double>();
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
            std::printf("pca correction equivariance (%dD, average_signs %d): float64 %.3g, float32 %.3g, permutation %.3g\n",
                        dim, int(average), worst64, worst32, perm);
            CHECK(worst64 < 1e-12);
            CHECK(worst32 < 1e-5);
            CHECK(perm < 1e-12);
        }
}

TEST_CASE("pca correction: averaged over the axis signs, a half-turn symmetric cloud gets no frame", "[canon][learned]") {
    // The averaged correction obeys a(-x') = -a(x'). A cloud symmetric under the half turn (x and -x
    // together) has -x' = x' as a set, so a = 0 whatever the weights: it has no equivariant frame, and
    // the output vector vanishes (the learned canonicalizer flags it) instead of depending on the
    // arbitrary sign its zero third moment gave the reference frame. Without averaging it does not vanish.
    Rng rng(32);
    Points half = test_cloud(20, 2, rng);
    half = half.rowwise() - half.colwise().mean();
    Points x(40, 2);
    x << half, -half;
    for (bool average : {true, false}) {
        PcConfig cfg;
        cfg.grid = 6;
        cfg.hidden = 16;
        cfg.average_signs = average;
        PcaCorrectionNet<double> net(cfg, rng);
        Tape<double> tape(false);
        const VecVar v = net.vectors(tape, x, 40);
        const double len = std::hypot(tape.value(v.x)(0, 0), tape.value(v.y)(0, 0));
        if (average) CHECK(len < 1e-12);
        else CHECK(len > 1e-3);
    }
    // The angle-bins head: the opposite bins tie, the decoded vector's length (the margin) vanishes and
    // the learned canonicalizer flags the cloud, as with the vector head.
    for (bool average : {true, false}) {
        PcConfig cfg;
        cfg.grid = 6;
        cfg.hidden = 16;
        cfg.angle_bins = 8;
        cfg.average_signs = average;
        PcaCorrectionNet<float> net(cfg, rng);
        LearnedCanonicalizer m(Group::SO2, CanonNet<float>(net));
        const Canonical c = m.canonicalize(x);
        if (average) CHECK((c.diag.flags & flag_eigen_gap) != 0);
        else CHECK(c.diag.flags == 0);
        Tape<double> tape(false);
        PcaCorrectionNet<double> n64 = net.cast<double>();
        const VecVar v = n64.vectors(tape, x, 40);
        const double len = std::hypot(tape.value(v.x)(0, 0), tape.value(v.y)(0, 0));
        if (average) CHECK(len < 1e-12);
        else CHECK(len > 1e-3);
    }
}

TEST_CASE("pca correction: the network and both prior forms against finite differences", "[canon][learned]") {
    Rng rng(33);
    for (int dim : {2, 3}) {
        PcConfig cfg;
        cfg.dim = dim;
        cfg.grid = 4;
        cfg.hidden = 6;
        cfg.blocks = 1;
        PcaCorrectionNet<double> net(cfg, rng);
        const int n = 10;
        const M pts = random_mat(2 * n, dim, rng);
        auto ps = net.params();
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return net.forward(t, pts, n); }) < 1e-6);
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return vector_prior_loss(t, net, pts, n, 0.7); }) < 1e-6);
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return canonicalization_prior_loss(t, net, pts, n, 0.7); }) < 1e-6);
        // An ensemble of 2: the mean vectors, and the training loss (each member's own prior, averaged) in both forms.
        cfg.members = 2;
        CanonNet<double> ens(PcaCorrectionNet<double>(cfg, rng));
        auto pe = ens.params();
        REQUIRE(ens.members() == 2);
        CHECK(grad_error_params(pe, [&](Tape<double>& t) { return ens.forward(t, pts, n); }) < 1e-6);
        for (PriorForm form : {PriorForm::vectors, PriorForm::frame}) {
            Var frames;
            CHECK(grad_error_params(pe, [&](Tape<double>& t) { return training_prior_loss(t, ens, pts, n, 0.7, form, frames); }) < 1e-6);
        }
        // The training loss of an ensemble is the mean of its members' priors: with both members equal it is
        // the prior of either, and the reported frame is that of the mean vectors.
        for (std::size_t i = pe.size() / 2; i < pe.size(); ++i) pe[i]->value = pe[i - pe.size() / 2]->value;
        Tape<double> t1(false), t2(false);
        Var frames;
        const double le = t1.value(training_prior_loss(t1, ens, pts, n, 0.7, PriorForm::vectors, frames))(0, 0);
        const double l1 = t2.value(vector_prior_loss(t2, ens, pts, n, 0.7))(0, 0);
        CHECK(le == Approx(l1).epsilon(1e-12));
    }
}

namespace {

// The tiny SO2 prior runs of the training tests: 30 epochs on 24 upright 2-D
// clouds (noisy, rescaled, shifted copies of one asymmetric template),
// resampled and jittered; angle_bins 0 is the vector head.
PriorTrainOptions tiny_prior_options(int angle_bins) {
    PriorTrainOptions opt;
    opt.group = Group::SO2;
    opt.method = "pca-correction";
    opt.correction.grid = 6;
    opt.correction.hidden = 16;
    opt.correction.angle_bins = angle_bins;
    opt.epochs = 30;
    opt.batch = 8;
    opt.lr = 1e-2;
    opt.seed = 5;
    opt.resample = true;
    opt.jitter = 0.02;
    return opt;
}

// Trains opt at -j 1 (with its history) and at -j 2.
std::pair<LearnedCanonicalizer, LearnedCanonicalizer> train_at_one_and_two_threads(const std::vector<const Points*>& clouds,
                                                                                   const PriorTrainOptions& opt,
                                                                                   std::vector<PriorEpoch>& hist) {
    const int keep = threads();
    set_threads(1);
    LearnedCanonicalizer a = train_canonicalization_prior(clouds, opt, [&](const PriorEpoch& e) { hist.push_back(e); });
    set_threads(2);
    LearnedCanonicalizer b = train_canonicalization_prior(clouds, opt);
    set_threads(keep);
    return {std::move(a), std::move(b)};
}

}  // namespace

TEST_CASE("pca correction: the prior falls with augmentation, same bits for any thread count, model files", "[canon][learned]") {
    Rng rng(34);
    const Points tmpl = test_cloud(32, 2, rng);
    std::vector<Points> data = test::upright_copies(tmpl, 24, rng);
    std::vector<const Points*> clouds;
    for (auto& x : data) clouds.push_back(&x);
    PriorTrainOptions opt = tiny_prior_options(0);
    std::vector<PriorEpoch> hist;
    auto [a, b] = train_at_one_and_two_threads(clouds, opt, hist);
    std::printf("pca correction prior: loss %.4f -> %.4f, mean angle %.1f -> %.1f deg\n", hist.front().loss,
                hist.back().loss, hist.front().angle_deg, hist.back().angle_deg);
    CHECK(hist.back().loss < 0.25 * hist.front().loss);
    CHECK(hist.back().angle_deg < 10.0);
    for (std::size_t i = 0; i < a.net().params().size(); ++i)
        CHECK((a.net().params()[i]->value - b.net().params()[i]->value).cwiseAbs().maxCoeff() == 0.0f);
    const std::string path = "test_pca_correction_model.h5";
    {
        h5::File f = h5::File::create(path);
        a.save(f);
    }
    LearnedCanonicalizer c = LearnedCanonicalizer::load(path);
    CHECK(c.net().method() == "pca-correction");
    CHECK(c.net().architecture() == a.net().architecture());
    CHECK(c.training().value("resample", false));
    CHECK((c.frame(data[1]) - a.frame(data[1])).cwiseAbs().maxCoeff() == 0.0);
    std::remove(path.c_str());

    opt.group = Group::O3;
    CHECK_THROWS_AS(train_canonicalization_prior(clouds, opt), UsageError);
    Rng r0(0);
    CHECK_THROWS_AS(CanonNet<float>::from_json("pca-correction", {{"dim", 4}}, r0), std::exception);
}

TEST_CASE("pca correction: validation holds clouds out, keeps the best epoch's weights, stops and resumes", "[canon][learned]") {
    Rng rng(35);
    const Points tmpl = test_cloud(24, 2, rng);
    std::vector<Points> data = test::upright_copies(tmpl, 20, rng);
    std::vector<const Points*> clouds;
    for (auto& x : data) clouds.push_back(&x);
    PriorTrainOptions opt;
    opt.group = Group::SO2;
    opt.method = "pca-correction";
    opt.correction.grid = 5;
    opt.correction.hidden = 12;
    opt.epochs = 25;
    opt.batch = 4;
    opt.lr = 3e-2;
    opt.seed = 6;
    opt.val = 0.25;
    std::vector<PriorEpoch> hist;
    LearnedCanonicalizer a = train_canonicalization_prior(clouds, opt, [&](const PriorEpoch& e) { hist.push_back(e); });
    const auto& tr = a.training();
    const std::vector<std::int64_t> held = tr.at("val_clouds").get<std::vector<std::int64_t>>();
    REQUIRE(held.size() == 5);
    REQUIRE(hist.size() == 25);
    // The kept epoch is the one with the lowest validation prior.
    std::size_t arg = 0;
    for (std::size_t i = 0; i < hist.size(); ++i)
        if (hist[i].val_loss < hist[arg].val_loss) arg = i;
    CHECK(tr.at("best_epoch").get<int>() == static_cast<int>(arg) + 1);
    CHECK(tr.at("best_val_loss").get<double>() == hist[arg].val_loss);
    CHECK(hist.back().val_loss < hist.front().val_loss);
    // Without augmentation the held-out clouds play no part in training: the last weights are those of
    // a run on the other 15 clouds alone, and the kept ones those of that run stopped at the best epoch.
    std::vector<const Points*> rest;
    for (std::size_t i = 0; i < clouds.size(); ++i)
        if (std::find(held.begin(), held.end(), static_cast<std::int64_t>(i)) == held.end()) rest.push_back(clouds[i]);
    PriorTrainOptions plain = opt;
    plain.val = 0;
    LearnedCanonicalizer full = train_canonicalization_prior(rest, plain);
    plain.epochs = static_cast<int>(arg) + 1;
    LearnedCanonicalizer upto = train_canonicalization_prior(rest, plain);
    REQUIRE(a.last_weights().size() == a.net().params().size());
    for (std::size_t i = 0; i < a.net().params().size(); ++i) {
        CHECK((a.last_weights()[i] - full.net().params()[i]->value).cwiseAbs().maxCoeff() == 0.0f);
        CHECK((a.net().params()[i]->value - upto.net().params()[i]->value).cwiseAbs().maxCoeff() == 0.0f);
    }
    // Patience: training ends that many epochs after the best one, and a run stopped and resumed
    // through a model file (augmented this time) gives the same bits as one that never stopped.
    opt.patience = 3;
    opt.resample = true;
    opt.jitter = 0.02;
    opt.epochs = 200;
    std::vector<PriorEpoch> ph;
    LearnedCanonicalizer p = train_canonicalization_prior(clouds, opt, [&](const PriorEpoch& e) { ph.push_back(e); });
    const int stopped = p.training().at("epoch").get<int>();
    CHECK(stopped < 200);
    CHECK(stopped == p.training().at("best_epoch").get<int>() + 3);
    PriorTrainOptions first = opt;
    first.stop_after = stopped / 2;
    LearnedCanonicalizer h = train_canonicalization_prior(clouds, first);
    const std::string path = "test_pca_correction_val.h5";
    {
        h5::File f = h5::File::create(path);
        h.save(f);
    }
    LearnedCanonicalizer r = LearnedCanonicalizer::load(path);
    std::remove(path.c_str());
    REQUIRE(r.last_weights().size() == r.net().params().size());
    continue_canonicalization_prior(r, clouds, opt);
    CHECK(r.training().at("epoch").get<int>() == stopped);
    for (std::size_t i = 0; i < p.net().params().size(); ++i) {
        CHECK((r.net().params()[i]->value - p.net().params()[i]->value).cwiseAbs().maxCoeff() == 0.0f);
        CHECK((r.last_weights()[i] - p.last_weights()[i]).cwiseAbs().maxCoeff() == 0.0f);
    }
    PriorTrainOptions other = opt;
    other.val = 0.5;
    CHECK_THROWS_AS(continue_canonicalization_prior(r, clouds, other), UsageError);
    opt.val = 0.01;  // rounds to no held-out cloud
    CHECK_THROWS_AS(train_canonicalization_prior(clouds, opt), UsageError);
}

TEST_CASE("pca correction, angle bins: the head's names, the upright target and the config", "[canon][learned]") {
    CHECK(parse_correction_head("vectors") == 0);
    CHECK(parse_correction_head("angle-bins") == 36);
    CHECK(parse_correction_head("angle-bins:72") == 72);
    for (const char* bad : {"angle-bins:7", "angle-bins:2", "angle-bins:", "angle-bins:x", "angle-bins:1000", "bins"})
        CHECK_THROWS_AS(parse_correction_head(bad), UsageError);
    // The target correction turns the reference frame back to the identity.
    Rng rng(40);
    for (int trial = 0; trial < 5; ++trial) {
        const Eigen::Matrix3d F = random_rotation(rng, 2);
        const double d = upright_correction(F(0, 0), F(1, 0));
        Eigen::Matrix2d c;
        c << std::cos(d), -std::sin(d), std::sin(d), std::cos(d);
        CHECK((F.topLeftCorner<2, 2>() * c - Eigen::Matrix2d::Identity()).cwiseAbs().maxCoeff() < 1e-12);
    }
    PcConfig cfg;
    cfg.angle_bins = 36;
    CHECK(PcConfig::from_json(cfg.to_json()).angle_bins == 36);
    CHECK_FALSE(PcConfig().to_json().contains("angle_bins"));  // files of the vector head stay as they were
    for (auto [dim, bins, members] : {std::tuple{3, 36, 1}, {2, 35, 1}, {2, 36, 2}, {2, 2, 1}}) {
        PcConfig b;
        b.dim = dim, b.angle_bins = bins, b.members = members;
        CHECK_THROWS_AS(PcConfig::from_json(b.to_json()), Error);
    }
}

TEST_CASE("pca correction, angle bins: the prior against finite differences, the decoded angle", "[canon][learned]") {
    Rng rng(41);
    for (bool average : {true, false}) {
        PcConfig cfg;
        cfg.grid = 4;
        cfg.hidden = 6;
        cfg.angle_bins = 8;
        cfg.average_signs = average;
        PcaCorrectionNet<double> net(cfg, rng);
        const int n = 10;
        const M pts = random_mat(3 * n, 2, rng);
        auto ps = net.params();
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return net.angle_prior_loss(t, pts, n, 0.7); }) < 1e-6);
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return net.angle_head(t, pts, n).logits; }) < 1e-6);
        CHECK(grad_error_params(ps, [&](Tape<double>& t) { return net.angle_head(t, pts, n).residual; }) < 1e-6);
        // The training loss is the head's prior whatever the form; its frame is that of the decoded vectors.
        CanonNet<double> cn(net);
        for (PriorForm form : {PriorForm::vectors, PriorForm::frame}) {
            Tape<double> t1(false), t2(false);
            Var frames;
            const double a = t1.value(training_prior_loss(t1, cn, pts, n, 0.7, form, frames))(0, 0);
            CHECK(a == Approx(t2.value(net.angle_prior_loss(t2, pts, n, 0.7))(0, 0)).epsilon(1e-14));
            Tape<double> t3(false);
            CHECK((t1.value(frames) - t3.value(net.forward(t3, pts, n))).cwiseAbs().maxCoeff() < 1e-14);
        }
        // Decoding: the angle of the highest logit plus its clamped residual, turned by the reference frame,
        // as long as the margin over the opposite bin (at most 1).
        Tape<double> tape(false);
        const AngleHead<double> h = net.angle_head(tape, pts, n);
        const VecVar v = net.decode(tape, h);
        for (Eigen::Index c = 0; c < 3; ++c) {
            Eigen::Index k = 0;
            tape.value(h.logits).row(c).maxCoeff(&k);
            const double delta = 2 * M_PI / 8 * (double(k) + std::clamp(tape.value(h.residual)(c, k), -0.5, 0.5));
            const double margin = std::min(1.0, tape.value(h.logits)(c, k) - tape.value(h.logits)(c, (k + 4) % 8));
            CHECK(margin >= 0);
            const Eigen::Vector2d a = margin * Eigen::Vector2d(std::cos(delta), std::sin(delta));
            Eigen::Matrix2d F;
            F << h.frames(c, 0), h.frames(c, 1), h.frames(c, 2), h.frames(c, 3);
            const Eigen::Vector2d want = F * a;
            CHECK(std::abs(tape.value(v.x)(c, 0) - want(0)) < 1e-14);
            CHECK(std::abs(tape.value(v.y)(c, 0) - want(1)) < 1e-14);
        }
        // Averaged over the signs, the head of -x' is that of x' turned by a half turn (K/2 bins), and the
        // reference frame of the other sign (-phi0) with that head decodes to the same output vector.
        if (average) {
            const M one = pts.topRows(n).rowwise() - pts.topRows(n).colwise().mean();
            Mat<double> frames;
            std::vector<Mat<double>> desc;
            pca_correction_inputs(cfg, one, n, frames, desc);
            REQUIRE(desc.size() == 2);
            Tape<double> t(false);
            auto averaged = [&](const Mat<double>& d0, const Mat<double>& d1) {  // 1/2 (o(d0)[k] + o(d1)[k + K/2])
                const Mat<double> o0 = t.value(net.mlps[0].forward(t, t.constant(d0)));
                const Mat<double> o1 = t.value(net.mlps[0].forward(t, t.constant(d1)));
                Mat<double> out(1, 16);
                for (int k = 0; k < 8; ++k) {
                    out(0, k) = 0.5 * (o0(0, k) + o1(0, (k + 4) % 8));
                    out(0, 8 + k) = 0.5 * (o0(0, 8 + k) + o1(0, 8 + (k + 4) % 8));
                }
                return out;
            };
            const Mat<double> hx = averaged(desc[0], desc[1]), hm = averaged(desc[1], desc[0]);
            Tape<double> th(false);
            const AngleHead<double> h1 = net.angle_head(th, one, n);
            CHECK((th.value(h1.logits) - hx.leftCols(8)).cwiseAbs().maxCoeff() < 1e-14);
            CHECK((th.value(h1.residual) - hx.rightCols(8)).cwiseAbs().maxCoeff() < 1e-14);
            for (int k = 0; k < 8; ++k) {
                CHECK(std::abs(hm(0, k) - hx(0, (k + 4) % 8)) < 1e-14);
                CHECK(std::abs(hm(0, 8 + k) - hx(0, 8 + (k + 4) % 8)) < 1e-14);
            }
            AngleHead<double> flipped{th.constant(hm.leftCols(8)), th.constant(hm.rightCols(8)), -frames};
            const VecVar v1 = net.decode(th, h1), v2 = net.decode(th, flipped);
            CHECK(std::abs(th.value(v1.x)(0, 0) - th.value(v2.x)(0, 0)) < 1e-12);
            CHECK(std::abs(th.value(v1.y)(0, 0) - th.value(v2.y)(0, 0)) < 1e-12);
        }
    }
}

TEST_CASE("pca correction, angle bins: rotating the input rotates the frame exactly; permutations change nothing", "[canon][learned]") {
    Rng rng(42);
    for (bool average : {true, false})
        for (int bins : {36, 72}) {
            PcConfig cfg;
            cfg.grid = 6;
            cfg.hidden = 24;
            cfg.angle_bins = bins;
            cfg.average_signs = average;
            PcaCorrectionNet<float> net32(cfg, rng);
            PcaCorrectionNet<double> net64 = net32.cast<double>();
            double worst64 = 0, perm = 0;
            for (int trial = 0; trial < 8; ++trial) {
                const Points x = test_cloud(40, 2, rng);
                const Eigen::Matrix3d q = random_rotation(rng, 2);
                const Points gx = x * q.topLeftCorner(2, 2).transpose();
                const Eigen::Matrix3d R = test::network_frame(net64, x);
                CHECK((R.transpose() * R - Eigen::Matrix3d::Identity()).norm() < 1e-12);
                CHECK(R.determinant() == Approx(1.0).margin(1e-12));
                worst64 = std::max(worst64, (test::network_frame(net64, gx) - q * R).cwiseAbs().maxCoeff());
                const std::vector<std::int64_t> p = rng.permutation(x.rows());
                Points px(x.rows(), 2);
                for (Eigen::Index i = 0; i < x.rows(); ++i) px.row(i) = x.row(p[static_cast<std::size_t>(i)]);
                perm = std::max(perm, (test::network_frame(net64, px) - R).cwiseAbs().maxCoeff());
            }
            std::printf("pca correction angle bins %d equivariance (average_signs %d): float64 %.3g, permutation %.3g\n", bins,
                        int(average), worst64, perm);
            CHECK(worst64 < 1e-12);
            CHECK(perm < 1e-12);
        }
}

TEST_CASE("pca correction, angle bins: the prior falls, same bits for any thread count, model files", "[canon][learned]") {
    Rng rng(43);
    const Points tmpl = test_cloud(32, 2, rng);
    std::vector<Points> data = test::upright_copies(tmpl, 24, rng);
    std::vector<const Points*> clouds;
    for (auto& x : data) clouds.push_back(&x);
    PriorTrainOptions opt = tiny_prior_options(36);
    opt.val = 0.25;
    std::vector<PriorEpoch> hist;
    auto [a, b] = train_at_one_and_two_threads(clouds, opt, hist);
    std::printf("pca correction angle bins prior: loss %.4f -> %.4f, mean angle %.1f -> %.1f deg, validation %.4f -> %.4f\n",
                hist.front().loss, hist.back().loss, hist.front().angle_deg, hist.back().angle_deg, hist.front().val_loss,
                hist.back().val_loss);
    // From log 36 (uniform logits) down: the jittered clouds' bins stay uncertain between neighbours.
    CHECK(hist.back().loss < 0.5 * hist.front().loss);
    CHECK(hist.back().angle_deg < 10.0);
    CHECK(hist.back().val_loss < hist.front().val_loss);
    for (std::size_t i = 0; i < a.net().params().size(); ++i)
        CHECK((a.net().params()[i]->value - b.net().params()[i]->value).cwiseAbs().maxCoeff() == 0.0f);
    CHECK(a.training().at("history") == b.training().at("history"));
    const std::string path = "test_pca_correction_bins.h5";
    {
        h5::File f = h5::File::create(path);
        a.save(f);
    }
    LearnedCanonicalizer c = LearnedCanonicalizer::load(path);
    std::remove(path.c_str());
    CHECK(c.net().angle_bins() == 36);
    CHECK(c.net().architecture() == a.net().architecture());
    CHECK((c.frame(data[1]) - a.frame(data[1])).cwiseAbs().maxCoeff() == 0.0);
    // The canonical pose of an upright cloud is near upright.
    CHECK(std::abs(std::atan2(c.frame(data[2])(1, 0), c.frame(data[2])(0, 0))) < 0.2);
    opt.group = Group::SO3;
    CHECK_THROWS(train_canonicalization_prior(clouds, opt));
}
