// Gradient checks of every tape op against central finite differences (float64),
// plus layers, the optimizer and saving/loading.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "orbit/core/random.hpp"
#include "orbit/distributed/sharded_optimizer.hpp"
#include "orbit/nn/layers.hpp"
#include "orbit/nn/optim.hpp"
#include "orbit/nn/store.hpp"
#include "orbit/nn/tape.hpp"

#include "nn_fixtures.hpp"

using namespace orbit;
using namespace orbit::nn;
using test::random_mat;
using M = Mat<double>;
using Build = std::function<Var(Tape<double>&, std::vector<Var>&)>;

namespace {

// Largest |analytic - numeric| / max(1, |numeric|) over all inputs, for the
// scalar sum(out .* R) with a fixed random R.
double grad_error(std::vector<M> inputs, const Build& f, std::uint64_t seed = 7) {
    Rng rng(seed);
    std::vector<Param<double>> ps(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        ps[i].name = "p" + std::to_string(i);
        ps[i].value = inputs[i];
        ps[i].zero_grad();
    }
    auto eval = [&](bool rec, Tape<double>& tape) {
        std::vector<Var> vs;
        for (auto& p : ps) vs.push_back(tape.param(p));
        (void)rec;
        return f(tape, vs);
    };
    Tape<double> tape(true);
    Var out = eval(true, tape);
    M R = random_mat(int(tape.value(out).rows()), int(tape.value(out).cols()), rng);
    tape.backward(out, R);
    double worst = 0;
    const double h = 1e-6;
    for (auto& p : ps) {
        for (Eigen::Index i = 0; i < p.value.size(); ++i) {
            const double keep = p.value.data()[i];
            auto loss = [&] {
                Tape<double> t(false);
                return t.value(eval(false, t)).cwiseProduct(R).sum();
            };
            p.value.data()[i] = keep + h;
            const double up = loss();
            p.value.data()[i] = keep - h;
            const double dn = loss();
            p.value.data()[i] = keep;
            const double num = (up - dn) / (2 * h);
            worst = std::max(worst, std::abs(p.grad.data()[i] - num) / std::max(1.0, std::abs(num)));
        }
    }
    return worst;
}

}  // namespace

TEST_CASE("nn: gradients of elementwise and broadcasting ops", "[nn]") {
    Rng rng(1);
    M a = random_mat(5, 4, rng), b = random_mat(5, 4, rng), r = random_mat(1, 4, rng), c = random_mat(5, 1, rng);
    M pos = random_mat(5, 4, rng, 0.3, 2.0);
    CHECK(grad_error({a, b}, [](auto& t, auto& v) { return t.add(v[0], v[1]); }) < 1e-7);
    CHECK(grad_error({a, b}, [](auto& t, auto& v) { return t.sub(v[0], v[1]); }) < 1e-7);
    CHECK(grad_error({a, b}, [](auto& t, auto& v) { return t.mul(v[0], v[1]); }) < 1e-7);
    CHECK(grad_error({a, pos}, [](auto& t, auto& v) { return t.div(v[0], v[1]); }) < 1e-6);
    CHECK(grad_error({a, r}, [](auto& t, auto& v) { return t.add_row(v[0], v[1]); }) < 1e-7);
    CHECK(grad_error({a, r}, [](auto& t, auto& v) { return t.mul_row(v[0], v[1]); }) < 1e-7);
    CHECK(grad_error({a, c}, [](auto& t, auto& v) { return t.mul_col(v[0], v[1]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.scale(v[0], 1.7); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.add_scalar(v[0], -0.3); }) < 1e-7);
}

TEST_CASE("nn: gradients of activations and pointwise functions", "[nn]") {
    Rng rng(2);
    M a = random_mat(6, 3, rng, -3, 3), pos = random_mat(6, 3, rng, 0.2, 3);
    // keep relu inputs away from the kink
    for (Eigen::Index i = 0; i < a.size(); ++i)
        if (std::abs(a.data()[i]) < 0.05) a.data()[i] = 0.5;
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.relu(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.tanh(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.silu(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.sigmoid(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.softplus(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.exp(v[0]); }) < 1e-6);
    CHECK(grad_error({pos}, [](auto& t, auto& v) { return t.log(v[0]); }) < 1e-6);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.square(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.softclamp(v[0], 2.0); }) < 1e-7);
}

TEST_CASE("nn: gradients of row ops, reductions and column selection", "[nn]") {
    Rng rng(3);
    M a = random_mat(4, 5, rng);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.softmax_rows(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.cumsum_rows(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.sum_rows(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.sum(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.mean(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.cols(v[0], 1, 3); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.gather_cols(v[0], {4, 0, 0, 2}); }) < 1e-7);
    CHECK(grad_error({a, a}, [](auto& t, auto& v) { return t.concat_cols({v[1], v[0], v[1]}); }) < 1e-7);
    // a value used twice accumulates both gradients
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.mul(t.tanh(v[0]), t.exp(t.scale(v[0], 0.5))); }) < 1e-6);
}

