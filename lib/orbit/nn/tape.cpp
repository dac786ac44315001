#include "orbit/nn/tape.hpp"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "orbit/core/error.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/nn/spline.hpp"

namespace orbit::nn {

namespace {

// Runs fn(begin, end) over the rows of a product in two fixed halves, on two
// threads when -j allows. The split depends on the sizes only, never on the
// thread count, and each half is an ordinary serial Eigen product, so the
// bits are the same for -j 1 and -j 2.
template <class Fn>
void split_rows(bool parallel, Eigen::Index rows, double flops, Fn&& fn) {
    // Only large products are worth a parallel region (small ones lose more to
    // thread wake-ups than they gain, badly so on a loaded machine).
    if (!parallel || flops < 3e7 || rows < 32) {
        fn(Eigen::Index(0), rows);
        return;
    }
    const Eigen::Index mid = rows / 2;
    const int nt = std::min(2, threads());
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int b = 0; b < 2; ++b) {
        if (b == 0) fn(Eigen::Index(0), mid);
        else fn(mid, rows);
    }
}

template <class T>
Mat<T> zeros_like(const Mat<T>& m) {
    return Mat<T>::Zero(m.rows(), m.cols());
}

std::string dims(Eigen::Index r, Eigen::Index c) { return "[" + std::to_string(r) + "," + std::to_string(c) + "]"; }

}  // namespace

// ---------------------------------------------------------------------------
// bookkeeping

template <class T>
void Tape<T>::tune_allocator() {
    static const bool done = [] {
        // orbit parallelizes products itself (split_rows), deterministically
        Eigen::setNbThreads(1);
#ifdef M_MMAP_THRESHOLD
        mallopt(M_MMAP_THRESHOLD, 256 << 20);
        mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
        return true;
    }();
    (void)done;
}

template <class T>
Var Tape<T>::push(Mat<T>&& value, bool needs_grad) {
    Node n;
    n.value = std::move(value);
    n.needs_grad = recording_ && needs_grad;
    nodes_.push_back(std::move(n));
    return Var{static_cast<int>(nodes_.size()) - 1};
}

template <class T>
void Tape<T>::accumulate(int id, const Mat<T>& g) {
    Node& n = nodes_[id];
    if (!n.needs_grad) return;
    if (n.grad.size() == 0) n.grad = g;
    else n.grad += g;
}

template <class T>
void Tape<T>::accumulate(int id, Mat<T>&& g) {
    Node& n = nodes_[id];
    if (!n.needs_grad) return;
    if (n.grad.size() == 0) n.grad = std::move(g);
    else n.grad += g;
}

template <class T>
template <class Expr>
void Tape<T>::accumulate_expr(int id, const Expr& g) {
    Node& n = nodes_[id];
    if (!n.needs_grad) return;
    if (n.grad.size() == 0) n.grad = g;
    else n.grad += g;
}

template <class T>
void Tape<T>::check_same(Var a, Var b, const char* op) const {
    const auto& x = value(a);
    const auto& y = value(b);
    if (x.rows() != y.rows() || x.cols() != y.cols())
        throw Error(std::string("nn: ") + op + " of " + dims(x.rows(), x.cols()) + " and " + dims(y.rows(), y.cols()));
}

template <class T>
Var Tape<T>::constant(Mat<T> value) {
    return push(std::move(value), false);
}

template <class T>
Var Tape<T>::param(Param<T>& p) {
    Var v = push(Mat<T>(), true);  // value() reads p.value
    nodes_[v.id].param = &p;
    return v;
}

template <class T>
void Tape<T>::backward(Var loss) {
    require(value(loss).size() == 1, "nn: backward() from a node that is not a scalar");
    backward(loss, Mat<T>::Ones(1, 1));
}

template <class T>
void Tape<T>::backward(Var out, const Mat<T>& seed) {
    run_backward(out, seed, true);
}

template <class T>
void Tape<T>::backward_detached(Var loss) {
    require(value(loss).size() == 1, "nn: backward() from a node that is not a scalar");
    run_backward(loss, Mat<T>::Ones(1, 1), false);
}

template <class T>
void Tape<T>::add_param_grads() {
    for (int i = static_cast<int>(nodes_.size()) - 1; i >= 0; --i) {
        Node& n = nodes_[i];
        if (!n.param || n.grad.size() == 0) continue;
        if (n.param->grad.size() == 0) n.param->grad = n.grad;
        else n.param->grad += n.grad;
    }
}

template <class T>
void Tape<T>::run_backward(Var out, const Mat<T>& seed, bool to_params) {
    require(recording_, "nn: backward() on a tape that does not record");
    for (auto& n : nodes_) n.grad.resize(0, 0);
    nodes_[out.id].grad = seed;
    for (int i = out.id; i >= 0; --i) {
        Node& n = nodes_[i];
        const bool has = n.grad.size() != 0 || (n.partner >= 0 && nodes_[n.partner].grad.size() != 0);
        if (!has) continue;
        if (n.back) n.back();
        if (n.grad.size() == 0 || !to_params) continue;
        if (n.param) {
            if (n.param->grad.size() == 0) n.param->grad = n.grad;
            else n.param->grad += n.grad;
        }
    }
}

