#pragma once
// Point-cloud layers on the tape: k-nearest-neighbour graphs, EdgeConv
// (DGCNN, Wang et al. 2019), shared point-wise MLPs (PointNet, Qi et al.
// 2017), pooling, group/instance normalization and a DGCNN feature network.
//
// Conventions (every function here):
// - A batch of B clouds of N points each is one matrix [B*N, F]: cloud b owns
//   rows b*N .. b*N+N-1. Functions that need the clouds' extent take N
//   (`points_per_cloud`); B = rows / N. B = 1 is an ordinary single cloud.
// - A kNN graph is a std::vector<int> of B*N*k GLOBAL row indices: entries
//   i*k .. i*k+k-1 are the neighbours of row i, all inside row i's cloud,
//   nearest first, ties broken by the smaller index. With include_self the
//   point itself is always entry i*k (DGCNN's convention: its top-k over
//   pairwise distances contains the point); without it the point is left out.
// - Edge tensors have one row per (point, neighbour) pair in the same order:
//   row i*k + j is the edge from point i to its j-th neighbour, so
//   segment_max(edges, k) pools each neighbourhood back to one row per point.
// - Everything is deterministic: graphs are built per point independently,
//   products are split by sizes only, scatter-adds run serially, so results
//   have the same bits for any thread count.
#include <functional>
#include <string>
#include <vector>

#include "orbit/core/random.hpp"
#include "orbit/nn/layers.hpp"
#include "orbit/nn/tape.hpp"

