#pragma once
// Entropic optimal transport: the Sinkhorn family, log-domain by default.
//
// Problem (GeomLoss / Séjourné et al. convention):
//   min_P  <C,P> + eps KL(P | a b^T) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b)
// with the generalized KL(p|q) = sum p log(p/q) - p + q. rho = infinity makes
// that marginal a hard constraint, so balanced, semi-relaxed and unbalanced
// problems are one solver. The plan is
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)
// and the updates are f = -lambda_a eps LSE_j(log b_j + (g_j - C_ij)/eps),
// lambda = rho / (rho + eps) (1 when rho is infinite), g likewise.
//
// Costs are an explicit N x M matrix, or |x - y|^p between point sets (p = 1
// or 2, optionally halved for GeomLoss parity) evaluated on the fly. Every
// pass over the N x M pairs is a blocked, streaming log-sum-exp with a SIMD
// exponential, OpenMP-parallel over rows, and gives the same bits for any
// thread count. Matrix-free ("online") passes use O(N + M) memory.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::ot {

inline constexpr double infinity = std::numeric_limits<double>::infinity();

enum class Norm { L1, L2, Linf };
// Which marginal(s) the stopping test measures. With the default alternating
// updates the second marginal is exact after each iteration, so A is the test.
enum class Marginal { A, B, Both };
// How the N x M costs are evaluated: Dense stores the cost matrix, Online
// recomputes costs from the points in every pass (memory O(N + M)). Auto uses
// Online for point sets (recomputing |x-y|^p is cheaper than streaming a stored
// matrix through memory) unless a dense plan is needed anyway and fits the budget.
enum class Storage { Auto, Dense, Online };
enum class Device { Auto, CPU, CUDA };  // CUDA: matrix-free point-set passes on the GPU
enum class PlanKind { None, Dense, Sparse };
// Arithmetic of the matrix-free point-set passes. Float32 does twice the
// pairs per SIMD instruction; each term carries ~1e-7 relative error, which
// bounds the reachable marginal tolerance (about 1e-6 in L1 at eps = 1e-3 of
// the cost scale). Explicit cost matrices and dense storage stay in double.
enum class Precision { Float64, Float32 };

struct SinkhornOptions {
    double eps = 0.01;          // entropic regularization, in cost units (> 0)
    double rho_a = infinity;    // KL penalty on P 1 vs a; infinity = hard constraint
    double rho_b = infinity;    // KL penalty on P^T 1 vs b
    double tol = 1e-6;          // stopping tolerance on the marginal violation
    int max_iter = 1000;        // iterations at the final eps
    int check_every = 1;        // test the stopping rule every k iterations (the test is free)
    Norm norm = Norm::L1;
    Marginal check = Marginal::A;
    bool eps_scaling = false;   // anneal eps from eps_start down to eps
    double scaling = 0.5;       // ratio between successive eps values when annealing, in (0,1)
    double eps_start = 0;       // 0: the largest cost (point sets: diameter^p)
    int iters_per_level = 1;    // iterations at each intermediate eps
    bool symmetric = false;     // averaged simultaneous updates (Feydy et al.), used by divergences
    // Over-relaxation of the alternating updates at the final eps,
    // f <- f + omega (f_sinkhorn - f), likewise g: 1 turns it off, a value in
    // (1, 2) fixes omega, 0 chooses it from the observed convergence rate of the
    // plain iterations (Lehmann et al. 2021: omega = 2 / (1 + sqrt(1 - rate)))
    // and falls back to 1 if the violation grows. Only with the default
    // alternating updates and a stopping test on marginal A or both.
    double overrelax = 0;
    bool log_domain = true;     // false: kernel mode with absorption (dense cost, opt-in fast path)
    double absorb_threshold = 1e3;  // kernel mode: absorb scalings into potentials beyond this
    Storage storage = Storage::Auto;
    std::size_t memory_budget = std::size_t(1) << 30;  // bytes allowed for a dense N x M matrix
    Device device = Device::Auto;
    Precision precision = Precision::Float64;
    Vector f_init, g_init;      // warm start (empty: zeros)
    // Point sets: split every pass over the pairs across the ranks of an MPI
    // run (every rank calls with the same inputs; the results are the same
    // bits as in one process). No effect in one process. sinkhorn_distributed.hpp.
    bool distributed = false;
    PlanKind plan = PlanKind::None;
    double plan_threshold = 0;  // sparse plan: keep entries >= threshold (absolute)
    int plan_topk = 0;          // sparse plan: keep the k largest entries of each row (0: threshold only)
    // Called after each annealing level and at each stopping test with the
    // iteration count, the current eps and the marginal violation (inf when
    // not measured); for progress reports. Not called from parallel code.
    std::function<void(int iteration, double eps, double marginal_error)> monitor;
};