// ---------------------------------------------------------------------------
// linear algebra

template <class T>
Var Tape<T>::linear(Var x, Var W, Var b) {
    const auto& X = value(x);
    const auto& Wm = value(W);
    const auto& bm = value(b);
    if (X.cols() != Wm.cols() || bm.rows() != 1 || bm.cols() != Wm.rows())
        throw Error("nn: linear layer with input " + dims(X.rows(), X.cols()) + ", weight " +
                    dims(Wm.rows(), Wm.cols()) + ", bias " + dims(bm.rows(), bm.cols()));
    Mat<T> Y(X.rows(), Wm.rows());
    const double flops = 2.0 * double(X.rows()) * double(X.cols()) * double(Wm.rows());
    split_rows(parallel_, X.rows(), flops, [&](Eigen::Index r0, Eigen::Index r1) {
        Y.middleRows(r0, r1 - r0).noalias() = X.middleRows(r0, r1 - r0) * Wm.transpose();
        Y.middleRows(r0, r1 - r0).rowwise() += bm.row(0);
    });
    Var y = push(std::move(Y), needs(x) || needs(W) || needs(b));
    if (nodes_[y.id].needs_grad) {
        nodes_[y.id].back = [this, x, W, b, y, flops] {
            const Mat<T>& G = nodes_[y.id].grad;
            const Mat<T>& Wv = value(W);
            const Mat<T>& Xv = value(x);
            if (needs(x)) {
                Mat<T> gx(G.rows(), Wv.cols());
                split_rows(parallel_, G.rows(), flops, [&](Eigen::Index r0, Eigen::Index r1) {
                    gx.middleRows(r0, r1 - r0).noalias() = G.middleRows(r0, r1 - r0) * Wv;
                });
                accumulate(x.id, std::move(gx));
            }
            if (needs(W)) {
                Mat<T> gW(G.cols(), Xv.cols());
                split_rows(parallel_, G.cols(), flops, [&](Eigen::Index r0, Eigen::Index r1) {
                    gW.middleRows(r0, r1 - r0).noalias() = G.middleCols(r0, r1 - r0).transpose() * Xv;
                });
                accumulate(W.id, std::move(gW));
            }
            if (needs(b)) accumulate_expr(b.id, G.colwise().sum());
        };
    }
    return y;
}

template <class T>
Var Tape<T>::matmul(Var a, Var b) {
    const auto& A = value(a);
    const auto& B = value(b);
    if (A.cols() != B.rows()) throw Error("nn: matmul of " + dims(A.rows(), A.cols()) + " and " + dims(B.rows(), B.cols()));
    Mat<T> Y(A.rows(), B.cols());
    Y.noalias() = A * B;
    Var y = push(std::move(Y), needs(a) || needs(b));
    if (nodes_[y.id].needs_grad) {
        nodes_[y.id].back = [this, a, b, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            if (needs(a)) {
                Mat<T> ga(G.rows(), value(b).rows());
                ga.noalias() = G * value(b).transpose();
                accumulate(a.id, ga);
            }
            if (needs(b)) {
                Mat<T> gb(value(a).cols(), G.cols());
                gb.noalias() = value(a).transpose() * G;
                accumulate(b.id, gb);
            }
        };
    }
    return y;
}

// ---------------------------------------------------------------------------
// elementwise

template <class T>
Var Tape<T>::add(Var a, Var b) {
    check_same(a, b, "add");
    Var y = push(value(a) + value(b), needs(a) || needs(b));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, b, y] {
            accumulate(a.id, nodes_[y.id].grad);
            accumulate(b.id, nodes_[y.id].grad);
        };
    return y;
}

template <class T>
Var Tape<T>::sub(Var a, Var b) {
    check_same(a, b, "sub");
    Var y = push(value(a) - value(b), needs(a) || needs(b));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, b, y] {
            accumulate(a.id, nodes_[y.id].grad);
            accumulate_expr(b.id, -nodes_[y.id].grad);
        };
    return y;
}

template <class T>
Var Tape<T>::mul(Var a, Var b) {
    check_same(a, b, "mul");
    Var y = push(value(a).cwiseProduct(value(b)), needs(a) || needs(b));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, b, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            if (needs(a)) accumulate_expr(a.id, G.cwiseProduct(value(b)));
            if (needs(b)) accumulate_expr(b.id, G.cwiseProduct(value(a)));
        };
    return y;
}

template <class T>
Var Tape<T>::div(Var a, Var b) {
    check_same(a, b, "div");
    Var y = push(value(a).cwiseQuotient(value(b)), needs(a) || needs(b));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, b, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            if (needs(a)) accumulate_expr(a.id, G.cwiseQuotient(value(b)));
            if (needs(b))
                accumulate_expr(b.id, -(G.cwiseProduct(nodes_[y.id].value)).cwiseQuotient(value(b)));
        };
    return y;
}

