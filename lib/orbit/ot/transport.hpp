#pragma once
// One transport request over a list of independent problems: the solver
// dispatch behind orbit-sinkhorn (balanced/unbalanced Sinkhorn, divergence,
// partial, sliced and exact transport), with optional gradients.
#include <string>
#include <vector>

#include "orbit/ot/gradient.hpp"
#include "orbit/ot/sinkhorn.hpp"
#include "orbit/ot/sliced.hpp"

namespace orbit::ot {

// Gromov: entropic Gromov-Wasserstein between the point sets' intra-cloud
// cost matrices |x_i - x_k|^p (ot/gromov.hpp); the result's cost is GW(T), its plan T.
enum class Problem { Sinkhorn, Divergence, Partial, Sliced, Exact, Gromov };
// The value a divergence combines: the entropic optima (Feydy et al., GeomLoss)
// or the transport costs <C,P> of the three entropic plans (POT's
// empirical_sinkhorn_divergence).
enum class DivergenceOf { Entropic, Cost };

// Either two point sets, or an explicit cost matrix (with the self costs
// cost_xx, cost_yy for a divergence).
struct TransportInput {
    Points x, y;
    Matrix cost, cost_xx, cost_yy;
    Vector a, b;
    bool points() const { return x.rows() > 0 || y.rows() > 0; }
    Eigen::Index n() const { return points() ? x.rows() : cost.rows(); }
    Eigen::Index m() const { return points() ? y.rows() : cost.cols(); }
};

struct TransportRequest {
    Problem problem = Problem::Sinkhorn;
    CostSpec cost;
    SinkhornOptions sinkhorn;
    double mass = 0;          // Partial: the mass to move
    bool exact = false;       // Partial: without entropy (exact solver with dummy points)
    SlicedOptions sliced;
    DivergenceOf divergence_of = DivergenceOf::Entropic;
    bool gradient = false;    // also compute the value's gradient
};

struct TransportRun {
    Problem problem = Problem::Sinkhorn;
    DivergenceOf divergence_of = DivergenceOf::Entropic;
    std::vector<SinkhornResult> results;       // one per problem (none for sliced distances)
    std::vector<double> values;                // divergence or sliced distance per problem
    std::vector<TransportGradient> gradients;  // one per problem when asked for
};

// Throws orbit::Error for unusable data; option values are the caller's to
// check first. Gradients need point sets (for explicit costs only the
// weights' gradients are given) and are refused for sliced distances and for
// the transport-cost divergence (no envelope theorem applies to them).
TransportRun solve_transport(const std::vector<TransportInput>& problems, const TransportRequest& request);
// The same, releasing each Sinkhorn problem's point sets (in.x, in.y left
// empty) once the solver holds its own copy: less memory for large problems.
TransportRun solve_transport(std::vector<TransportInput>&& problems, const TransportRequest& request);

// A problem that did not converge, or stopped on a numerical failure (the
// last finite iterate kept), described in one line.
struct ConvergenceTrouble {
    std::string message;
    bool numerical = false;
};
std::vector<ConvergenceTrouble> convergence_troubles(const TransportRun& run, double tol);

// A SinkhornOptions::monitor that logs each annealing level and stopping test (log::detail).
void progress_log(int iteration, double eps, double marginal_error);

}  // namespace orbit::ot