TEST_CASE("nn: gradients of linear and matmul", "[nn]") {
    Rng rng(4);
    M x = random_mat(7, 3, rng), W = random_mat(5, 3, rng), b = random_mat(1, 5, rng), B2 = random_mat(3, 2, rng);
    CHECK(grad_error({x, W, b}, [](auto& t, auto& v) { return t.linear(v[0], v[1], v[2]); }) < 1e-7);
    CHECK(grad_error({x, B2}, [](auto& t, auto& v) { return t.matmul(v[0], v[1]); }) < 1e-7);
}

TEST_CASE("nn: spline gradients (values and log-determinants) against finite differences", "[nn][spline]") {
    Rng rng(5);
    const int K = 5, F = 3;
    M x = random_mat(8, F, rng, -2.4, 2.4);
    x(0, 0) = 3.5;  // in the tail: identity, zero log-det
    x(1, 1) = -4.0;
    M th = random_mat(8, F * (3 * K - 1), rng, -2, 2);
    auto fy = [K](auto& t, auto& v) { return t.rq_spline(v[0], v[1], K, 3.0).first; };
    auto fl = [K](auto& t, auto& v) { return t.rq_spline(v[0], v[1], K, 3.0).second; };
    auto both = [K](auto& t, auto& v) {
        auto [y, l] = t.rq_spline(v[0], v[1], K, 3.0);
        return t.concat_cols({y, l});
    };
    CHECK(grad_error({x, th}, fy) < 1e-6);
    CHECK(grad_error({x, th}, fl) < 1e-6);
    CHECK(grad_error({x, th}, both) < 1e-6);
}

TEST_CASE("nn: spline is monotone, the identity at zero logits, and its log-det matches dy/dx", "[nn][spline]") {
    Rng rng(6);
    const int K = 8;
    const double B = 3.0;
    Tape<double> t(false);
    M xs(401, 1);
    for (int i = 0; i < 401; ++i) xs(i, 0) = -4 + 8.0 * i / 400;
    M zero = M::Zero(401, 3 * K - 1);
    auto [y0, l0] = t.rq_spline(t.constant(xs), t.constant(zero), K, B);
    CHECK((t.value(y0) - xs).cwiseAbs().maxCoeff() < 1e-12);
    CHECK(t.value(l0).cwiseAbs().maxCoeff() < 1e-12);
    M th = random_mat(1, 3 * K - 1, rng, -3, 3).replicate(401, 1);
    auto [y, l] = t.rq_spline(t.constant(xs), t.constant(th), K, B);
    const M& Y = t.value(y);
    for (int i = 1; i < 401; ++i) CHECK(Y(i, 0) > Y(i - 1, 0));
    // numerical derivative of y against exp(log-det), away from the knots
    const double h = 1e-6;
    for (int i = 0; i < 401; i += 7) {
        M xp = xs.row(i), xm = xs.row(i);
        xp(0, 0) += h;
        xm(0, 0) -= h;
        Tape<double> t2(false);
        double yp = t2.value(t2.rq_spline(t2.constant(xp), t2.constant(th.topRows(1)), K, B).first)(0, 0);
        double ym = t2.value(t2.rq_spline(t2.constant(xm), t2.constant(th.topRows(1)), K, B).first)(0, 0);
        CHECK(std::log((yp - ym) / (2 * h)) == Approx(t.value(l)(i, 0)).margin(1e-5));
    }
}