template <class T>
Var Tape<T>::add_row(Var a, Var r) {
    const auto& A = value(a);
    const auto& R = value(r);
    if (R.rows() != 1 || R.cols() != A.cols())
        throw Error("nn: add_row of " + dims(A.rows(), A.cols()) + " and " + dims(R.rows(), R.cols()));
    Mat<T> Y = A;
    Y.rowwise() += R.row(0);
    Var y = push(std::move(Y), needs(a) || needs(r));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, r, y] {
            accumulate(a.id, nodes_[y.id].grad);
            if (needs(r)) accumulate_expr(r.id, nodes_[y.id].grad.colwise().sum());
        };
    return y;
}

template <class T>
Var Tape<T>::mul_row(Var a, Var r) {
    const auto& A = value(a);
    const auto& R = value(r);
    if (R.rows() != 1 || R.cols() != A.cols())
        throw Error("nn: mul_row of " + dims(A.rows(), A.cols()) + " and " + dims(R.rows(), R.cols()));
    Mat<T> Y = A.array().rowwise() * R.row(0).array();
    Var y = push(std::move(Y), needs(a) || needs(r));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, r, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            if (needs(a)) accumulate_expr(a.id, (G.array().rowwise() * value(r).row(0).array()).matrix());
            if (needs(r)) accumulate_expr(r.id, G.cwiseProduct(value(a)).colwise().sum());
        };
    return y;
}

template <class T>
Var Tape<T>::mul_col(Var a, Var c) {
    const auto& A = value(a);
    const auto& C = value(c);
    if (C.cols() != 1 || C.rows() != A.rows())
        throw Error("nn: mul_col of " + dims(A.rows(), A.cols()) + " and " + dims(C.rows(), C.cols()));
    Mat<T> Y = A.array().colwise() * C.col(0).array();
    Var y = push(std::move(Y), needs(a) || needs(c));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, c, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            if (needs(a)) accumulate_expr(a.id, (G.array().colwise() * value(c).col(0).array()).matrix());
            if (needs(c)) accumulate_expr(c.id, G.cwiseProduct(value(a)).rowwise().sum());
        };
    return y;
}

template <class T>
Var Tape<T>::scale(Var a, T c) {
    Var y = push(value(a) * c, needs(a));
    if (nodes_[y.id].needs_grad) nodes_[y.id].back = [this, a, c, y] { accumulate_expr(a.id, nodes_[y.id].grad * c); };
    return y;
}

template <class T>
Var Tape<T>::add_scalar(Var a, T c) {
    Var y = push((value(a).array() + c).matrix(), needs(a));
    if (nodes_[y.id].needs_grad) nodes_[y.id].back = [this, a, y] { accumulate(a.id, nodes_[y.id].grad); };
    return y;
}

// Pointwise functions: the backward multiplies by a derivative computed from
// the input and/or the output value.
#define ORBIT_NN_POINTWISE(NAME, FORWARD, DERIV)                                                   \
    template <class T>                                                                             \
    Var Tape<T>::NAME(Var a) {                                                                     \
        const auto& X = value(a);                                                                  \
        Mat<T> Yv = (FORWARD).matrix();                                                            \
        Var y = push(std::move(Yv), needs(a));                                                     \
        if (nodes_[y.id].needs_grad)                                                               \
            nodes_[y.id].back = [this, a, y] {                                                     \
                const auto& X = value(a);                                                          \
                const auto& Y = nodes_[y.id].value;                                                \
                (void)X;                                                                           \
                (void)Y;                                                                           \
                accumulate_expr(a.id, (nodes_[y.id].grad.array() * (DERIV)).matrix());             \
            };                                                                                     \
        return y;                                                                                  \
    }

ORBIT_NN_POINTWISE(tanh, X.array().tanh(), (T(1) - Y.array().square()))
ORBIT_NN_POINTWISE(sigmoid, (T(1) / (T(1) + (-X.array()).exp())), (Y.array() * (T(1) - Y.array())))
ORBIT_NN_POINTWISE(silu, (X.array() / (T(1) + (-X.array()).exp())),
                   ([&] {
                       auto s = (T(1) / (T(1) + (-X.array()).exp())).eval();
                       return (s * (T(1) + X.array() * (T(1) - s))).eval();
                   }()))
// softplus(x) = max(x,0) + log1p(exp(-|x|)), stable for large |x|
ORBIT_NN_POINTWISE(softplus, (X.array().max(T(0)) + (-X.array().abs()).exp().log1p()),
                   (T(1) / (T(1) + (-X.array()).exp())))
