#include "orbit/nn/pointcloud.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/geometry/kdtree.hpp"

namespace orbit::nn {

namespace {

void check_clouds(Eigen::Index rows, int n, int k, bool include_self, const char* what) {
    require(n >= 1 && rows % n == 0, std::string("nn: ") + what + ": " + std::to_string(rows) +
                                         " rows are not whole clouds of " + std::to_string(n) + " points");
    const int most = include_self ? n : n - 1;
    require(k >= 1 && k <= most, std::string("nn: ") + what + ": k = " + std::to_string(k) + " with clouds of " +
                                     std::to_string(n) + " points (at most " + std::to_string(most) + ")");
}

// The m nearest candidates by (distance, index), other than `self`, from a
// list that holds every candidate at least as close as the m-th one.
void take_nearest(std::vector<std::pair<double, int>>& cand, int self, int m, int* out) {
    cand.erase(std::remove_if(cand.begin(), cand.end(), [&](const auto& c) { return c.second == self; }), cand.end());
    std::partial_sort(cand.begin(), cand.begin() + m, cand.end());
    for (int j = 0; j < m; ++j) out[j] = cand[j].second;
}

// The m smallest of d[0..n) other than d[self], by (value, index), nearest
// first. A bounded max-heap over a scan in increasing j: a later candidate
// equal to the heap's top has the larger index, so only d[j] < top enters,
// and blocks of 16 with none below the top are skipped by one vectorized test.
template <class T>
void select_nearest(const T* d, int n, int self, int m, std::vector<std::pair<T, int>>& heap, int* out) {
    heap.clear();
    int j = 0;
    for (; j < n && int(heap.size()) < m; ++j)
        if (j != self) heap.emplace_back(d[j], j);
    std::make_heap(heap.begin(), heap.end());
    auto offer = [&](int c) {
        if (c == self || !(d[c] < heap.front().first)) return;
        std::pop_heap(heap.begin(), heap.end());
        heap.back() = {d[c], c};
        std::push_heap(heap.begin(), heap.end());
    };
    for (; j < n && j % 16 != 0; ++j) offer(j);
    for (; j + 16 <= n; j += 16) {
        const T top = heap.front().first;
        int below = 0;
        for (int t = 0; t < 16; ++t) below += d[j + t] < top;
        if (below == 0) continue;
        for (int t = 0; t < 16; ++t) offer(j + t);
    }
    for (; j < n; ++j) offer(j);
    std::sort_heap(heap.begin(), heap.end());
    for (int t = 0; t < m; ++t) out[t] = heap[t].second;
}

// Runs fn(task) for every task, on threads only when the work is large: for a
// single cloud of a few thousand points a parallel region costs more than it
// saves (badly so on a loaded machine). Tasks write disjoint outputs, so the
// result is the same either way.
void run_tasks(std::int64_t tasks, double work, const std::function<void(std::int64_t)>& fn) {
    if (work < 1e8 || tasks < 2) {
        for (std::int64_t t = 0; t < tasks; ++t) fn(t);
        return;
    }
    parallel_for(tasks, fn);
}

template <class T>
Var activation(Tape<T>& tape, Var x, double slope) {
    return slope == 0 ? tape.relu(x) : tape.leaky_relu(x, T(slope));
}

}  // namespace

// ---------------------------------------------------------------------------
// kNN graphs

template <class T>
std::vector<int> knn_graph(const Mat<T>& points, int n, int k, bool include_self) {
    check_clouds(points.rows(), n, k, include_self, "knn_graph");
    const int clouds = static_cast<int>(points.rows() / n);
    const int m = include_self ? k - 1 : k;  // neighbours other than the point itself
    std::vector<int> graph(static_cast<std::size_t>(points.rows()) * k);
    // tasks of 256 points: a thread per point would cost more in scheduling than the queries
    constexpr int kChunk = 256;
    const int chunks = (n + kChunk - 1) / kChunk;
    std::vector<geometry::KdTree> trees(static_cast<std::size_t>(clouds));
    std::vector<Points> pts(static_cast<std::size_t>(clouds));
    // work in units of flops, roughly: a query visits some 20 k coordinates
    const double work = double(points.rows()) * k * 20.0 * double(points.cols()) * 50.0;
    run_tasks(clouds, work, [&](std::int64_t b) {
        pts[b] = points.middleRows(b * n, n).template cast<double>();
        trees[b] = geometry::KdTree(pts[b]);
    });
    run_tasks(std::int64_t(clouds) * chunks, work, [&](std::int64_t task) {
        const int b = int(task / chunks), c0 = int(task % chunks) * kChunk, c1 = std::min(n, c0 + kChunk);
        const int base = b * n;
        const Points& p = pts[b];
        const geometry::KdTree& tree = trees[b];
        for (int i = c0; i < c1; ++i) {
            int* out = graph.data() + (std::size_t(base) + i) * k;
            if (include_self) out[0] = base + int(i);
            if (m == 0) continue;
            const double* q = p.row(i).data();
            // m others plus the point itself plus one to see a tie at the boundary
            auto nb = tree.knn(q, std::min<std::int64_t>(n, m + 2));
            std::vector<std::pair<double, int>> cand;
            for (const auto& x : nb) cand.emplace_back(x.dist2, int(x.index));
            std::sort(cand.begin(), cand.end());
            std::vector<std::pair<double, int>> others;
            for (const auto& c : cand)
                if (c.second != int(i)) others.push_back(c);
            if (int(others.size()) > m && others[m].first == others[m - 1].first) {
                // a tie at the boundary: collect every point at that distance
                const double r = std::max(std::sqrt(others[m - 1].first) * (1 + 1e-9), 1e-150);
                cand.clear();
                for (const auto& x : tree.radius(q, r)) cand.emplace_back(x.dist2, int(x.index));
            }
            take_nearest(cand, int(i), m, out + (include_self ? 1 : 0));
            for (int j = include_self ? 1 : 0; j < k; ++j) out[j] += base;
        }
    });
    return graph;
}

template <class T>
std::vector<int> knn_graph_features(const Mat<T>& features, int n, int k, bool include_self) {
    check_clouds(features.rows(), n, k, include_self, "knn_graph_features");
    const int clouds = static_cast<int>(features.rows() / n);
    const int m = include_self ? k - 1 : k;
    std::vector<int> graph(static_cast<std::size_t>(features.rows()) * k);
    // Fixed blocks of query rows, each an ordinary serial product: the
    // distances, and so the graph, do not depend on the thread count.
    constexpr int kBlock = 128;
    const int blocks_per_cloud = (n + kBlock - 1) / kBlock;
    Eigen::Matrix<T, Eigen::Dynamic, 1> sq = features.rowwise().squaredNorm();
    const double work = 2.0 * double(features.rows()) * double(n) * double(features.cols() + 8);
    run_tasks(std::int64_t(clouds) * blocks_per_cloud, work, [&](std::int64_t task) {
        const int b = int(task / blocks_per_cloud), blk = int(task % blocks_per_cloud);
        const int base = b * n, r0 = blk * kBlock, rows = std::min(kBlock, n - r0);
        Mat<T> d(rows, n);
        d.noalias() = features.middleRows(base + r0, rows) * features.middleRows(base, n).transpose();
        // d_ij = |f_i|^2 + |f_j|^2 - 2 f_i.f_j, in place
        d *= T(-2);
        d.rowwise() += sq.segment(base, n).transpose();
        d.colwise() += sq.segment(base + r0, rows);
        std::vector<std::pair<T, int>> heap;
        heap.reserve(std::size_t(m) + 1);
        for (int r = 0; r < rows; ++r) {
            const int i = r0 + r;
            int* out = graph.data() + (std::size_t(base) + i) * k;
            if (include_self) out[0] = base + i;
            if (m == 0) continue;
            select_nearest(d.row(r).data(), n, i, m, heap, out + (include_self ? 1 : 0));
            for (int j = include_self ? 1 : 0; j < k; ++j) out[j] += base;
        }
    });
    return graph;
}

template <class T>
Var gather_neighbors(Tape<T>& tape, Var a, const std::vector<int>& graph) {
    return tape.gather_rows(a, graph);
}

// ---------------------------------------------------------------------------
// pooling

template <class T>
Var global_max_pool(Tape<T>& tape, Var x, int n) {
    return tape.segment_max(x, n);
}

template <class T>
Var global_mean_pool(Tape<T>& tape, Var x, int n) {
    return tape.segment_mean(x, n);
}

// Fused gather + max: no [B*N*k, F] intermediate, forward or backward. The
// forward is a plain (vectorized) running max; the backward finds each first
// maximizing neighbour again from the stored input, so nothing else is kept.
template <class T>
Var neighborhood_max_pool(Tape<T>& tape, Var x, const std::vector<int>& graph, int k) {
    const Mat<T>& X = tape.value(x);
    const Eigen::Index R = X.rows(), F = X.cols();
    require(k >= 1 && graph.size() == std::size_t(R) * k, "nn: neighborhood pooling with a graph of another size");
    for (int g : graph) require(g >= 0 && g < R, "nn: neighbour index out of range");
    Mat<T> Y(R, F);
    for (Eigen::Index i = 0; i < R; ++i) {
        const int* nb = graph.data() + i * k;
        auto y = Y.row(i);
        y = X.row(nb[0]);
        for (int j = 1; j < k; ++j) y = y.cwiseMax(X.row(nb[j]));
    }
    return tape.custom(std::move(Y), {x}, [&tape, x, graph, k, R, F](const Mat<T>& G) {
        // to the first neighbour reaching the maximum, serially
        const Mat<T>& X = tape.value(x);
        Mat<T> g = Mat<T>::Zero(R, F);
        std::vector<char> done(static_cast<std::size_t>(F));
        Mat<T> y(1, F);
        for (Eigen::Index i = 0; i < R; ++i) {
            const int* nb = graph.data() + i * k;
            y = X.row(nb[0]);
            for (int j = 1; j < k; ++j) y = y.cwiseMax(X.row(nb[j]));
            std::fill(done.begin(), done.end(), 0);
            for (int j = 0; j < k; ++j) {
                const T* xj = X.row(nb[j]).data();
                T* gj = g.row(nb[j]).data();
                for (Eigen::Index f = 0; f < F; ++f)
                    if (!done[f] && xj[f] == y(0, f)) {
                        gj[f] += G(i, f);
                        done[f] = 1;
                    }
            }
        }
        tape.add_grad(x, std::move(g));
    });
}

template <class T>
Var neighborhood_mean_pool(Tape<T>& tape, Var x, const std::vector<int>& graph, int k) {
    return tape.segment_mean(tape.gather_rows(x, graph), k);
}

template <class T>
Var broadcast_to_points(Tape<T>& tape, Var g, int n) {
    return tape.repeat_rows(g, n);
}

// ---------------------------------------------------------------------------
// GroupNorm

template <class T>
GroupNorm<T>::GroupNorm(const std::string& name, int channels, int g, double e) : groups(g), eps(e) {
    require(channels >= 1 && g >= 1 && channels % g == 0,
            "nn: group norm of " + std::to_string(channels) + " channels in " + std::to_string(g) + " groups");
    require(e > 0, "nn: group norm eps must be positive");
    gamma.name = name + ".gamma";
    beta.name = name + ".beta";
    gamma.value = Mat<T>::Ones(1, channels);
    beta.value = Mat<T>::Zero(1, channels);
    gamma.zero_grad();
    beta.zero_grad();
}

template <class T>
Var GroupNorm<T>::forward(Tape<T>& tape, Var x, int n) {
    // the parameter leaves first: pushing nodes may move the tape's values
    Var gv = tape.param(gamma), bv = tape.param(beta);
    const Mat<T>& X = tape.value(x);
    const Eigen::Index C = X.cols();
    require(C == channels(), "nn: group norm of " + std::to_string(channels()) + " channels given " +
                                 std::to_string(C) + " columns");
    require(n >= 1 && X.rows() % n == 0, "nn: group norm rows are not whole clouds");
    const Eigen::Index S = X.rows() / n, Cg = C / groups;
    const Mat<T>& ga = gamma.value;
    const Mat<T>& be = beta.value;
    // xhat and the inverse deviation of each (cloud, group), kept for the backward
    auto xhat = std::make_shared<Mat<T>>(X.rows(), C);
    auto rstd = std::make_shared<std::vector<double>>(std::size_t(S * groups));
    Mat<T> Y(X.rows(), C);
    const double cnt = double(n) * double(Cg);
    for (Eigen::Index s = 0; s < S; ++s)
        for (int g = 0; g < groups; ++g) {
            // two passes in double: mean, then centred second moment
            double mu = 0;
            for (Eigen::Index r = s * n; r < (s + 1) * n; ++r)
                for (Eigen::Index c = g * Cg; c < (g + 1) * Cg; ++c) mu += double(X(r, c));
            mu /= cnt;
            double var = 0;
            for (Eigen::Index r = s * n; r < (s + 1) * n; ++r)
                for (Eigen::Index c = g * Cg; c < (g + 1) * Cg; ++c) {
                    const double e = double(X(r, c)) - mu;
                    var += e * e;
                }
            var /= cnt;
            const double rs = 1.0 / std::sqrt(var + eps);
            (*rstd)[s * groups + g] = rs;
            for (Eigen::Index r = s * n; r < (s + 1) * n; ++r)
                for (Eigen::Index c = g * Cg; c < (g + 1) * Cg; ++c) {
                    const T h = T((double(X(r, c)) - mu) * rs);
                    (*xhat)(r, c) = h;
                    Y(r, c) = h * ga(0, c) + be(0, c);
                }
        }
    const int G = groups;
    const Param<T>* gp = &gamma;
    return tape.custom(std::move(Y), {x, gv, bv}, [&tape, x, gv, bv, xhat, rstd, n, S, G, Cg, gp, cnt](const Mat<T>& Gr) {
        const Mat<T>& H = *xhat;
        if (tape.needs_grad(gv)) tape.add_grad(gv, Mat<T>(Gr.cwiseProduct(H).colwise().sum()));
        if (tape.needs_grad(bv)) tape.add_grad(bv, Mat<T>(Gr.colwise().sum()));
        if (!tape.needs_grad(x)) return;
        // dx = rstd (dh - mean(dh) - h mean(dh h)) over each group, dh = G gamma
        Mat<T> gx(H.rows(), H.cols());
        const Mat<T>& ga = gp->value;
        for (Eigen::Index s = 0; s < S; ++s)
            for (int g = 0; g < G; ++g) {
                double m1 = 0, m2 = 0;
                for (Eigen::Index r = s * n; r < (s + 1) * n; ++r)
                    for (Eigen::Index c = g * Cg; c < (g + 1) * Cg; ++c) {
                        const double dh = double(Gr(r, c)) * double(ga(0, c));
                        m1 += dh;
                        m2 += dh * double(H(r, c));
                    }
                m1 /= cnt;
                m2 /= cnt;
                const double rs = (*rstd)[s * G + g];
                for (Eigen::Index r = s * n; r < (s + 1) * n; ++r)
                    for (Eigen::Index c = g * Cg; c < (g + 1) * Cg; ++c) {
                        const double dh = double(Gr(r, c)) * double(ga(0, c));
                        gx(r, c) = T(rs * (dh - m1 - double(H(r, c)) * m2));
                    }
            }
        tape.add_grad(x, std::move(gx));
    });
}

// ---------------------------------------------------------------------------
// PointMLP

template <class T>
PointMLP<T>::PointMLP(const std::string& name, int in, const PointMLPOptions& opt, Rng& rng) : options(opt) {
    require(!opt.widths.empty(), "nn: a point MLP needs at least one layer");
    int width = in;
    for (std::size_t l = 0; l < opt.widths.size(); ++l) {
        fc.emplace_back(name + ".fc" + std::to_string(l), width, opt.widths[l], rng);
        width = opt.widths[l];
        const bool last = l + 1 == opt.widths.size();
        if (opt.norm_groups > 0 && !(last && opt.plain_last))
            norm.emplace_back(name + ".norm" + std::to_string(l), width, opt.norm_groups);
    }
}

template <class T>
Var PointMLP<T>::forward(Tape<T>& tape, Var x, int n) {
    Var h = x;
    for (std::size_t l = 0; l < fc.size(); ++l) {
        h = fc[l].forward(tape, h);
        if (l + 1 == fc.size() && options.plain_last) break;
        if (!norm.empty()) h = norm[l].forward(tape, h, n);
        h = activation(tape, h, options.slope);
    }
    return h;
}

template <class T>
void PointMLP<T>::params(ParamList<T>& out) {
    for (std::size_t l = 0; l < fc.size(); ++l) {
        fc[l].params(out);
        if (l < norm.size()) norm[l].params(out);
    }
}

// ---------------------------------------------------------------------------
// EdgeConv

template <class T>
EdgeConv<T>::EdgeConv(const std::string& name, int in, const EdgeConvOptions& opt, Rng& rng, EdgeFeatureBuilder<T> b)
    : options(opt), builder(std::move(b)), in_(in) {
    require(in >= 1 && opt.out >= 1, "nn: EdgeConv needs at least one input and one output");
    require(opt.features != EdgeFeature::custom || (builder && opt.custom_width >= 1),
            "nn: EdgeConv with custom edge features needs a builder and its width");
    int width = edge_width();
    std::vector<int> widths = opt.hidden;
    widths.push_back(opt.out);
    for (std::size_t l = 0; l < widths.size(); ++l) {
        fc.emplace_back(name + ".fc" + std::to_string(l), width, widths[l], rng);
        width = widths[l];
    }
    if (opt.norm_groups > 0) norm = GroupNorm<T>(name + ".norm", opt.out, opt.norm_groups);
}

template <class T>
int EdgeConv<T>::edge_width() const {
    switch (options.features) {
        case EdgeFeature::dgcnn: return 2 * in_;
        case EdgeFeature::offset: return in_;
        case EdgeFeature::distance: return 1;
        case EdgeFeature::distance_and_feature: return in_ + 1;
        case EdgeFeature::custom: return options.custom_width;
        case EdgeFeature::local_shape: return 4;
    }
    return 0;
}

template <class T>
Var EdgeConv<T>::edge_features(Tape<T>& tape, Var x, const std::vector<int>& graph, int k) {
    if (options.features == EdgeFeature::custom) {
        Var e = builder(tape, x, graph, k);
        require(tape.value(e).rows() == tape.value(x).rows() * k && tape.value(e).cols() == options.custom_width,
                "nn: EdgeConv's edge builder returned a tensor of the wrong shape");
        return e;
    }
    Var xi = tape.repeat_rows(x, k);
    Var xj = tape.gather_rows(x, graph);
    Var diff = tape.sub(xj, xi);
    switch (options.features) {
        case EdgeFeature::dgcnn: return tape.concat_cols({xi, diff});
        case EdgeFeature::offset: return diff;
        // eps keeps the self edge (distance 0) differentiable
        case EdgeFeature::distance: return tape.row_norm(diff, T(1e-12));
        case EdgeFeature::distance_and_feature: return tape.concat_cols({xi, tape.row_norm(diff, T(1e-12))});
        case EdgeFeature::local_shape: {
            Var ci = tape.repeat_rows(neighborhood_mean_pool(tape, x, graph, k), k);
            Var toc = tape.sub(ci, xi);
            Var dn = tape.row_norm(diff, T(1e-12)), cn = tape.row_norm(toc, T(1e-12));
            Var jn = tape.row_norm(tape.sub(xj, ci), T(1e-12));
            // |cos| <= 1 with the eps in both norms; 0 on the self edge
            Var cosv = tape.div(tape.sum_rows(tape.mul(diff, toc)), tape.mul(dn, cn));
            return tape.concat_cols({dn, jn, cn, cosv});
        }
        default: break;
    }
    return diff;
}

template <class T>
Var EdgeConv<T>::forward(Tape<T>& tape, Var x, const std::vector<int>& graph, int k, int n) {
    const Mat<T>& X = tape.value(x);
    require(X.cols() == in_, "nn: EdgeConv of " + std::to_string(in_) + " inputs given " + std::to_string(X.cols()) +
                                 " columns");
    require(graph.size() == std::size_t(X.rows()) * k, "nn: EdgeConv's graph does not have k neighbours per row");
    Var h;
    const bool linear_edges =
        options.hidden.empty() && (options.features == EdgeFeature::dgcnn || options.features == EdgeFeature::offset);
    if (linear_edges) {
        // W [x_i, x_j - x_i] + b = (W_a - W_b) x_i + b + W_b x_j (dgcnn), W x_j - W x_i + b (offset):
        // per-point products, then the max of the neighbours' rows of V
        Var W = tape.param(fc[0].W), b = tape.param(fc[0].b);
        Var Wself, Wnb;
        if (options.features == EdgeFeature::dgcnn) {
            Wnb = tape.cols(W, in_, in_);
            Wself = tape.sub(tape.cols(W, 0, in_), Wnb);
        } else {
            Wnb = W;
            Wself = tape.scale(W, T(-1));
        }
        Var U = tape.linear(x, Wself, b);
        Var V = tape.matmul(x, tape.transpose(Wnb));
        h = tape.add(U, neighborhood_max_pool(tape, V, graph, k));
    } else {
        Var e = edge_features(tape, x, graph, k);
        for (std::size_t l = 0; l + 1 < fc.size(); ++l) e = activation(tape, fc[l].forward(tape, e), options.slope);
        h = tape.segment_max(fc.back().forward(tape, e), k);
    }
    if (options.norm_groups > 0) h = norm.forward(tape, h, n);
    return activation(tape, h, options.slope);
}

template <class T>
void EdgeConv<T>::params(ParamList<T>& out) {
    for (auto& l : fc) l.params(out);
    if (options.norm_groups > 0) norm.params(out);
}

// ---------------------------------------------------------------------------
// DGCNN

template <class T>
DGCNN<T>::DGCNN(const std::string& name, int in, const DGCNNOptions& opt, Rng& rng) : options(opt) {
    require(!opt.widths.empty(), "nn: DGCNN needs at least one EdgeConv layer");
    int width = in;
    int total = 0;
    for (std::size_t l = 0; l < opt.widths.size(); ++l) {
        EdgeConvOptions eo;
        eo.out = opt.widths[l];
        eo.features = l == 0 ? opt.first_features : EdgeFeature::dgcnn;
        eo.norm_groups = opt.norm_groups;
        eo.slope = opt.slope;
        edge.emplace_back(name + ".edge" + std::to_string(l), width, eo, rng);
        width = opt.widths[l];
        total += width;
    }
    if (!opt.head_widths.empty()) {
        PointMLPOptions po;
        po.widths = opt.head_widths;
        po.norm_groups = opt.norm_groups;
        po.slope = opt.slope;
        po.plain_last = true;
        head = PointMLP<T>(name + ".head", total, po, rng);
    }
}

template <class T>
Var DGCNN<T>::forward(Tape<T>& tape, Var x, int n) {
    const Mat<T>& X = tape.value(x);
    const int k = options.k;
    const std::vector<int> coords = knn_graph(Mat<T>(X.leftCols(std::min<Eigen::Index>(3, X.cols()))), n, k);
    std::vector<Var> outs;
    Var h = x;
    for (std::size_t l = 0; l < edge.size(); ++l) {
        if (l == 0 || !options.dynamic) h = edge[l].forward(tape, h, coords, k, n);
        else h = edge[l].forward(tape, h, knn_graph_features(tape.value(h), n, k), k, n);
        outs.push_back(h);
    }
    Var cat = outs.size() == 1 ? outs[0] : tape.concat_cols(outs);
    return options.head_widths.empty() ? cat : head.forward(tape, cat, n);
}

template <class T>
Mat<T> DGCNN<T>::infer(const Mat<T>& x, int n) {
    Tape<T> tape(false);
    Var in = tape.constant(x);
    return tape.value(forward(tape, in, n));
}

template <class T>
void DGCNN<T>::params(ParamList<T>& out) {
    for (auto& e : edge) e.params(out);
    if (!options.head_widths.empty()) head.params(out);
}

template <class T>
int DGCNN<T>::out() const {
    if (!options.head_widths.empty()) return options.head_widths.back();
    int total = 0;
    for (int w : options.widths) total += w;
    return total;
}

#define ORBIT_NN_PC(T)                                                                                      \
    template std::vector<int> knn_graph<T>(const Mat<T>&, int, int, bool);                                 \
    template std::vector<int> knn_graph_features<T>(const Mat<T>&, int, int, bool);                        \
    template Var gather_neighbors<T>(Tape<T>&, Var, const std::vector<int>&);                              \
    template Var global_max_pool<T>(Tape<T>&, Var, int);                                                   \
    template Var global_mean_pool<T>(Tape<T>&, Var, int);                                                  \
    template Var neighborhood_max_pool<T>(Tape<T>&, Var, const std::vector<int>&, int);                    \
    template Var neighborhood_mean_pool<T>(Tape<T>&, Var, const std::vector<int>&, int);                   \
    template Var broadcast_to_points<T>(Tape<T>&, Var, int);                                               \
    template class GroupNorm<T>;                                                                           \
    template class PointMLP<T>;                                                                            \
    template class EdgeConv<T>;                                                                            \
    template class DGCNN<T>;
ORBIT_NN_PC(float)
ORBIT_NN_PC(double)
#undef ORBIT_NN_PC

}  // namespace orbit::nn