TEST_CASE("nn: residual net forward-mode trace equals the Jacobian trace", "[nn]") {
    Rng rng(8);
    for (int blocks : {0, 2}) {
        ResidualNet<double> net("n", 4, 16, 4, blocks, Activation::silu, rng, 0.3);
        M x = random_mat(3, 4, rng);
        M tr;
        M out = net.forward_with_trace(x, {0, 1, 2}, tr);
        Tape<double> t(false);
        CHECK((net.forward(t, t.constant(x)) , (t.value(Var{int(t.size()) - 1}) - out).cwiseAbs().maxCoeff()) < 1e-12);
        const double h = 1e-6;
        for (int i = 0; i < 3; ++i) {
            double num = 0;
            for (int j = 0; j < 3; ++j) {
                M xp = x.row(i), xm = x.row(i);
                xp(0, j) += h;
                xm(0, j) -= h;
                M tp, tm;
                num += (net.forward_with_trace(xp, {}, tp)(0, j) - net.forward_with_trace(xm, {}, tm)(0, j)) / (2 * h);
            }
            CHECK(tr(i, 0) == Approx(num).margin(1e-6));
        }
    }
}

TEST_CASE("nn: residual net gradients and Adam fits a linear map", "[nn]") {
    Rng rng(9);
    ResidualNet<double> net("n", 3, 8, 2, 1, Activation::tanh, rng, 0.5);
    ParamList<double> ps = test::params_of(net);
    M x = random_mat(16, 3, rng);
    // gradient of a squared loss w.r.t. every parameter, against finite differences
    auto loss_of = [&](bool rec, Tape<double>& t) {
        Var o = net.forward(t, t.constant(x));
        (void)rec;
        return t.mean(t.square(o));
    };
    for (auto* p : ps) p->zero_grad();
    Tape<double> t(true);
    t.backward(loss_of(true, t));
    double worst = 0;
    for (auto* p : ps)
        for (Eigen::Index i = 0; i < p->value.size(); i += 3) {
            double keep = p->value.data()[i], h = 1e-6;
            p->value.data()[i] = keep + h;
            Tape<double> a(false);
            double up = a.value(loss_of(false, a))(0, 0);
            p->value.data()[i] = keep - h;
            Tape<double> b(false);
            double dn = b.value(loss_of(false, b))(0, 0);
            p->value.data()[i] = keep;
            worst = std::max(worst, std::abs(p->grad.data()[i] - (up - dn) / (2 * h)));
        }
    CHECK(worst < 1e-7);

    // Adam drives a linear regression to its solution
    Linear<double> lin("lin", 3, 1, rng);
    ParamList<double> lp;
    lin.params(lp);
    Adam<double> opt(lp, AdamOptions{0.05});
    M target(16, 1);
    target.col(0) = x * Eigen::Vector3d(1.0, -2.0, 0.5) + Eigen::VectorXd::Constant(16, 0.25);
    for (int s = 0; s < 800; ++s) {
        opt.zero_grad();
        Tape<double> tt(true);
        tt.backward(tt.mean(tt.square(tt.sub(lin.forward(tt, tt.constant(x)), tt.constant(target)))));
        clip_grad_norm(lp, 10.0);
        opt.step(cosine_lr(0.05, 0.0, s, 800));
    }
    CHECK(lin.W.value(0, 0) == Approx(1.0).margin(1e-3));
    CHECK(lin.W.value(0, 1) == Approx(-2.0).margin(1e-3));
    CHECK(lin.b.value(0, 0) == Approx(0.25).margin(1e-3));
}

TEST_CASE("nn: schedules, clipping and early stopping", "[nn]") {
    CHECK(cosine_lr(1.0, 0.0, 0, 100) == Approx(1.0));
    CHECK(cosine_lr(1.0, 0.0, 50, 100) == Approx(0.5));
    CHECK(cosine_lr(1.0, 0.1, 100, 100) == Approx(0.1));
    Param<double> p;
    p.value = M::Zero(1, 2);
    p.grad = M(1, 2);
    p.grad << 3, 4;
    CHECK(clip_grad_norm<double>({&p}, 1.0) == Approx(5.0));
    CHECK(p.grad.norm() == Approx(1.0).margin(1e-5));
    EarlyStopping es{2};
    CHECK(es.improved(1.0));
    CHECK(!es.improved(1.5));
    CHECK(!es.stop());
    CHECK(!es.improved(1.2));
    CHECK(es.stop());
}