ORBIT_NN_POINTWISE(exp, X.array().exp(), Y.array())
ORBIT_NN_POINTWISE(log, X.array().log(), (T(1) / X.array()))
ORBIT_NN_POINTWISE(square, X.array().square(), (T(2) * X.array()))
#undef ORBIT_NN_POINTWISE

template <class T>
Var Tape<T>::relu(Var a) {
    Var y = push(value(a).cwiseMax(T(0)), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            // select keeps the backward a single vectorized pass
            Mat<T> g = (value(a).array() > T(0)).select(nodes_[y.id].grad.array(), T(0)).matrix();
            accumulate(a.id, std::move(g));
        };
    return y;
}

template <class T>
Var Tape<T>::softclamp(Var a, T c) {
    const auto& X = value(a);
    Mat<T> Yv = (X.array() / (T(1) + X.array().abs() / c)).matrix();
    Var y = push(std::move(Yv), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, c, y] {
            // d/da [a / (1 + |a|/c)] = 1 / (1 + |a|/c)^2
            auto den = (T(1) + value(a).array().abs() / c).eval();
            accumulate_expr(a.id, (nodes_[y.id].grad.array() / den.square()).matrix());
        };
    return y;
}

template <class T>
Var Tape<T>::dropout(Var a, T p, Rng& rng) {
    require(p >= T(0) && p < T(1), "nn: dropout probability must lie in [0, 1)");
    const auto& X = value(a);
    Mat<T> mask(X.rows(), X.cols());
    const T keep = T(1) / (T(1) - p);
    for (Eigen::Index i = 0; i < mask.size(); ++i) mask.data()[i] = rng.uniform() < double(p) ? T(0) : keep;
    Var m = constant(std::move(mask));
    return mul(a, m);
}

// ---------------------------------------------------------------------------
// along rows and reductions

template <class T>
Var Tape<T>::softmax_rows(Var a) {
    const auto& X = value(a);
    Mat<T> Y = (X.colwise() - X.rowwise().maxCoeff()).array().exp().matrix();
    Y.array().colwise() /= Y.rowwise().sum().array();
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            const Mat<T>& S = nodes_[y.id].value;
            const Mat<T>& G = nodes_[y.id].grad;
            Eigen::Matrix<T, Eigen::Dynamic, 1> dot = S.cwiseProduct(G).rowwise().sum();
            accumulate_expr(a.id, S.cwiseProduct((G.colwise() - dot)));
        };
    return y;
}

template <class T>
Var Tape<T>::cumsum_rows(Var a) {
    Mat<T> Y = value(a);
    for (Eigen::Index j = 1; j < Y.cols(); ++j) Y.col(j) += Y.col(j - 1);
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            // the adjoint of a cumulative sum is a reversed cumulative sum
            Mat<T> g = nodes_[y.id].grad;
            for (Eigen::Index j = g.cols() - 2; j >= 0; --j) g.col(j) += g.col(j + 1);
            accumulate(a.id, g);
        };
    return y;
}

template <class T>
Var Tape<T>::sum_rows(Var a) {
    Var y = push(value(a).rowwise().sum(), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            const auto& X = value(a);
            accumulate_expr(a.id, nodes_[y.id].grad.col(0).replicate(1, X.cols()));
        };
    return y;
}

template <class T>
Var Tape<T>::sum(Var a) {
    Mat<T> s(1, 1);
    s(0, 0) = value(a).sum();
    Var y = push(std::move(s), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            const auto& X = value(a);
            accumulate_expr(a.id, Mat<T>::Constant(X.rows(), X.cols(), nodes_[y.id].grad(0, 0)));
        };
    return y;
}

template <class T>
Var Tape<T>::mean(Var a) {
    require(value(a).size() > 0, "nn: mean of an empty tensor");
    return scale(sum(a), T(1) / T(value(a).size()));
}

namespace {
// The block [begin, begin + count) of m along axis 0 (rows) or 1 (columns), and m's extent along it.
template <int Axis, class M>
auto middle(M&& m, Eigen::Index begin, Eigen::Index count) {
    if constexpr (Axis == 0) return m.middleRows(begin, count);
    else return m.middleCols(begin, count);
}
template <int Axis, class M>
Eigen::Index extent(const M& m) {
    return Axis == 0 ? m.rows() : m.cols();
}
}  // namespace

template <class T>
template <int Axis>
Var Tape<T>::slice_along(Var a, int begin, int count) {
    const auto& X = value(a);
    require(begin >= 0 && count >= 0 && begin + count <= extent<Axis>(X),
            Axis == 0 ? "nn: row slice out of range" : "nn: column slice out of range");
    Var y = push(Mat<T>(middle<Axis>(X, begin, count)), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, begin, count, y] {
            Node& n = nodes_[a.id];
            if (n.grad.size() == 0) {
                n.grad = zeros_like(value(a));
                middle<Axis>(n.grad, begin, count) = nodes_[y.id].grad;
            } else {
                middle<Axis>(n.grad, begin, count) += nodes_[y.id].grad;
            }
        };
    return y;
}

