#pragma once
// Reverse-mode differentiation over batched matrices.
//
// A Tape records coarse operations on row-major matrices (rows are samples):
// a linear layer is one node (one GEMM forward, two GEMMs backward), an
// activation is one node, the rational-quadratic spline is one fused node.
// Each node keeps its value and a closure that pushes its gradient to its
// inputs; backward() runs the closures in reverse order. Coarse nodes keep
// the bookkeeping cost far below the arithmetic, which is what makes small
// networks fast on a CPU.
//
// Everything is templated on the scalar: float for training, double for
// gradient checks. A tape created with recording=false computes values only
// (inference), with no closures and no gradient storage.
#include <Eigen/Core>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "orbit/core/random.hpp"

namespace orbit::nn {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A trainable tensor: its value, the gradient accumulated by backward(), and
// the name it is saved under.
template <class T>
struct Param {
    std::string name;
    Mat<T> value;
    Mat<T> grad;
    void zero_grad() { grad.setZero(value.rows(), value.cols()); }
};

// A handle on a tape node.
struct Var {
    int id = -1;
};

template <class T>
class Tape {
public:
    explicit Tape(bool recording = true) : recording_(recording) { tune_allocator(); }

    // Keeps freed activation buffers in the heap instead of returning them to
    // the kernel (glibc maps blocks over 128 KiB afresh each time, and the page
    // faults cost more than the arithmetic of a small network). Called once.
    static void tune_allocator();

    bool recording() const { return recording_; }
    // Large products split across two threads unless this is off (tapes that
    // already run on threads of their own: a parallel region from a thread that
    // OpenMP did not start would add a team of its own).
    void set_parallel_products(bool on) { parallel_ = on; }
    void clear() { nodes_.clear(); }
    std::size_t size() const { return nodes_.size(); }

    // Leaves.
    Var constant(Mat<T> value);
    // A parameter leaf; backward() adds its gradient into p.grad (which must be sized, see zero_grad).
    // The tape reads p.value in place (no copy), so p must not change while the tape is in use.
    Var param(Param<T>& p);

    const Mat<T>& value(Var v) const {
        const Node& n = nodes_[v.id];
        return n.param ? n.param->value : n.value;
    }
    // Gradient of the last backward() with respect to a node (empty when it received none).
    const Mat<T>& grad(Var v) const { return nodes_[v.id].grad; }
    // Seeds d(loss)/d(loss) = 1 for a 1x1 node and runs the recorded closures backwards.
    void backward(Var loss);
    // Same with an explicit seed of the shape of `out` (for gradient checks of any node).
    void backward(Var out, const Mat<T>& seed);
    // backward() that leaves the parameters' grad alone; add_param_grads() adds
    // them in afterwards, in the order backward() would have. Tapes over shards
    // of a batch can then run at once and add up in a fixed order.
    void backward_detached(Var loss);
    void add_param_grads();
    // Calls f(param, gradient) for each parameter gradient of the last
    // backward_detached(), in the order add_param_grads() adds them, so that a
    // caller can add them somewhere other than the parameters' grad.
    template <class F>
    void for_param_grads(F&& f) const {
        for (int i = static_cast<int>(nodes_.size()) - 1; i >= 0; --i)
            if (nodes_[std::size_t(i)].param && nodes_[std::size_t(i)].grad.size() != 0)
                f(*nodes_[std::size_t(i)].param, nodes_[std::size_t(i)].grad);
    }

    // ---- linear algebra
    Var linear(Var x, Var W, Var b);   // x W^T + b; x [B,in], W [out,in], b [1,out]
    Var matmul(Var a, Var b);          // a b
    // ---- elementwise, same shapes
    Var add(Var a, Var b);
    Var sub(Var a, Var b);
    Var mul(Var a, Var b);
    Var div(Var a, Var b);
    // ---- broadcasting: r is [1,F] (a row for every sample), c is [B,1] (a value per sample)
    Var add_row(Var a, Var r);
    Var mul_row(Var a, Var r);
    Var mul_col(Var a, Var c);
    Var scale(Var a, T c);
    Var add_scalar(Var a, T c);
    // ---- activations and pointwise functions
    Var relu(Var a);
    Var tanh(Var a);
    Var silu(Var a);
    Var sigmoid(Var a);
    Var softplus(Var a);
    Var exp(Var a);
    Var log(Var a);
    Var square(Var a);
    // a / (1 + |a|/c): a smooth clamp of log-scales into (-c, c)
    Var softclamp(Var a, T c);
    // Zeroes each entry with probability p and scales the rest by 1/(1-p).
    Var dropout(Var a, T p, Rng& rng);
    // ---- along rows
    Var softmax_rows(Var a);
    Var cumsum_rows(Var a);
    Var sum_rows(Var a);   // [B,1]
    // ---- reductions to [1,1]
    Var sum(Var a);
    Var mean(Var a);
    // ---- column selection
    Var cols(Var a, int begin, int count);
    Var concat_cols(const std::vector<Var>& parts);
    Var gather_cols(Var a, const std::vector<int>& index);  // out[:,j] = a[:,index[j]]