namespace orbit::nn {

// ---------------------------------------------------------------------------
// k-nearest-neighbour graphs

// From 3-D (or any-D) coordinates with geometry's KD-tree, one tree per cloud.
// Requires rows % N == 0 and k <= N (k <= N - 1 without self).
template <class T>
std::vector<int> knn_graph(const Mat<T>& points, int points_per_cloud, int k, bool include_self = true);

// Blocked brute force in feature space (DGCNN's dynamic graph): squared
// distances |f_i|^2 + |f_j|^2 - 2 f_i.f_j by fixed-size GEMM blocks, then a
// partial sort by (distance, index). Same contract as knn_graph.
template <class T>
std::vector<int> knn_graph_features(const Mat<T>& features, int points_per_cloud, int k, bool include_self = true);

// Neighbour rows of a: out[i*k + j] = a[graph[i*k + j]] (a gather_rows node).
template <class T>
Var gather_neighbors(Tape<T>& tape, Var a, const std::vector<int>& graph);

// ---------------------------------------------------------------------------
// pooling (thin names over the tape's segment reductions)

template <class T>
Var global_max_pool(Tape<T>& tape, Var x, int points_per_cloud);  // [B*N,F] -> [B,F]
template <class T>
Var global_mean_pool(Tape<T>& tape, Var x, int points_per_cloud);  // [B*N,F] -> [B,F]
// max over each point's k neighbours: [B*N,F] -> [B*N,F]
template <class T>
Var neighborhood_max_pool(Tape<T>& tape, Var x, const std::vector<int>& graph, int k);
template <class T>
Var neighborhood_mean_pool(Tape<T>& tape, Var x, const std::vector<int>& graph, int k);
// [B,F] -> [B*N,F]: each cloud's row repeated for its N points (concatenate a
// global feature to every point).
template <class T>
Var broadcast_to_points(Tape<T>& tape, Var g, int points_per_cloud);

// ---------------------------------------------------------------------------
// normalization

// Group normalization (Wu & He 2018) over the rows of each cloud: for cloud b
// and channel group g, the mean and variance run over the N points and the
// C/groups channels of the group; y = (x - mean) / sqrt(var + eps) * gamma +
// beta with a learnable gamma, beta [1,C] (names "<name>.gamma", "<name>.beta";
// gamma starts at 1, beta at 0). groups = C is instance normalization. The
// statistics are per cloud, so it works at batch size 1 and a cloud's output
// never depends on the other clouds of the batch. One fused node.
template <class T>
class GroupNorm {
public:
    GroupNorm() = default;
    GroupNorm(const std::string& name, int channels, int groups, double eps = 1e-5);
    Var forward(Tape<T>& tape, Var x, int points_per_cloud);
    void params(ParamList<T>& out) {
        out.push_back(&gamma);
        out.push_back(&beta);
    }
    int channels() const { return static_cast<int>(gamma.value.cols()); }
    int groups = 1;
    double eps = 1e-5;
    Param<T> gamma, beta;
};

// ---------------------------------------------------------------------------
// shared point-wise MLP (PointNet): the same layers on every row.

struct PointMLPOptions {
    std::vector<int> widths;   // output width of each layer (at least one)
    int norm_groups = 0;       // > 0: GroupNorm with this many groups after every hidden layer (0: none)
    double slope = 0.2;        // leaky ReLU slope of the hidden layers (0: ReLU)
    bool plain_last = true;    // last layer without normalization and activation (a head); false: like the hidden ones
};

template <class T>
class PointMLP {
public:
    PointMLP() = default;
    // Layers "<name>.fc<l>" and norms "<name>.norm<l>".
    PointMLP(const std::string& name, int in, const PointMLPOptions& options, Rng& rng);
    Var forward(Tape<T>& tape, Var x, int points_per_cloud);
    void params(ParamList<T>& out);
    int in() const { return fc.front().in(); }
    int out() const { return fc.back().out(); }
    std::vector<Linear<T>> fc;
    std::vector<GroupNorm<T>> norm;  // empty, or one per normalized layer
    PointMLPOptions options;
};

// ---------------------------------------------------------------------------
// EdgeConv (DGCNN): y_i = max_j h([x_i, x_j - x_i]) over the k neighbours j
// of i, with h a linear layer (or a small MLP), then normalization and leaky
// ReLU per point.
//
// Edge features:
// - dgcnn:    [x_i, x_j - x_i] (2F inputs), DGCNN's choice.
// - offset:   x_j - x_i (F inputs), translation invariant.
// - distance: |x_j - x_i| (1 input), invariant to rotations and translations
//             of the input (use it on raw coordinates when the features must
//             not depend on the pose).
// - distance_and_feature: [x_i, |x_j - x_i|] (F + 1 inputs), invariant when
//             x is (for layers past the first on invariant features).
// - custom:   a caller-supplied EdgeFeatureBuilder (its width given by the caller).
// - local_shape: [|x_j - x_i|, |x_j - c_i|, |c_i - x_i|, cos angle(x_j - x_i, c_i - x_i)]
//             (4 inputs) with c_i the mean of i's neighbours: invariant to
//             rotations and translations like `distance`, and it sees the
//             shape of the neighbourhood, not only its radii.
//
// Speed: with the dgcnn or offset features and a single linear layer, the
// layer is computed without any per-edge product: W [x_i, x_j - x_i] + b =
// (W_a - W_b) x_i + b + W_b x_j, so one product per point gives U and V and
// the edges need only a gather of V's rows and a max, exact and k times
// cheaper than multiplying every edge. The normalization and activation come
// after the max (they act per point), which keeps that path available.
enum class EdgeFeature { dgcnn, offset, distance, distance_and_feature, custom, local_shape };

// Builds edge features [B*N*k, E] in the edge order above from the layer input
// x [B*N, F] and the graph (gather_neighbors / repeat_rows are the tools).
template <class T>
using EdgeFeatureBuilder = std::function<Var(Tape<T>& tape, Var x, const std::vector<int>& graph, int k)>;

struct EdgeConvOptions {
    int out = 64;                      // output width
    std::vector<int> hidden;           // widths of extra per-edge layers before the output layer (empty: one linear)
    EdgeFeature features = EdgeFeature::dgcnn;
    int custom_width = 0;              // width E of the custom builder's edge features
    int norm_groups = 0;               // > 0: GroupNorm with this many groups after the max (0: none)
    double slope = 0.2;                // leaky ReLU slope after the norm (0: ReLU)
};

template <class T>
class EdgeConv {
public:
    EdgeConv() = default;
    // Parameters "<name>.fc<l>.W/b" (l over hidden layers then the output
    // layer) and "<name>.norm.gamma/beta".
    EdgeConv(const std::string& name, int in, const EdgeConvOptions& options, Rng& rng,
             EdgeFeatureBuilder<T> builder = {});
    // x [B*N, in], graph from knn_graph / knn_graph_features with this k.
    Var forward(Tape<T>& tape, Var x, const std::vector<int>& graph, int k, int points_per_cloud);
    void params(ParamList<T>& out);
    int in() const { return in_; }
    int out() const { return fc.back().out(); }
    int edge_width() const;  // inputs of the first per-edge layer
    std::vector<Linear<T>> fc;
    GroupNorm<T> norm;  // channels 0 when options.norm_groups == 0
    EdgeConvOptions options;
    EdgeFeatureBuilder<T> builder;

private:
    int in_ = 0;
    Var edge_features(Tape<T>& tape, Var x, const std::vector<int>& graph, int k);
};

// ---------------------------------------------------------------------------
// DGCNN feature network: `widths.size()` EdgeConv layers; the first on the
// graph of the input coordinates (KD-tree), the later ones on a graph
// recomputed in their input feature space when `dynamic` (DGCNN) or on the
// coordinate graph otherwise; the per-point outputs of all layers are
// concatenated and mapped by a point-wise head (PointMLP) when head_widths is
// not empty. Returns per-point features [B*N, out()].

struct DGCNNOptions {
    std::vector<int> widths{64, 64, 64};  // EdgeConv output widths
    int k = 16;
    bool dynamic = true;
    EdgeFeature first_features = EdgeFeature::dgcnn;  // distance: invariant to the pose of the input
    int norm_groups = 8;                  // GroupNorm groups in every layer (0: none)
    double slope = 0.2;
    std::vector<int> head_widths;         // point-wise head after the concatenation (empty: none)
};

template <class T>
class DGCNN {
public:
    std::vector<EdgeConv<T>> edge;
    PointMLP<T> head;
    DGCNNOptions options;

    DGCNN() = default;
    // Parameters "<name>.edge<l>.*" and "<name>.head.*".
    DGCNN(const std::string& name, int in, const DGCNNOptions& options, Rng& rng);
    int out() const;
    void params(ParamList<T>& out);
    // x [B*N, in]; the first graph is built from x's first three columns (or
    // all of them when in < 3). infer: the same on a tape that does not
    // record (no closures, no gradients).
    Var forward(Tape<T>& tape, Var x, int points_per_cloud);
    Mat<T> infer(const Mat<T>& x, int points_per_cloud);
};

extern template class GroupNorm<float>;
extern template class GroupNorm<double>;
extern template class PointMLP<float>;
extern template class PointMLP<double>;
extern template class EdgeConv<float>;
extern template class EdgeConv<double>;
extern template class DGCNN<float>;
extern template class DGCNN<double>;

}  // namespace orbit::nn