template <class T>
template <int Axis>
Var Tape<T>::concat_along(const std::vector<Var>& parts) {
    require(!parts.empty(), "nn: concat of nothing");
    constexpr int Other = 1 - Axis;
    const Eigen::Index across = extent<Other>(value(parts[0]));
    Eigen::Index total = 0;
    bool any = false;
    for (Var p : parts) {
        require(extent<Other>(value(p)) == across, Axis == 0 ? "nn: row concat of tensors with different column counts"
                                                             : "nn: concat of tensors with different row counts");
        total += extent<Axis>(value(p));
        any = any || needs(p);
    }
    Mat<T> Y = Axis == 0 ? Mat<T>(total, across) : Mat<T>(across, total);
    Eigen::Index at = 0;
    for (Var p : parts) {
        const Eigen::Index c = extent<Axis>(value(p));
        middle<Axis>(Y, at, c) = value(p);
        at += c;
    }
    Var y = push(std::move(Y), any);
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, parts, y] {
            Eigen::Index at = 0;
            for (Var p : parts) {
                const Eigen::Index c = extent<Axis>(value(p));
                if (needs(p)) accumulate_expr(p.id, middle<Axis>(nodes_[y.id].grad, at, c));
                at += c;
            }
        };
    return y;
}

// clang-format off
template <class T> Var Tape<T>::rows(Var a, int begin, int count) { return slice_along<0>(a, begin, count); }
template <class T> Var Tape<T>::cols(Var a, int begin, int count) { return slice_along<1>(a, begin, count); }
template <class T> Var Tape<T>::concat_rows(const std::vector<Var>& parts) { return concat_along<0>(parts); }
template <class T> Var Tape<T>::concat_cols(const std::vector<Var>& parts) { return concat_along<1>(parts); }
// clang-format on

template <class T>
Var Tape<T>::gather_cols(Var a, const std::vector<int>& index) {
    const auto& X = value(a);
    Mat<T> Y(X.rows(), static_cast<Eigen::Index>(index.size()));
    for (std::size_t j = 0; j < index.size(); ++j) {
        require(index[j] >= 0 && index[j] < X.cols(), "nn: gather index out of range");
        Y.col(static_cast<Eigen::Index>(j)) = X.col(index[j]);
    }
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, index, y] {
            Mat<T> g = zeros_like(value(a));
            const Mat<T>& G = nodes_[y.id].grad;
            for (std::size_t j = 0; j < index.size(); ++j) g.col(index[j]) += G.col(static_cast<Eigen::Index>(j));
            accumulate(a.id, g);
        };
    return y;
}

template <class T>
Var Tape<T>::lu_compose(Var Lp, Var Up, Var du) {
    const Eigen::Index D = value(Lp).rows();
    require(value(Lp).cols() == D && value(Up).rows() == D && value(Up).cols() == D && value(du).rows() == 1 &&
                value(du).cols() == D,
            "nn: lu_compose expects [D,D], [D,D] and [1,D]");
    Mat<T> L = value(Lp).template triangularView<Eigen::StrictlyLower>();
    L.diagonal().setOnes();
    Mat<T> U = value(Up).template triangularView<Eigen::StrictlyUpper>();
    U.diagonal() = value(du).row(0).transpose();
    Mat<T> W(D, D);
    W.noalias() = L * U;
    Var y = push(std::move(W), needs(Lp) || needs(Up) || needs(du));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, Lp, Up, du, y, L, U] {
            const Mat<T>& G = nodes_[y.id].grad;
            if (needs(Lp)) {
                Mat<T> gL = G * U.transpose();
                accumulate(Lp.id, Mat<T>(gL.template triangularView<Eigen::StrictlyLower>()));
            }
            if (needs(Up) || needs(du)) {
                Mat<T> gU = L.transpose() * G;
                if (needs(Up)) accumulate(Up.id, Mat<T>(gU.template triangularView<Eigen::StrictlyUpper>()));
                if (needs(du)) accumulate_expr(du.id, gU.diagonal().transpose());
            }
        };
    return y;
}

// ---------------------------------------------------------------------------
// rational-quadratic spline (the kernels are in spline.cpp)

