// Point-cloud layers, differentiable Sinkhorn and Kabsch: every backward
// against central finite differences (float64), forward values against
// independent references (naive loops, brute-force kNN, orbit's Sinkhorn
// solver, geometry's Kabsch), batch size 1, and bits that do not depend on
// the thread count.
#include <Eigen/Dense>
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>

#include "orbit/core/parallel.hpp"
#include "orbit/core/random.hpp"
#include "orbit/geometry/kabsch.hpp"
#include "orbit/nn/differentiable_kabsch.hpp"
#include "orbit/nn/differentiable_sinkhorn.hpp"
#include "orbit/nn/pointcloud.hpp"
#include "orbit/ot/sinkhorn.hpp"

#include "nn_fixtures.hpp"

using namespace orbit;
using namespace orbit::nn;
using test::random_mat;
using test::grad_error_params;
using M = Mat<double>;
using Build = std::function<Var(Tape<double>&, std::vector<Var>&)>;

namespace {


// The same for plain input tensors: each becomes a parameter leaf.
double grad_error(std::vector<M> inputs, const Build& f, std::uint64_t seed = 7) {
    std::vector<Param<double>> ps(inputs.size());
    ParamList<double> list;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        ps[i].name = "p" + std::to_string(i);
        ps[i].value = inputs[i];
        list.push_back(&ps[i]);
    }
    return grad_error_params(list, [&](Tape<double>& t) {
        std::vector<Var> vs;
        for (auto& p : ps) vs.push_back(t.param(p));
        return f(t, vs);
    }, seed);
}

// Brute-force kNN by (distance, index) with the point itself first.
std::vector<int> brute_knn(const M& p, int n, int k, bool self) {
    std::vector<int> g;
    for (Eigen::Index i = 0; i < p.rows(); ++i) {
        const int base = int(i / n) * n;
        std::vector<std::pair<double, int>> c;
        for (int j = base; j < base + n; ++j)
            if (j != i) c.emplace_back((p.row(i) - p.row(j)).squaredNorm(), j);
        std::sort(c.begin(), c.end());
        if (self) g.push_back(int(i));
        for (int j = 0; j < (self ? k - 1 : k); ++j) g.push_back(c[j].second);
    }
    return g;
}

double lrelu(double x, double s) { return x > 0 ? x : s * x; }

}  // namespace

// ---------------------------------------------------------------------------
// tape ops

TEST_CASE("nn pointcloud: gradients of the row, gather and segment ops", "[nn][pointcloud]") {
    Rng rng(11);
    M a = random_mat(6, 4, rng), b = random_mat(6, 3, rng), c = random_mat(2, 4, rng);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.rows(v[0], 2, 3); }) < 1e-7);
    CHECK(grad_error({a, c}, [](auto& t, auto& v) { return t.concat_rows({v[0], v[1], v[0]}); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.transpose(v[0]); }) < 1e-7);
    const std::vector<int> idx{5, 0, 0, 3, 5, 5, 1, 2};
    CHECK(grad_error({a}, [&](auto& t, auto& v) { return t.gather_rows(v[0], idx); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.repeat_rows(v[0], 3); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.segment_max(v[0], 3); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.segment_sum(v[0], 2); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.segment_mean(v[0], 3); }) < 1e-7);
    CHECK(grad_error({a, b}, [](auto& t, auto& v) { return t.segment_matmul_tn(v[0], v[1], 3); }) < 1e-7);
    CHECK(grad_error({a, c}, [](auto& t, auto& v) { return t.pairwise_sqdist(v[0], v[1]); }) < 1e-7);
    // forward values
    Tape<double> t(false);
    Var av = t.constant(a), bv = t.constant(b), cv = t.constant(c);
    CHECK(t.value(t.segment_matmul_tn(av, bv, 3)).bottomRows(4).isApprox(a.bottomRows(3).transpose() * b.bottomRows(3)));
    const M d = t.value(t.pairwise_sqdist(av, cv));
    CHECK(std::abs(d(4, 1) - (a.row(4) - c.row(1)).squaredNorm()) < 1e-14);
    const M sm = t.value(t.segment_max(av, 3));
    CHECK(sm(1, 2) == a.bottomRows(3).col(2).maxCoeff());
    CHECK_THROWS(t.segment_max(av, 4));
    CHECK_THROWS(t.gather_rows(av, {6}));
}