TEST_CASE("nn: the blocked gradient norm against a plain double-precision one, and the sliced Adam step", "[nn]") {
    // Parameters of awkward sizes, so that norm blocks and slices cut them.
    Rng rng(21);
    std::vector<Param<float>> store(5);
    const int rows[] = {3, 130, 1, 77, 40}, cols[] = {7, 3, 1, 5, 13};
    ParamList<float> ps;
    for (std::size_t i = 0; i < store.size(); ++i) {
        store[i].value = random_mat(rows[i], cols[i], rng).cast<float>();
        store[i].grad = (random_mat(rows[i], cols[i], rng) * 3.0).cast<float>();
        store[i].grad(0, 0) = float(1e4 * double(i + 1));  // a wide range of magnitudes
        ps.push_back(&store[i]);
    }
    double plain = 0;
    std::int64_t width = 0;
    for (auto* p : ps)
        for (Eigen::Index k = 0; k < p->grad.size(); ++k, ++width) plain += double(p->grad.data()[k]) * double(p->grad.data()[k]);
    plain = std::sqrt(plain);
    REQUIRE(width > 4 * distributed::kNormBlock);
    const double blocked = distributed::blocked_grad_norm(ps);
    CHECK(std::abs(blocked - plain) <= 1e-12 * plain);
    // Known values: 3-4-5 in one parameter, and zero.
    Param<float> q;
    q.value = Mat<float>::Zero(1, 2);
    q.grad = Mat<float>(1, 2);
    q.grad << 3, 4;
    CHECK(distributed::blocked_grad_norm<Param<float>>({&q}) == 5.0);
    q.grad.setZero();
    CHECK(distributed::blocked_grad_norm<Param<float>>({&q}) == 0.0);

    // The same flat gradient in other parameter shapes: the same bits.
    std::vector<Param<float>> other(2);
    other[0].value = Mat<float>::Zero(1, 1000), other[1].value = Mat<float>::Zero(width - 1000, 1);
    other[0].grad.resize(1, 1000), other[1].grad.resize(width - 1000, 1);
    std::int64_t at = 0;
    for (auto* p : ps)
        for (Eigen::Index k = 0; k < p->grad.size(); ++k, ++at)
            (at < 1000 ? other[0].grad.data()[at] : other[1].grad.data()[at - 1000]) = p->grad.data()[k];
    CHECK(distributed::blocked_grad_norm<Param<float>>({&other[0], &other[1]}) == blocked);

    // Block sums over slices that start at block boundaries are the blocks of the whole.
    const distributed::FlatParams<Param<float>> flat(ps);
    std::vector<double> whole(std::size_t(distributed::norm_blocks(width))), parts(whole.size());
    distributed::block_squares(flat, 0, width, whole.data());
    const std::int64_t cut = 2 * distributed::kNormBlock;
    distributed::block_squares(flat, 0, cut, parts.data());
    distributed::block_squares(flat, cut, width, parts.data() + 2);
    CHECK(whole == parts);
    // Each block's sum is that of its own flat elements (the last block short).
    std::vector<double> ref(whole.size(), 0.0);
    at = 0;
    for (auto* p : ps)
        for (Eigen::Index k = 0; k < p->grad.size(); ++k, ++at)
            ref[std::size_t(at / distributed::kNormBlock)] += double(p->grad.data()[k]) * double(p->grad.data()[k]);
    for (std::size_t b = 0; b < ref.size(); ++b) CHECK(std::abs(whole[b] - ref[b]) <= 1e-12 * ref[b]);

    // Adam over disjoint slices with the same lr (steps counted once per slice
    // call, so each slice gets its own optimizer here) equals one full step.
    std::vector<Param<float>> a(store), b(store);
    ParamList<float> pa, pb;
    for (std::size_t i = 0; i < a.size(); ++i) pa.push_back(&a[i]), pb.push_back(&b[i]);
    Adam<float> full(pa, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.1}), left(pb, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.1}),
        right(pb, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.1});
    for (int s = 0; s < 3; ++s) {
        full.step(0.01);
        left.step(0.01, 0, 1001);  // mid-parameter cuts
        right.step(0.01, 1001, width);
    }
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].value == b[i].value);
    CHECK(a[0].value != store[0].value);
}

TEST_CASE("nn: parameters round-trip through HDF5 and shape mismatches are errors", "[nn]") {
    Rng rng(10);
    ResidualNet<float> a("n", 3, 8, 2, 1, Activation::relu, rng, 0.5), b("n", 3, 8, 2, 1, Activation::relu, rng, 0.5),
        c("n", 3, 9, 2, 1, Activation::relu, rng, 0.5);
    ParamList<float> pa, pb, pc;
    a.params(pa);
    b.params(pb);
    c.params(pc);
    auto f = h5::File::create_in_memory("mem.h5");
    save_params(f, "/model/weights", pa);
    load_params(f, "/model/weights", pb);
    for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i]->value == pb[i]->value);
    CHECK_THROWS_AS(load_params(f, "/model/weights", pc), Error);
    CHECK_THROWS_AS(load_params(f, "/nothing", pb), Error);
}