template <class T>
std::pair<Var, Var> Tape<T>::rq_spline(Var x, Var theta, int K, T bound, bool inverse) {
    const auto& X = value(x);
    const auto& TH = value(theta);
    require(K >= 2 && K <= spline::kMaxBins, "nn: spline bins must lie in [2, 64]");
    require(bound > T(0), "nn: spline tail bound must be positive");
    const Eigen::Index F = X.cols(), P = 3 * K - 1;
    if (TH.rows() != X.rows() || TH.cols() != F * P)
        throw Error("nn: spline of " + dims(X.rows(), X.cols()) + " with parameters " + dims(TH.rows(), TH.cols()) +
                    ", expected " + dims(X.rows(), F * P));
    require(!(inverse && recording_), "nn: the inverse spline is available for inference only");
    const double B = double(bound);
    const bool ng = needs(x) || needs(theta);
    // row-major storage: element (i, f) is i*F + f in x and its logits are a run of P in theta
    const Eigen::Index n = X.rows() * F;
    Mat<T> Y(X.rows(), F);
    Eigen::ArrayXd lde(n);
    auto saved = ng ? std::make_shared<spline::Saved>() : nullptr;
    spline::forward(X.data(), TH.data(), n, K, B, inverse, Y.data(), lde.data(), saved.get());
    Mat<T> LD(X.rows(), 1);
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
        double ld = 0;
        for (Eigen::Index f = 0; f < F; ++f) ld += lde[i * F + f];
        LD(i, 0) = T(ld);
    }
    Var y = push(std::move(Y), ng);
    Var ldv = push(std::move(LD), ng);
    if (ng) {
        // One closure on y handles both outputs: every consumer of either has a
        // larger id, so both gradients are complete when the loop reaches y.
        nodes_[y.id].partner = ldv.id;
        nodes_[y.id].back = [this, x, theta, y, ldv, B, F, saved] {
            const Mat<T>& GY = nodes_[y.id].grad;
            const Mat<T>& GL = nodes_[ldv.id].grad;
            Mat<T> gx(value(x).rows(), F);
            Mat<T> gth(value(theta).rows(), value(theta).cols());
            spline::backward(*saved, B, F, GY.size() ? GY.data() : nullptr, GL.size() ? GL.data() : nullptr,
                             gx.data(), gth.data());
            accumulate(x.id, std::move(gx));
            accumulate(theta.id, std::move(gth));
        };
    }
    return {y, ldv};
}

// ---------------------------------------------------------------------------
// rows, gathers and segment reductions (point clouds as [B*N, F] row blocks)

template <class T>
Var Tape<T>::transpose(Var a) {
    Var y = push(value(a).transpose(), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] { accumulate_expr(a.id, nodes_[y.id].grad.transpose()); };
    return y;
}

template <class T>
Var Tape<T>::gather_rows(Var a, const std::vector<int>& index) {
    const auto& X = value(a);
    const Eigen::Index R = static_cast<Eigen::Index>(index.size()), F = X.cols();
    for (int i : index) require(i >= 0 && i < X.rows(), "nn: gather_rows index out of range");
    Mat<T> Y(R, F);
    for (Eigen::Index r = 0; r < R; ++r) Y.row(r) = X.row(index[r]);
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, index, y] {
            // serial scatter-add in the order of r: the same bits for any thread count
            const Mat<T>& G = nodes_[y.id].grad;
            Mat<T> g = zeros_like(value(a));
            for (std::size_t r = 0; r < index.size(); ++r) g.row(index[r]) += G.row(static_cast<Eigen::Index>(r));
            accumulate(a.id, std::move(g));
        };
    return y;
}

template <class T>
Var Tape<T>::repeat_rows(Var a, int times) {
    require(times >= 1, "nn: repeat_rows needs times >= 1");
    const auto& X = value(a);
    Mat<T> Y(X.rows() * times, X.cols());
    for (Eigen::Index r = 0; r < X.rows(); ++r)
        for (int j = 0; j < times; ++j) Y.row(r * times + j) = X.row(r);
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, times, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            Mat<T> g(value(a).rows(), G.cols());
            for (Eigen::Index r = 0; r < g.rows(); ++r) {
                g.row(r) = G.row(r * times);
                for (int j = 1; j < times; ++j) g.row(r) += G.row(r * times + j);
            }
            accumulate(a.id, std::move(g));
        };
    return y;
}

namespace {
void check_group(Eigen::Index rows, int group, const char* op) {
    if (group < 1 || rows % group != 0)
        throw Error(std::string("nn: ") + op + " over groups of " + std::to_string(group) + " rows of a tensor with " +
                    std::to_string(rows) + " rows");
}
}  // namespace

template <class T>
Var Tape<T>::segment_max(Var a, int group) {
    const auto& X = value(a);
    check_group(X.rows(), group, "segment_max");
    const Eigen::Index S = X.rows() / group, F = X.cols();
    Mat<T> Y(S, F);
    // the row of the first maximum of each (segment, column), for the backward
    std::vector<int> arg(static_cast<std::size_t>(S * F));
    for (Eigen::Index s = 0; s < S; ++s) {
        const Eigen::Index r0 = s * group;
        Y.row(s) = X.row(r0);
        int* am = arg.data() + s * F;
        for (Eigen::Index f = 0; f < F; ++f) am[f] = static_cast<int>(r0);
        for (Eigen::Index r = r0 + 1; r < r0 + group; ++r) {
            const T* xr = X.row(r).data();
            T* yr = Y.row(s).data();
            for (Eigen::Index f = 0; f < F; ++f)
                if (xr[f] > yr[f]) {
                    yr[f] = xr[f];
                    am[f] = static_cast<int>(r);
                }
        }
    }
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y, F, arg = std::move(arg)] {
            const Mat<T>& G = nodes_[y.id].grad;
            Mat<T> g = zeros_like(value(a));
            for (Eigen::Index s = 0; s < G.rows(); ++s)
                for (Eigen::Index f = 0; f < F; ++f) g(arg[s * F + f], f) += G(s, f);
            accumulate(a.id, std::move(g));
        };
    return y;
}