TEST_CASE("nn pointcloud: gradients of the new pointwise and row functions", "[nn][pointcloud]") {
    Rng rng(12);
    M a = random_mat(5, 4, rng, -3, 3), pos = random_mat(5, 4, rng, 0.2, 3);
    for (Eigen::Index i = 0; i < a.size(); ++i)
        if (std::abs(a.data()[i]) < 0.05) a.data()[i] = 0.5;  // away from the kink
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.leaky_relu(v[0], 0.2); }) < 1e-7);
    CHECK(grad_error({pos}, [](auto& t, auto& v) { return t.sqrt(v[0]); }) < 1e-6);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.logsumexp_rows(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.logsumexp_cols(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.log_softmax_rows(v[0]); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.row_norm(v[0], 1e-3); }) < 1e-7);
    CHECK(grad_error({a}, [](auto& t, auto& v) { return t.normalize_rows(v[0], 1e-3); }) < 1e-7);
    Tape<double> t(false);
    Var av = t.constant(a);
    // against the direct formulas (large entries to exercise the stabilization)
    M big = a * 200;
    Var bv = t.constant(big);
    const M lr = t.value(t.logsumexp_rows(bv)), lc = t.value(t.logsumexp_cols(bv));
    const double mx = big.row(2).maxCoeff();
    CHECK(std::abs(lr(2, 0) - (mx + std::log((big.row(2).array() - mx).exp().sum()))) < 1e-12);
    const double my = big.col(1).maxCoeff();
    CHECK(std::abs(lc(0, 1) - (my + std::log((big.col(1).array() - my).exp().sum()))) < 1e-12);
    const M ls = t.value(t.log_softmax_rows(av)), sm = t.value(t.softmax_rows(av));
    CHECK((ls.array().exp().matrix() - sm).cwiseAbs().maxCoeff() < 1e-15);
    const M lk = t.value(t.leaky_relu(av, 0.1));
    CHECK(lk(0, 0) == lrelu(a(0, 0), 0.1));
}

TEST_CASE("nn pointcloud: segment max sends the gradient to the first maximum", "[nn][pointcloud]") {
    Param<double> p;
    p.value = M(4, 2);
    p.value << 1, 5, 3, 5, 3, 2, 0, 5;  // column 0: max 3 at rows 1 and 2; column 1: 5 at rows 0, 1, 3
    p.zero_grad();
    Tape<double> t;
    Var y = t.segment_max(t.param(p), 4);
    t.backward(t.sum(y));
    M want(4, 2);
    want << 0, 1, 1, 0, 0, 0, 0, 0;
    CHECK(p.grad == want);
}

TEST_CASE("nn pointcloud: custom nodes pass gradients on and skip unused inputs", "[nn][pointcloud]") {
    Param<double> p;
    p.value = M::Constant(2, 2, 3.0);
    p.zero_grad();
    Tape<double> t;
    Var x = t.param(p), c = t.constant(M::Ones(2, 2));
    CHECK(t.needs_grad(x));
    CHECK_FALSE(t.needs_grad(c));
    Var y = t.custom(M(t.value(x) * 2), {x, c}, [&](const M& g) {
        t.add_grad(x, M(2 * g));
        t.add_grad(c, g);  // ignored: a constant
    });
    t.backward(t.sum(y));
    CHECK(p.grad == M::Constant(2, 2, 2.0));
    Tape<double> inf(false);
    CHECK_FALSE(inf.needs_grad(inf.param(p)));
}

// ---------------------------------------------------------------------------
// kNN graphs

