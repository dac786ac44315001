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
};

extern template class Tape<float>;
extern template class Tape<double>;

// Numeric constants of the spline shared with the flows.
constexpr double kSplineMinWidth = 1e-3;
constexpr double kSplineMinHeight = 1e-3;
constexpr double kSplineMinDerivative = 1e-3;

}  // namespace orbit::nn