TEST_CASE("nn: LU composition gradient", "[nn]") {
    Rng rng(11);
    M Lp = random_mat(4, 4, rng), Up = random_mat(4, 4, rng), du = random_mat(1, 4, rng, 0.5, 2);
    CHECK(grad_error({Lp, Up, du}, [](auto& t, auto& v) { return t.lu_compose(v[0], v[1], v[2]); }) < 1e-7);
    Tape<double> t(false);
    const M& W = t.value(t.lu_compose(t.constant(Lp), t.constant(Up), t.constant(du)));
    CHECK(W.determinant() == Approx(du.prod()));
}

TEST_CASE("nn: the blocked spline kernel gives each row what it gives that row alone", "[nn][spline]") {
    // 300 rows x 2 columns = 600 splines: more than two blocks of the kernel, with tails and NaN
    Rng rng(12);
    const int K = 8, F = 2;
    M x = random_mat(300, F, rng, -3.5, 3.5);
    x(17, 1) = std::nan("");
    M th = random_mat(300, F * (3 * K - 1), rng, -4, 4);
    Tape<double> t(false);
    auto [y, l] = t.rq_spline(t.constant(x), t.constant(th), K, 3.0);
    auto [xb, lb] = t.rq_spline(t.constant(t.value(y)), t.constant(th), K, 3.0, true);
    double worst = 0, worst_back = 0;
    for (int i = 0; i < 300; ++i) {
        Tape<double> r(false);
        auto [yi, li] = r.rq_spline(r.constant(x.row(i)), r.constant(th.row(i)), K, 3.0);
        for (int f = 0; f < F; ++f) {
            if (std::isnan(x(i, f))) {
                CHECK(std::isnan(t.value(y)(i, f)));
                continue;
            }
            worst = std::max(worst, std::abs(r.value(yi)(0, f) - t.value(y)(i, f)));
            worst_back = std::max(worst_back, std::abs(t.value(xb)(i, f) - x(i, f)));
        }
        if (i != 17) {
            worst = std::max(worst, std::abs(r.value(li)(0, 0) - t.value(l)(i, 0)));
            worst_back = std::max(worst_back, std::abs(t.value(lb)(i, 0) + t.value(l)(i, 0)));
        }
    }
    CHECK(worst == 0.0);
    CHECK(worst_back < 1e-9);
}

TEST_CASE("nn: gradients of a batch in shards add up to the batch's gradient", "[nn]") {
    Rng rng(13);
    ResidualNet<double> net("n", 3, 16, 4, 2, Activation::relu, rng, 0.5);
    ParamList<double> ps = test::params_of(net);
    M x = random_mat(40, 3, rng);
    auto loss = [&](Tape<double>& t, const M& rows) { return t.scale(t.sum(t.square(net.forward(t, t.constant(rows)))), 0.025); };
    for (auto* p : ps) p->zero_grad();
    Tape<double> whole(true);
    whole.backward(loss(whole, x));
    std::vector<M> ref;
    for (auto* p : ps) ref.push_back(p->grad);
    for (auto* p : ps) p->zero_grad();
    Tape<double> a(true), b(true);
    a.backward_detached(loss(a, x.topRows(25)));
    b.backward_detached(loss(b, x.bottomRows(15)));
    for (auto* p : ps) CHECK(p->grad.cwiseAbs().maxCoeff() == 0.0);  // detached: nothing added yet
    a.add_param_grads();
    b.add_param_grads();
    for (std::size_t i = 0; i < ps.size(); ++i) CHECK((ps[i]->grad - ref[i]).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("nn: residual net inference without a tape equals the tape's forward", "[nn]") {
    Rng rng(14);
    for (auto act : {Activation::relu, Activation::tanh, Activation::silu})
        for (int blocks : {0, 1, 3}) {
            ResidualNet<double> net("n", 5, 12, 7, blocks, act, rng, 0.4);
            M x = random_mat(33, 5, rng);
            Tape<double> t(false);
            const M ref = t.value(net.forward(t, t.constant(x)));
            CHECK((net.infer(x) - ref).cwiseAbs().maxCoeff() < 1e-12);
        }
}