TEST_CASE("nn pointcloud: kNN graphs equal brute force, ties broken by index", "[nn][pointcloud][knn]") {
    Rng rng(21);
    const int n = 40;
    M p = random_mat(3 * n, 3, rng);
    for (bool self : {true, false}) {
        CHECK(knn_graph(p, n, 7, self) == brute_knn(p, n, 7, self));
        CHECK(knn_graph_features(p, n, 7, self) == brute_knn(p, n, 7, self));
    }
    M f = random_mat(2 * n, 9, rng);
    CHECK(knn_graph_features(f, n, 5) == brute_knn(f, n, 5, true));
    // an integer grid: many equal distances, exact in floating point
    M g(27 * 2, 3);
    int r = 0;
    for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
                for (int l = 0; l < 3; ++l) g.row(r++) << i, j, l;
    for (int k : {1, 2, 5, 8, 12}) {
        CHECK(knn_graph(g, 27, k) == brute_knn(g, 27, k, true));
        CHECK(knn_graph_features(g, 27, k) == brute_knn(g, 27, k, true));
    }
    // duplicates: the point itself comes first, then its copies by index
    M dup = M::Zero(6, 3);
    dup.row(5) << 1, 0, 0;
    CHECK(knn_graph(dup, 6, 3) == brute_knn(dup, 6, 3, true));
    CHECK(knn_graph(Mat<float>(p.cast<float>()), n, 7) == knn_graph(p, n, 7));
    CHECK_THROWS(knn_graph(p, n, n + 1));
    CHECK_THROWS(knn_graph(p, n, n, false));
    CHECK_THROWS(knn_graph(p, 7, 3));  // 120 rows are not clouds of 7
}

// ---------------------------------------------------------------------------
// layers

TEST_CASE("nn pointcloud: EdgeConv equals a naive loop over edges", "[nn][pointcloud][edgeconv]") {
    Rng rng(31);
    const int n = 15, k = 5, B = 2, F = 3;
    M x = random_mat(B * n, F, rng);
    const auto graph = knn_graph(x, n, k);
    for (EdgeFeature ef : {EdgeFeature::dgcnn, EdgeFeature::offset, EdgeFeature::distance,
                           EdgeFeature::distance_and_feature, EdgeFeature::local_shape}) {
        for (bool hidden : {false, true}) {
            EdgeConvOptions o;
            o.out = 6;
            o.features = ef;
            if (hidden) o.hidden = {4};
            EdgeConv<double> ec("ec", F, o, rng);
            Tape<double> t(false);
            const M y = t.value(ec.forward(t, t.constant(x), graph, k, n));
            M want(B * n, o.out);
            for (int i = 0; i < B * n; ++i) {
                Eigen::RowVectorXd best = Eigen::RowVectorXd::Constant(o.out, -INFINITY);
                for (int j = 0; j < k; ++j) {
                    const Eigen::RowVectorXd xi = x.row(i), d = x.row(graph[i * k + j]) - xi;
                    Eigen::RowVectorXd e;
                    switch (ef) {
                        case EdgeFeature::dgcnn: e.resize(2 * F); e << xi, d; break;
                        case EdgeFeature::offset: e = d; break;
                        case EdgeFeature::distance: e.resize(1); e << std::sqrt(d.squaredNorm() + 1e-12); break;
                        case EdgeFeature::local_shape: {
                            Eigen::RowVectorXd c = Eigen::RowVectorXd::Zero(F);
                            for (int l = 0; l < k; ++l) c += x.row(graph[i * k + l]);
                            c /= k;
                            const Eigen::RowVectorXd toc = c - xi;
                            const double dn = std::sqrt(d.squaredNorm() + 1e-12), cn = std::sqrt(toc.squaredNorm() + 1e-12);
                            e.resize(4);
                            e << dn, std::sqrt((x.row(graph[i * k + j]) - c).squaredNorm() + 1e-12), cn, d.dot(toc) / (dn * cn);
                            break;
                        }
                        default: e.resize(F + 1); e << xi, std::sqrt(d.squaredNorm() + 1e-12); break;
                    }
                    for (std::size_t l = 0; l < ec.fc.size(); ++l) {
                        Eigen::RowVectorXd z = e * ec.fc[l].W.value.transpose() + ec.fc[l].b.value;
                        if (l + 1 < ec.fc.size()) z = z.unaryExpr([](double v) { return lrelu(v, 0.2); });
                        e = z;
                    }
                    best = best.cwiseMax(e);
                }
                want.row(i) = best.unaryExpr([](double v) { return lrelu(v, 0.2); });
            }
            CHECK((y - want).cwiseAbs().maxCoeff() < 1e-12);
        }
    }
}

