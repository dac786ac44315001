#pragma once
// Differentiable entropic optimal transport for small problems (the
// component-to-component matching of mixture registration: K up to ~128 plus
// a slack row and column), as one fused tape node.
//
// Problem and convention (the same as orbit::ot::sinkhorn, balanced):
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)
// with f, g from a FIXED number of alternating log-domain updates started at
// f = g = 0:
//   f_i = -eps LSE_j(log b_j + (g_j - C_ij) / eps)
//   g_j = -eps LSE_i(log a_i + (f_i - C_ij) / eps)
// (f first, then g, so the column marginals of P are exactly b after each
// iteration and the row marginals approach a). The marginals are given as
// logarithms, log a and log b (they come from a network's mixing weights, so
// they may carry gradients); a and b should have the same total mass. A slack
// ("outside the overlap") slot is an extra row/column of C and an extra entry
// of log a / log b that the caller appends (concat_rows / concat_cols).
//
// Gradients: reverse mode through the unrolled iterations, with an analytic
// backward over the stored iterates (f^t, g^t for every t; n+m values each).
// The backward recomputes each iteration's softmax weights and costs the same
// as the forward, about 2 L n m exponentials. Why unrolled and not implicit
// differentiation: with a fixed, small number of iterations (30 is typical)
// the returned plan is not the fixed point, and the unrolled gradient is the
// exact gradient of what the forward returned (the finite-difference test
// checks exactly that), it needs no linear solve of size n+m per backward, and
// it stays exact when eps is large relative to the costs and the iteration
// has not converged. Internally the iterations run in double for either T.
// Gradients flow to the cost C and to both log-marginals; eps is a constant.
#include "orbit/nn/tape.hpp"

namespace orbit::nn {

struct SinkhornLayerOptions {
    double eps = 0.05;   // entropic regularization, in cost units (> 0)
    int iterations = 30; // alternating (f, g) updates (>= 1)
};

// cost [n,m]; log_a with n entries and log_b with m entries, each either a
// row [1,n] or a column [n,1] (their gradients keep the shape). Returns the
// log-plan log P [n,m] = log a_i + log b_j + (f_i + g_j - C_ij)/eps.
template <class T>
Var log_sinkhorn(Tape<T>& tape, Var cost, Var log_a, Var log_b, const SinkhornLayerOptions& options);

// exp(log_sinkhorn(...)): the plan P [n,m].
template <class T>
Var sinkhorn_plan(Tape<T>& tape, Var cost, Var log_a, Var log_b, const SinkhornLayerOptions& options);

// The same iterations without a tape (double): the log-plan, for tests and inference.
Mat<double> log_sinkhorn_values(const Mat<double>& cost, const Mat<double>& log_a, const Mat<double>& log_b,
                                const SinkhornLayerOptions& options);

}  // namespace orbit::nn