template <class T>
Var Tape<T>::segment_sum(Var a, int group) {
    const auto& X = value(a);
    check_group(X.rows(), group, "segment_sum");
    const Eigen::Index S = X.rows() / group;
    Mat<T> Y(S, X.cols());
    for (Eigen::Index s = 0; s < S; ++s) {
        Y.row(s) = X.row(s * group);
        for (int r = 1; r < group; ++r) Y.row(s) += X.row(s * group + r);
    }
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, group, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            Mat<T> g(value(a).rows(), G.cols());
            for (Eigen::Index r = 0; r < g.rows(); ++r) g.row(r) = G.row(r / group);
            accumulate(a.id, std::move(g));
        };
    return y;
}

template <class T>
Var Tape<T>::segment_mean(Var a, int group) {
    return scale(segment_sum(a, group), T(1) / T(group));
}

template <class T>
Var Tape<T>::segment_matmul_tn(Var a, Var b, int group) {
    const auto& A = value(a);
    const auto& Bm = value(b);
    require(A.rows() == Bm.rows(), "nn: segment_matmul_tn of tensors with different row counts");
    check_group(A.rows(), group, "segment_matmul_tn");
    const Eigen::Index S = A.rows() / group, P = A.cols(), Q = Bm.cols();
    Mat<T> Y(S * P, Q);
    for (Eigen::Index s = 0; s < S; ++s)
        Y.middleRows(s * P, P).noalias() = A.middleRows(s * group, group).transpose() * Bm.middleRows(s * group, group);
    Var y = push(std::move(Y), needs(a) || needs(b));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, b, group, S, P, Q, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            const Mat<T>& Av = value(a);
            const Mat<T>& Bv = value(b);
            if (needs(a)) {
                Mat<T> ga(Av.rows(), P);
                for (Eigen::Index s = 0; s < S; ++s)
                    ga.middleRows(s * group, group).noalias() =
                        Bv.middleRows(s * group, group) * G.middleRows(s * P, P).transpose();
                accumulate(a.id, std::move(ga));
            }
            if (needs(b)) {
                Mat<T> gb(Bv.rows(), Q);
                for (Eigen::Index s = 0; s < S; ++s)
                    gb.middleRows(s * group, group).noalias() = Av.middleRows(s * group, group) * G.middleRows(s * P, P);
                accumulate(b.id, std::move(gb));
            }
        };
    return y;
}

template <class T>
Var Tape<T>::pairwise_sqdist(Var a, Var b) {
    const auto& A = value(a);
    const auto& Bm = value(b);
    require(A.cols() == Bm.cols(), "nn: pairwise_sqdist of points with different dimensions");
    const Eigen::Index n = A.rows(), m = Bm.rows(), D = A.cols();
    Mat<T> Y(n, m);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < m; ++j) {
            T s = 0;
            for (Eigen::Index d = 0; d < D; ++d) {
                const T e = A(i, d) - Bm(j, d);
                s += e * e;
            }
            Y(i, j) = s;
        }
    Var y = push(std::move(Y), needs(a) || needs(b));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, b, y] {
            // d/da_i = 2 sum_j G_ij (a_i - b_j) = 2 (rowsum(G)_i a_i - (G b)_i)
            const Mat<T>& G = nodes_[y.id].grad;
            const Mat<T>& Av = value(a);
            const Mat<T>& Bv = value(b);
            if (needs(a)) {
                Mat<T> ga = Av.array().colwise() * G.rowwise().sum().array();
                ga.noalias() -= G * Bv;
                accumulate(a.id, Mat<T>(ga * T(2)));
            }
            if (needs(b)) {
                Mat<T> gb = Bv.array().colwise() * G.colwise().sum().transpose().array();
                gb.noalias() -= G.transpose() * Av;
                accumulate(b.id, Mat<T>(gb * T(2)));
            }
        };
    return y;
}

// ---------------------------------------------------------------------------
// more pointwise and row functions

template <class T>
Var Tape<T>::leaky_relu(Var a, T slope) {
    const auto& X = value(a);
    Var y = push((X.array() > T(0)).select(X.array(), slope * X.array()).matrix(), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, slope, y] {
            const Mat<T>& G = nodes_[y.id].grad;
            accumulate(a.id, Mat<T>((value(a).array() > T(0)).select(G.array(), slope * G.array()).matrix()));
        };
    return y;
}