TEST_CASE("nn pointcloud: GroupNorm normalizes each cloud alone and its gradients are right", "[nn][pointcloud]") {
    Rng rng(41);
    const int n = 7, C = 6;
    M x = random_mat(3 * n, C, rng, -2, 4);
    for (int groups : {1, 2, 6}) {
        GroupNorm<double> gn("gn", C, groups);
        Tape<double> t(false);
        const M y = t.value(gn.forward(t, t.constant(x), n));
        const int cg = C / groups;
        const M blk = y.block(n, groups > 1 ? cg : 0, n, cg);  // cloud 1, group 1 (or 0 when groups == 1)
        CHECK(std::abs(blk.mean()) < 1e-12);
        CHECK(std::abs((blk.array() - blk.mean()).square().mean() - 1.0) < 1e-4);
        // cloud 2 alone gives the same rows (the statistics are per cloud)
        Tape<double> t1(false);
        const M y1 = t1.value(gn.forward(t1, t1.constant(M(x.bottomRows(n))), n));
        CHECK((y1 - y.bottomRows(n)).cwiseAbs().maxCoeff() < 1e-14);
        // random affine so gamma/beta gradients are not trivial
        gn.gamma.value = random_mat(1, C, rng);
        gn.beta.value = random_mat(1, C, rng);
        Param<double> xp{"x", x, M()};
        ParamList<double> ps{&xp};
        gn.params(ps);
        CHECK(grad_error_params(ps, [&](Tape<double>& tt) { return gn.forward(tt, tt.param(xp), n); }) < 1e-6);
    }
    CHECK_THROWS(GroupNorm<double>("bad", 6, 4));
}

TEST_CASE("nn pointcloud: EdgeConv, PointMLP and DGCNN gradients against finite differences", "[nn][pointcloud]") {
    Rng rng(51);
    const int n = 10, k = 4;
    for (int B : {1, 2}) {
        M x = random_mat(B * n, 3, rng);
        Param<double> xp{"x", x, M()};
        const auto graph = knn_graph(x, n, k);
        for (EdgeFeature ef : {EdgeFeature::dgcnn, EdgeFeature::offset, EdgeFeature::distance,
                               EdgeFeature::distance_and_feature, EdgeFeature::local_shape}) {
            EdgeConvOptions o;
            o.out = 4;
            o.features = ef;
            o.norm_groups = 2;
            EdgeConv<double> ec("ec", 3, o, rng);
            ParamList<double> ps{&xp};
            ec.params(ps);
            CHECK(grad_error_params(ps, [&](Tape<double>& t) { return ec.forward(t, t.param(xp), graph, k, n); }) <
                  1e-6);
        }
        {  // a per-edge hidden layer and a custom edge builder
            EdgeConvOptions o;
            o.out = 3;
            o.hidden = {5};
            o.features = EdgeFeature::custom;
            o.custom_width = 4;
            EdgeConv<double> ec("ec", 3, o, rng, [](Tape<double>& t, Var x, const std::vector<int>& g, int kk) {
                Var d = t.sub(t.gather_rows(x, g), t.repeat_rows(x, kk));
                return t.concat_cols({d, t.row_norm(d, 1e-12)});
            });
            ParamList<double> ps{&xp};
            ec.params(ps);
            CHECK(grad_error_params(ps, [&](Tape<double>& t) { return ec.forward(t, t.param(xp), graph, k, n); }) <
                  1e-6);
        }
        {
            PointMLPOptions po;
            po.widths = {6, 4, 2};
            po.norm_groups = 2;
            PointMLP<double> mlp("mlp", 3, po, rng);
            ParamList<double> ps{&xp};
            mlp.params(ps);
            CHECK(grad_error_params(ps, [&](Tape<double>& t) { return mlp.forward(t, t.param(xp), n); }) < 1e-6);
        }
        {
            DGCNNOptions dopt;
            dopt.widths = {6, 4};
            dopt.k = k;
            dopt.norm_groups = 2;
            dopt.head_widths = {4, 3};
            DGCNN<double> net("net", 3, dopt, rng);
            ParamList<double> ps{&xp};
            net.params(ps);
            CHECK(grad_error_params(ps, [&](Tape<double>& t) {
                      Var f = net.forward(t, t.param(xp), n);
                      // softmax over components and pooling, as a model would use them
                      return t.concat_rows({t.softmax_rows(f), global_max_pool(t, f, n), global_mean_pool(t, f, n)});
                  }) < 1e-6);
            CHECK(net.out() == 3);
            CHECK(net.infer(x, n) == [&] {
                Tape<double> t(false);
                return M(t.value(net.forward(t, t.constant(x), n)));
            }());
        }
    }
}