    // ---- rows (point clouds are [B*N, F] row blocks: cloud b owns rows b*N .. b*N+N-1)
    Var rows(Var a, int begin, int count);                 // a[begin : begin+count, :]
    Var concat_rows(const std::vector<Var>& parts);        // stacked top to bottom
    Var transpose(Var a);
    // out[r,:] = a[index[r],:]; index may repeat rows and has any length. The
    // backward scatter-adds in the order of r, serially (same bits for any -j).
    Var gather_rows(Var a, const std::vector<int>& index);
    // Each row repeated `times` times consecutively: out[r*times + j] = a[r].
    Var repeat_rows(Var a, int times);
    // Reductions over consecutive blocks of `group` rows (a.rows() must be a
    // multiple): out[s,:] reduces rows s*group .. s*group+group-1, so the result
    // has a.rows()/group rows. Max pooling over the points of each cloud is
    // segment_max(a, N), over the k neighbours of each point segment_max(a, k).
    // The backward of the max goes to the first row reaching the maximum.
    Var segment_max(Var a, int group);
    Var segment_mean(Var a, int group);
    Var segment_sum(Var a, int group);
    // For each block s of `group` rows, a_s^T b_s: a [S*group, P], b [S*group, Q]
    // -> [S*P, Q] (per-cloud weighted sums such as mixture centroids gamma^T x).
    Var segment_matmul_tn(Var a, Var b, int group);
    // |a_i - b_j|^2 for a [n,D], b [m,D] -> [n,m] (computed directly, not by the
    // |a|^2 + |b|^2 - 2ab expansion, so it is never negative).
    Var pairwise_sqdist(Var a, Var b);

    // ---- more pointwise functions
    Var leaky_relu(Var a, T slope);   // a for a > 0, slope * a otherwise
    Var sqrt(Var a);                  // a must be > 0 where a gradient is needed
    // ---- more along rows / columns
    Var logsumexp_rows(Var a);        // [R,1]: log sum_j exp(a_ij), stable
    Var logsumexp_cols(Var a);        // [1,C]: log sum_i exp(a_ij), stable
    Var log_softmax_rows(Var a);      // a - logsumexp_rows(a) broadcast, one node
    Var row_norm(Var a, T eps);       // [R,1]: sqrt(sum_j a_ij^2 + eps)
    Var normalize_rows(Var a, T eps); // a_i / sqrt(|a_i|^2 + eps)

    // ---- extension point for fused operations defined in other files
    // (nn/pointcloud, nn/differentiable_sinkhorn, nn/differentiable_kabsch).
    // Pushes a node holding `value` that depends on `inputs`. When the tape
    // records and some input needs a gradient, backward() calls back(grad)
    // with this node's gradient once its consumers are done; back passes
    // gradients on with add_grad(input, g). Returns the node.
    Var custom(Mat<T> value, const std::vector<Var>& inputs, std::function<void(const Mat<T>& grad)> back);
    // Adds g into the gradient of v (ignored when v needs none); for custom backwards.
    void add_grad(Var v, const Mat<T>& g);
    void add_grad(Var v, Mat<T>&& g);
    // Whether backward() will compute a gradient for v (false on a tape that does not record).
    bool needs_grad(Var v) const { return needs(v); }

    // W = L U for an LU-decomposed linear layer: L = I + strictly-lower(Lp),
    // U = strictly-upper(Up) + diag(du); Lp, Up [D,D], du [1,D].
    Var lu_compose(Var Lp, Var Up, Var du);

    // Rational-quadratic spline (Durkan et al. 2019) applied elementwise to x
    // [B,F], with theta [B, F*(3K-1)] holding for each column, in order, K
    // width logits, K height logits and K-1 interior derivative logits. The
    // spline maps [-bound, bound] onto itself and is the identity outside.
    // Returns y [B,F] and the per-sample log|det dy/dx| [B,1]. With all-zero
    // theta the spline is the identity. inverse=true maps y back to x (and
    // returns log|det dx/dy|); it is available when the tape does not record.
    std::pair<Var, Var> rq_spline(Var x, Var theta, int bins, T bound, bool inverse = false);

private:
    struct Node {
        Mat<T> value;
        Mat<T> grad;
        std::function<void()> back;
        Param<T>* param = nullptr;
        int partner = -1;  // a second output whose gradient also triggers `back`
        bool needs_grad = false;
    };
    std::vector<Node> nodes_;
    bool recording_;
    bool parallel_ = true;
    void run_backward(Var out, const Mat<T>& seed, bool to_params);

    bool needs(Var v) const { return recording_ && nodes_[v.id].needs_grad; }
    Var push(Mat<T>&& value, bool needs_grad);
    void accumulate(int id, const Mat<T>& g);
    void accumulate(int id, Mat<T>&& g);  // moves g in when the node has no gradient yet
    template <class Expr>
    void accumulate_expr(int id, const Expr& g);
    void check_same(Var a, Var b, const char* op) const;
    // rows/cols and concat_rows/concat_cols: the same op along axis 0 (rows) or 1 (columns).
    template <int Axis>
    Var slice_along(Var a, int begin, int count);
    template <int Axis>
    Var concat_along(const std::vector<Var>& parts);
};

extern template class Tape<float>;
extern template class Tape<double>;

// Numeric constants of the spline shared with the flows.
constexpr double kSplineMinWidth = 1e-3;
constexpr double kSplineMinHeight = 1e-3;
constexpr double kSplineMinDerivative = 1e-3;

}  // namespace orbit::nn
