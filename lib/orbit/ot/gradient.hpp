#pragma once
// Gradients of entropic transport values from the dual potentials (the
// envelope theorem, as GeomLoss computes them): at the optimum the value's
// derivative with respect to a parameter of the problem is the partial
// derivative of the Lagrangian at fixed (P, f, g). For point sets,
//   d OT / d x_i = sum_j P_ij grad_1 C(x_i, y_j),   d OT / d y_j = sum_i P_ij grad_2 C(x_i, y_j),
// and for the weights of the entropic problem (KL reference a b^T),
//   d OT / d a_i = phi_a(f_i) - eps (sum_j b_j exp((f_i + g_j - C_ij)/eps) - |b|),
// with phi(f) = f for a hard marginal and -rho (exp(-f/rho) - 1) for a KL
// penalty; at a balanced optimum with |a| = |b| = 1 this is f_i. The
// divergence S = OT(a,b) - OT(a,a)/2 - OT(b,b)/2 differentiates term by
// term; a self term depends on x through both of its arguments, which by
// symmetry doubles its one-sided derivative.
#include "orbit/ot/divergence.hpp"
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::ot {

struct TransportGradient {
    Matrix grad_x, grad_y;  // N x D, M x D (empty for explicit cost matrices)
    Vector grad_a, grad_b;  // N, M (empty where the value is not differentiable in the weights)
};

// sum_j P_ij grad_1 C(x_i, y_j) for the plan P_ij = a_i b_j exp((f_i + g_j - C_ij)/eps)
// (rows, N x D); transpose the roles of x and y for the second argument.
Matrix plan_position_gradient(const Points& x, const Vector& a, const Vector& f, const Points& y, const Vector& b,
                              const Vector& g, double eps, const CostSpec& c);

// The gradient of r.dual (the entropic optimum OT_eps) of a solved Sinkhorn problem.
TransportGradient sinkhorn_gradient(const Points& x, const Vector& a, const Points& y, const Vector& b,
                                    const CostSpec& c, const SinkhornOptions& opt, const SinkhornResult& r);
// Explicit costs: the weights' gradients of r.dual only.
TransportGradient sinkhorn_weight_gradient(const Matrix& cost, const Vector& a, const Vector& b,
                                           const SinkhornOptions& opt, const SinkhornResult& r);
// Partial transport: the positions' gradients of the entropic objective
// (r.f holds the potentials with the mass multiplier; -inf rows carry nothing).
TransportGradient partial_gradient(const Points& x, const Points& y, const CostSpec& c, const SinkhornResult& r);
// The gradient of d.value, the entropic Sinkhorn divergence.
TransportGradient divergence_gradient(const Points& x, const Vector& a, const Points& y, const Vector& b,
                                      const CostSpec& c, const SinkhornOptions& opt, const DivergenceResult& d);
// The gradient of the exact transport cost with respect to the positions,
// sum_j P_ij grad C, for an optimal plan P (N x M); the weights' gradients
// are the exact dual potentials (left to the caller).
TransportGradient exact_position_gradient(const Points& x, const Points& y, const Matrix& plan, const CostSpec& c);

// A Sinkhorn divergence as a loss: its value and its gradients, for
// gradient-based training (a network's output cloud x against a target y).
struct DivergenceLoss {
    double value = 0;
    bool converged = false;
    TransportGradient gradient;
};
DivergenceLoss sinkhorn_divergence_loss(const Points& x, const Vector& a, const Points& y, const Vector& b,
                                        const CostSpec& c, const SinkhornOptions& opt = {});

}  // namespace orbit::ot