TEST_CASE("nn pointcloud: pose-invariant first layers make DGCNN invariant to rotation and translation",
          "[nn][pointcloud]") {
    Rng rng(55);
    const int n = 60;
    M x = random_mat(2 * n, 3, rng);
    const Eigen::Matrix3d R = Eigen::AngleAxisd(2.0, Eigen::Vector3d(1, -2, 0.5).normalized()).toRotationMatrix();
    const M moved = (x * R.transpose()).rowwise() + Eigen::RowVector3d(3.0, -1.0, 2.0);
    for (EdgeFeature ef : {EdgeFeature::distance, EdgeFeature::local_shape, EdgeFeature::dgcnn}) {
        DGCNNOptions o;
        o.widths = {8, 8};
        o.k = 6;
        o.first_features = ef;
        o.head_widths = {5};
        DGCNN<double> net("net", 3, o, rng);
        const double diff = (net.infer(x, n) - net.infer(moved, n)).cwiseAbs().maxCoeff();
        if (ef == EdgeFeature::dgcnn) CHECK(diff > 1e-3);  // raw coordinates: not invariant
        else CHECK(diff < 1e-9);
    }
}

TEST_CASE("nn pointcloud: pooling helpers", "[nn][pointcloud]") {
    Rng rng(61);
    const int n = 8, k = 3;
    M x = random_mat(2 * n, 4, rng);
    const auto graph = knn_graph(x, n, k);
    Tape<double> t(false);
    Var xv = t.constant(x);
    const M nm = t.value(neighborhood_max_pool(t, xv, graph, k));
    const M nmean = t.value(neighborhood_mean_pool(t, xv, graph, k));
    const M gm = t.value(global_max_pool(t, xv, n));
    const M bc = t.value(broadcast_to_points(t, t.constant(gm), n));
    for (int i = 0; i < 2 * n; ++i) {
        Eigen::RowVectorXd mx = x.row(graph[i * k]), sum = x.row(graph[i * k]);
        for (int j = 1; j < k; ++j) {
            mx = mx.cwiseMax(x.row(graph[i * k + j]));
            sum += x.row(graph[i * k + j]);
        }
        CHECK(nm.row(i) == mx);
        CHECK((nmean.row(i) - sum / k).cwiseAbs().maxCoeff() < 1e-15);
        CHECK(bc.row(i) == gm.row(i / n));
    }
    CHECK(gm.row(1) == x.bottomRows(n).colwise().maxCoeff());
    CHECK(grad_error({x}, [&](auto& tt, auto& v) { return neighborhood_max_pool(tt, v[0], graph, k); }) < 1e-7);
    CHECK(grad_error({x}, [&](auto& tt, auto& v) { return neighborhood_mean_pool(tt, v[0], graph, k); }) < 1e-7);
}

TEST_CASE("nn pointcloud: DGCNN forward and backward give the same bits for 1 and 3 threads", "[nn][pointcloud]") {
    Rng rng(71);
    // large enough that both graph builders take their parallel paths
    const int n = 600, B = 4;
    Mat<float> x = random_mat(B * n, 3, rng).cast<float>();
    DGCNNOptions dopt;
    dopt.widths = {32, 32, 32};
    dopt.k = 16;
    dopt.head_widths = {16};
    DGCNN<float> net("net", 3, dopt, rng);
    auto run = [&](int threads) {
        set_threads(threads);
        ParamList<float> ps;
        net.params(ps);
        for (auto* p : ps) p->zero_grad();
        Tape<float> t;
        Var f = net.forward(t, t.constant(x), n);
        t.backward(t.sum(t.square(f)));
        std::vector<float> all(t.value(f).data(), t.value(f).data() + t.value(f).size());
        for (auto* p : ps) all.insert(all.end(), p->grad.data(), p->grad.data() + p->grad.size());
        return all;
    };
    const auto one = run(1), three = run(3);
    set_threads(0);
    CHECK(one == three);
}

// ---------------------------------------------------------------------------
// differentiable Sinkhorn