// A sparse plan in CSR form (rows x cols), as written under /plan/ in HDF5.
struct SparsePlan {
    std::int64_t rows = 0, cols = 0;
    std::vector<double> data;
    std::vector<std::int64_t> indices, indptr;
};

struct SinkhornResult {
    Vector f, g;                 // dual potentials
    double cost = 0;             // <C, P>
    double primal = 0;           // entropic primal objective at P
    double dual = 0;             // dual objective at (f, g); equals primal at the optimum
    double mass = 0;             // total mass of P
    double marginal_error = 0;   // violation of both marginal conditions by the returned plan, in the chosen norm
    double eps = 0;              // the final eps
    int iterations = 0;          // total, including the annealing levels
    double overrelax = 1;        // the over-relaxation factor the final iterations used (1: none)
    bool converged = false;
    bool finite = true;          // false: a numerical failure stopped the solve; f, g hold the last finite iterate
    std::string storage;         // "dense", "online", "kernel" or "cuda"
    Vector row_marginal, col_marginal;  // P 1 and P^T 1
    std::optional<Matrix> plan;
    std::optional<SparsePlan> sparse_plan;
};

// Cost |x - y|^p between points; half = true gives |x-y|^2/2 (GeomLoss' p = 2).
struct CostSpec {
    int p = 2;
    bool half = false;
};

// The dense cost matrix C_ij = |x_i - y_j|^p (halved with spec.half).
Matrix cost_matrix(const Points& x, const Points& y, const CostSpec& spec);

// Exact (unregularized) transport solved by the network simplex, reported in the
// same form as a Sinkhorn solve: cost = primal = dual = <C,P>, the optimal dual
// potentials f, g, marginals, and the plan dense or sparse as opt.plan asks.
SinkhornResult exact_transport(const Matrix& cost, const Vector& a, const Vector& b, const SinkhornOptions& opt = {});

// Explicit cost matrix (N x M), marginals a (N) and b (M).
SinkhornResult sinkhorn(const Matrix& cost, const Vector& a, const Vector& b, const SinkhornOptions& opt = {});
// Weighted point sets x (N x D) and y (M x D).
SinkhornResult sinkhorn(const Points& x, const Vector& a, const Points& y, const Vector& b, const CostSpec& c,
                        const SinkhornOptions& opt = {});
// The same for a caller done with the point sets: on the CPU, x and y are
// released (left empty) as soon as the solver holds its own copy of them, a
// quarter of the memory of a large problem. The same result.
SinkhornResult sinkhorn(Points&& x, const Vector& a, Points&& y, const Vector& b, const CostSpec& c,
                        const SinkhornOptions& opt = {});
// Independent problems, one per pair (x[k], y[k]); results in order.
std::vector<SinkhornResult> sinkhorn_batch(const std::vector<Points>& x, const std::vector<Vector>& a,
                                           const std::vector<Points>& y, const std::vector<Vector>& b,
                                           const CostSpec& c, const SinkhornOptions& opt = {});

}  // namespace orbit::ot