template <class T>
Var Tape<T>::sqrt(Var a) {
    Var y = push(value(a).array().sqrt().matrix(), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            accumulate_expr(a.id, (nodes_[y.id].grad.array() / (T(2) * nodes_[y.id].value.array())).matrix());
        };
    return y;
}

template <class T>
Var Tape<T>::logsumexp_rows(Var a) {
    const auto& X = value(a);
    require(X.cols() > 0, "nn: logsumexp over no columns");
    Eigen::Matrix<T, Eigen::Dynamic, 1> mx = X.rowwise().maxCoeff();
    Mat<T> Y = ((X.colwise() - mx).array().exp().rowwise().sum().log().matrix() + mx);
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            const Mat<T>& X = value(a);
            Mat<T> S = (X.colwise() - nodes_[y.id].value.col(0)).array().exp().matrix();
            accumulate(a.id, Mat<T>(S.array().colwise() * nodes_[y.id].grad.col(0).array()));
        };
    return y;
}

template <class T>
Var Tape<T>::logsumexp_cols(Var a) {
    const auto& X = value(a);
    require(X.rows() > 0, "nn: logsumexp over no rows");
    Eigen::Matrix<T, 1, Eigen::Dynamic> mx = X.colwise().maxCoeff();
    Mat<T> Y = ((X.rowwise() - mx).array().exp().colwise().sum().log().matrix() + mx);
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            const Mat<T>& X = value(a);
            Mat<T> S = (X.rowwise() - nodes_[y.id].value.row(0)).array().exp().matrix();
            accumulate(a.id, Mat<T>(S.array().rowwise() * nodes_[y.id].grad.row(0).array()));
        };
    return y;
}

template <class T>
Var Tape<T>::log_softmax_rows(Var a) {
    const auto& X = value(a);
    require(X.cols() > 0, "nn: log_softmax over no columns");
    Eigen::Matrix<T, Eigen::Dynamic, 1> mx = X.rowwise().maxCoeff();
    Mat<T> Z = X.colwise() - mx;
    Eigen::Matrix<T, Eigen::Dynamic, 1> lse = Z.array().exp().rowwise().sum().log().matrix();
    Z.colwise() -= lse;
    Var y = push(std::move(Z), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            // d/dx = G - softmax * rowsum(G)
            const Mat<T>& G = nodes_[y.id].grad;
            Eigen::Matrix<T, Eigen::Dynamic, 1> gs = G.rowwise().sum();
            Mat<T> S = nodes_[y.id].value.array().exp().matrix();
            accumulate(a.id, Mat<T>(G - Mat<T>(S.array().colwise() * gs.array())));
        };
    return y;
}

template <class T>
Var Tape<T>::row_norm(Var a, T eps) {
    Var y = push((value(a).rowwise().squaredNorm().array() + eps).sqrt().matrix(), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y] {
            Eigen::Matrix<T, Eigen::Dynamic, 1> c = nodes_[y.id].grad.col(0).cwiseQuotient(nodes_[y.id].value.col(0));
            accumulate(a.id, Mat<T>(value(a).array().colwise() * c.array()));
        };
    return y;
}

template <class T>
Var Tape<T>::normalize_rows(Var a, T eps) {
    const auto& X = value(a);
    Eigen::Matrix<T, Eigen::Dynamic, 1> n = (X.rowwise().squaredNorm().array() + eps).sqrt().matrix();
    Mat<T> Y = X.array().colwise() / n.array();
    Var y = push(std::move(Y), needs(a));
    if (nodes_[y.id].needs_grad)
        nodes_[y.id].back = [this, a, y, n] {
            // y = x / n, n = sqrt(|x|^2 + eps): dx = (G - y (y.G)) / n
            const Mat<T>& G = nodes_[y.id].grad;
            const Mat<T>& Yv = nodes_[y.id].value;
            Eigen::Matrix<T, Eigen::Dynamic, 1> dot = Yv.cwiseProduct(G).rowwise().sum();
            Mat<T> g = G - Mat<T>(Yv.array().colwise() * dot.array());
            g.array().colwise() /= n.array();
            accumulate(a.id, std::move(g));
        };
    return y;
}

// ---------------------------------------------------------------------------
// extension point

template <class T>
Var Tape<T>::custom(Mat<T> value, const std::vector<Var>& inputs, std::function<void(const Mat<T>&)> back) {
    bool any = false;
    for (Var v : inputs) any = any || needs(v);
    Var y = push(std::move(value), any);
    if (nodes_[y.id].needs_grad && back)
        nodes_[y.id].back = [this, y, back = std::move(back)] { back(nodes_[y.id].grad); };
    return y;
}

template <class T>
void Tape<T>::add_grad(Var v, const Mat<T>& g) {
    if (needs(v)) accumulate(v.id, g);
}

template <class T>
void Tape<T>::add_grad(Var v, Mat<T>&& g) {
    if (needs(v)) accumulate(v.id, std::move(g));
}

template class Tape<float>;
template class Tape<double>;

}  // namespace orbit::nn