TEST_CASE("nn sinkhorn: the plan equals orbit's Sinkhorn solver", "[nn][sinkhorn]") {
    Rng rng(81);
    const int n = 6, m = 9;
    M C = random_mat(n, m, rng, 0, 1);
    Eigen::VectorXd a = random_mat(n, 1, rng, 0.2, 1).col(0), b = random_mat(m, 1, rng, 0.2, 1).col(0);
    a /= a.sum();
    b /= b.sum();
    ot::SinkhornOptions so;
    so.eps = 0.1;
    so.tol = 1e-14;
    so.max_iter = 100000;
    so.overrelax = 1;
    so.plan = ot::PlanKind::Dense;
    const auto ref = ot::sinkhorn(Matrix(C), a, b, so);
    REQUIRE(ref.plan.has_value());
    SinkhornLayerOptions lo;
    lo.eps = 0.1;
    lo.iterations = 3000;
    // log marginals computed once: a row and a column of the same values
    M la(n, 1), lb(m, 1);
    for (int i = 0; i < n; ++i) la(i, 0) = std::log(a[i]);
    for (int j = 0; j < m; ++j) lb(j, 0) = std::log(b[j]);
    const M lp = log_sinkhorn_values(C, M(la.transpose()), lb, lo);
    CHECK((lp.array().exp().matrix() - *ref.plan).cwiseAbs().maxCoeff() < 1e-10);
    // after any number of iterations the column marginals are exactly b
    lo.iterations = 3;
    const M p3 = log_sinkhorn_values(C, la, lb, lo).array().exp();
    CHECK((p3.colwise().sum().transpose() - b).cwiseAbs().maxCoeff() < 1e-14);
    // the tape's forward (float and double) matches
    Tape<double> t(false);
    lo.iterations = 3000;
    const M lpt = t.value(log_sinkhorn(t, t.constant(C), t.constant(la), t.constant(M(lb.transpose())), lo));
    CHECK(lpt == lp);
    Tape<float> tf(false);
    const Mat<float> pf = tf.value(sinkhorn_plan(tf, tf.constant(C.cast<float>()),
                                                 tf.constant(Mat<float>(la.cast<float>())),
                                                 tf.constant(Mat<float>(lb.cast<float>())), lo));
    CHECK((pf.cast<double>() - *ref.plan).cwiseAbs().maxCoeff() < 1e-6);
    CHECK_THROWS(log_sinkhorn_values(C, lb, lb, lo));
}

TEST_CASE("nn sinkhorn: gradients to the cost and both log-marginals", "[nn][sinkhorn]") {
    Rng rng(82);
    for (int iters : {1, 4, 25}) {
        const int n = 5, m = 4;
        M C = random_mat(n, m, rng, 0, 1);
        M la = random_mat(1, n, rng, 0.2, 1), lb = random_mat(m, 1, rng, 0.2, 1);
        la = (la / la.sum()).array().log().matrix();
        lb = (lb / lb.sum()).array().log().matrix();
        SinkhornLayerOptions o;
        o.eps = 0.2;
        o.iterations = iters;
        CHECK(grad_error({C, la, lb}, [&](auto& t, auto& v) { return log_sinkhorn(t, v[0], v[1], v[2], o); }) < 1e-6);
        CHECK(grad_error({C, la, lb}, [&](auto& t, auto& v) { return sinkhorn_plan(t, v[0], v[1], v[2], o); }) < 1e-6);
    }
    // with a slack row and column appended on the tape, K = 4 components each side
    const int K = 4;
    M C = random_mat(K, K, rng, 0, 2), pa = random_mat(1, K, rng, 0.5, 1), pb = random_mat(1, K, rng, 0.5, 1);
    SinkhornLayerOptions o;
    o.eps = 0.1;
    o.iterations = 30;
    CHECK(grad_error({C, pa, pb}, [&](auto& t, auto& v) {
              // marginals: mixing weights scaled to 0.8 plus a slack mass of 0.2, slack cost 1
              auto marg = [&](Var p) {
                  Var total = t.gather_cols(t.sum(p), std::vector<int>(K, 0));  // [1,K]
                  Var logw = t.log(t.scale(t.div(p, total), 0.8));
                  return t.concat_cols({logw, t.constant(M::Constant(1, 1, std::log(0.2)))});
              };
              Var Cs = t.concat_rows({t.concat_cols({v[0], t.constant(M::Ones(K, 1))}), t.constant(M::Ones(1, K + 1))});
              return sinkhorn_plan(t, Cs, marg(v[1]), marg(v[2]), o);
          }) < 1e-6);
}

// ---------------------------------------------------------------------------
// differentiable Kabsch

TEST_CASE("nn kabsch: R and t equal geometry's Kabsch, gradients to x, y and w", "[nn][kabsch]") {
    Rng rng(91);
    const int Mn = 12;
    M x = random_mat(Mn, 3, rng);
    // a rotation about a random axis, a translation and some noise
    Eigen::Vector3d axis(rng.normal(), rng.normal(), rng.normal());
    const Eigen::Matrix3d Rt = Eigen::AngleAxisd(1.1, axis.normalized()).toRotationMatrix();
    M y = (x * Rt.transpose()).rowwise() + Eigen::RowVector3d(0.3, -0.2, 0.5);
    y += random_mat(Mn, 3, rng, -0.05, 0.05);
    M w = random_mat(Mn, 1, rng, 0.1, 1.0);
    for (bool mirror : {false, true}) {
        M yy = y;
        if (mirror) yy.col(2) *= -1;  // the best orthogonal map is a reflection: det correction on
        const Transform ref = geometry::kabsch(Points(x), Points(yy), Vector(w.col(0)));
        Tape<double> t(false);
        auto kv = weighted_kabsch(t, t.constant(x), t.constant(yy), t.constant(w));
        const M R = t.value(kv.R), tt = t.value(kv.t);
        CHECK((R - ref.topLeftCorner<3, 3>()).cwiseAbs().maxCoeff() < 1e-10);
        CHECK((tt.transpose() - ref.topRightCorner<3, 1>()).cwiseAbs().maxCoeff() < 1e-10);
        CHECK(std::abs(R.determinant() - 1) < 1e-12);
        CHECK(grad_error({x, yy, w}, [](auto& tp, auto& v) {
                  auto k = weighted_kabsch(tp, v[0], v[1], v[2]);
                  return tp.concat_rows({k.R, k.t});
              }) < 1e-6);
        // a loss through the transform: the aligned residual
        CHECK(grad_error({x, yy, w}, [](auto& tp, auto& v) {
                  auto k = weighted_kabsch(tp, v[0], v[1], v[2]);
                  Var moved = tp.add_row(tp.matmul(v[0], tp.transpose(k.R)), k.t);
                  return tp.sum(tp.mul_col(tp.square(tp.sub(moved, v[1])), v[2]));
              }) < 1e-6);
    }
    {  // collinear points: R is not unique; still a rotation, and the clamped gradient stays finite
        M line(4, 3), wl = M::Ones(4, 1);
        for (int i = 0; i < 4; ++i) line.row(i) << i, 2.0 * i, -1.0 * i;
        Param<double> xp{"x", line, M::Zero(4, 3)};
        Tape<double> t;
        auto k = weighted_kabsch(t, t.param(xp), t.constant(M(line * Rt.transpose())), t.constant(wl));
        CHECK(std::abs(t.value(k.R).determinant() - 1) < 1e-12);
        t.backward(t.sum(t.square(k.R)));
        CHECK(xp.grad.allFinite());
    }
    Tape<double> t(false);
    CHECK_THROWS(weighted_kabsch(t, t.constant(x), t.constant(y), t.constant(M(M::Zero(Mn, 1)))));
    CHECK_THROWS(weighted_kabsch(t, t.constant(x), t.constant(M(y.topRows(3))), t.constant(w)));
}

TEST_CASE("nn pointcloud: the documented example runs", "[nn][pointcloud]") {
    // docs/nn-layers.md, "Example"
    orbit::Rng rng(1);
    const int B = 2, N = 717, K = 16;
    Mat<float> points = Mat<float>::Random(B * N, 3);
    DGCNNOptions opt;
    opt.head_widths = {64, K};
    DGCNN<float> net("net", 3, opt, rng);
    Tape<float> tape;
    Var x = tape.constant(points);
    Var gamma = tape.softmax_rows(net.forward(tape, x, N));
    Var pi = global_mean_pool(tape, gamma, N);
    Var mass = tape.segment_matmul_tn(gamma, x, N);
    tape.backward(tape.mean(tape.square(mass)));
    CHECK(tape.value(pi).rows() == B);
    CHECK(std::abs(tape.value(pi).sum() - B) < 1e-4);
    CHECK(tape.value(mass).rows() == B * K);
    ParamList<float> ps;
    net.params(ps);
    double g = 0;
    for (auto* p : ps) g += p->grad.squaredNorm();
    CHECK(g > 0);
    CHECK(std::isfinite(g));
}

// ---------------------------------------------------------------------------
// speed (not in CI: run with `test_nn_pointcloud "[.bench]"`)

TEST_CASE("nn pointcloud bench: 3-layer EdgeConv network, k = 16, widths 64", "[.bench]") {
    Rng rng(101);
    const int n = 717;
    for (EdgeFeature first : {EdgeFeature::dgcnn, EdgeFeature::local_shape}) {
    DGCNNOptions dopt;  // defaults: widths {64, 64, 64}, k 16, dynamic graph, group norm
    dopt.first_features = first;
    DGCNN<float> net("net", 3, dopt, rng);
    ParamList<float> ps;
    net.params(ps);
    // wall and process CPU milliseconds per call (CPU time is what a loaded machine does not inflate)
    auto time = [](auto&& fn, int reps) {
        fn();  // warm-up
        const auto t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        for (int r = 0; r < reps; ++r) fn();
        const double cpu = 1e3 * double(std::clock() - c0) / CLOCKS_PER_SEC / reps;
        const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
        return std::pair<double, double>{wall, cpu};
    };
    const Mat<float> x8 = random_mat(8 * n, 3, rng).cast<float>();
    const Mat<float> x1 = random_mat(n, 3, rng).cast<float>();
    for (int th : {1, 2}) {
        set_threads(th);
        const auto train = time([&] {
            for (auto* p : ps) p->zero_grad();
            Tape<float> t;
            Var f = net.forward(t, t.constant(x8), n);
            t.backward(t.mean(t.square(f)));
        }, 5);
        const auto infer = time([&] { (void)net.infer(x1, n); }, 30);
        std::printf("DGCNN 3 EdgeConv (64,64,64), k=16, dynamic graph, group norm, first layer %s, %d thread(s): "
                    "forward+backward [8*717,3] %.1f ms (cpu %.1f ms), inference [717,3] %.2f ms (cpu %.2f ms)\n",
                    first == EdgeFeature::dgcnn ? "dgcnn" : "local_shape", th, train.first, train.second,
                    infer.first, infer.second);
        CHECK(infer.first > 0);
    }
    }
    set_threads(0);
}

TEST_CASE("nn sinkhorn bench: 129 x 129 components (128 and a slack slot), 30 iterations", "[.bench]") {
    Rng rng(102);
    const int K = 129;
    Param<float> C{"C", random_mat(K, K, rng, 0, 2).cast<float>(), Mat<float>()};
    Param<float> la{"la", Mat<float>::Constant(1, K, float(-std::log(K))), Mat<float>()};
    Param<float> lb{"lb", Mat<float>::Constant(1, K, float(-std::log(K))), Mat<float>()};
    SinkhornLayerOptions o;
    o.eps = 0.01;
    o.iterations = 30;
    auto once = [&](bool grad) {
        Tape<float> t(grad);
        Var p = sinkhorn_plan(t, t.param(C), t.param(la), t.param(lb), o);
        if (grad) {
            C.zero_grad();
            la.zero_grad();
            lb.zero_grad();
            t.backward(t.sum(t.mul(p, t.constant(C.value))));
        }
    };
    auto cpu = [&](bool grad) {
        once(grad);
        const std::clock_t c0 = std::clock();
        for (int r = 0; r < 20; ++r) once(grad);
        return 1e3 * double(std::clock() - c0) / CLOCKS_PER_SEC / 20;
    };
    const double fwd = cpu(false), both = cpu(true);
    std::printf("sinkhorn 129x129, 30 iterations: forward %.2f ms, forward+backward %.2f ms (cpu)\n", fwd, both);
    CHECK(both > 0);
}

