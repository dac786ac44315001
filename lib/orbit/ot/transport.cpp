#include "orbit/ot/transport.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/ot/divergence.hpp"
#include "orbit/ot/gromov.hpp"
#include "orbit/ot/partial.hpp"

namespace orbit::ot {
namespace {

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

// The three problems of a divergence reported as one: the cross problem's
// numbers, converged and finite only if all three are, iterations summed.
SinkhornResult merged(DivergenceResult& d) {
    SinkhornResult r = std::move(d.xy);
    r.converged = r.converged && d.xx.converged && d.yy.converged;
    r.finite = r.finite && d.xx.finite && d.yy.finite;
    r.iterations += d.xx.iterations + d.yy.iterations;
    return r;
}

void solve_divergence(const TransportInput& in, const TransportRequest& q, TransportRun& run) {
    const SinkhornOptions& o = q.sinkhorn;
    require(in.points() || (in.cost_xx.size() > 0 && in.cost_yy.size() > 0),
            "divergence: explicit costs need the self costs C(x,x) and C(y,y) as well");
    DivergenceResult d = in.points() ? sinkhorn_divergence(in.x, in.a, in.y, in.b, q.cost, o)
                                     : sinkhorn_divergence(in.cost, in.cost_xx, in.cost_yy, in.a, in.b, o);
    run.values.push_back(q.divergence_of == DivergenceOf::Cost ? d.cost_value : d.value);
    if (q.gradient) {
        if (in.points()) {
            run.gradients.push_back(divergence_gradient(in.x, in.a, in.y, in.b, q.cost, o, d));
        } else {
            TransportGradient g;
            const TransportGradient xy = sinkhorn_weight_gradient(in.cost, in.a, in.b, o, d.xy);
            const TransportGradient xx = sinkhorn_weight_gradient(in.cost_xx, in.a, in.a, o, d.xx);
            const TransportGradient yy = sinkhorn_weight_gradient(in.cost_yy, in.b, in.b, o, d.yy);
            g.grad_a = xy.grad_a - 0.5 * (xx.grad_a + xx.grad_b);
            g.grad_b = xy.grad_b - 0.5 * (yy.grad_a + yy.grad_b);
            run.gradients.push_back(std::move(g));
        }
    }
    run.results.push_back(merged(d));
}

// The exact solvers form the dense cost matrix of point sets.
void require_small(const TransportInput& in) {
    if (in.points())
        require(double(in.x.rows()) * in.y.rows() <= 4e6, "exact transport is meant for small problems (N*M <= 4e6)");
}

void solve_exact(const TransportInput& in, const TransportRequest& q, TransportRun& run) {
    require_small(in);
    SinkhornOptions o = q.sinkhorn;
    const bool need_plan = q.gradient && in.points() && o.plan != PlanKind::Dense;
    if (need_plan) o.plan = PlanKind::Dense;
    SinkhornResult r = exact_transport(in.points() ? cost_matrix(in.x, in.y, q.cost) : in.cost, in.a, in.b, o);
    if (q.gradient) {
        TransportGradient g;
        if (in.points()) g = exact_position_gradient(in.x, in.y, *r.plan, q.cost);
        g.grad_a = r.f;
        g.grad_b = r.g;
        run.gradients.push_back(std::move(g));
    }
    if (need_plan) r.plan.reset();
    run.results.push_back(std::move(r));
}

// GW between the intra-cloud costs |x_i - x_k|^p (p = 2: POT's ot.dist), with
// eps, tol (inner and outer), max_iter (outer) and eps scaling from the Sinkhorn options.
void solve_gromov(const TransportInput& in, const TransportRequest& q, TransportRun& run) {
    require(in.points(), "Gromov-Wasserstein needs point sets (their distance matrices are compared)");
    const SinkhornOptions& o = q.sinkhorn;
    GromovOptions g;
    g.eps = o.eps, g.tol = o.tol, g.inner_tol = o.tol, g.max_iter = o.max_iter;
    const Matrix c1 = cost_matrix(in.x, in.x, q.cost), c2 = cost_matrix(in.y, in.y, q.cost);
    if (o.eps_scaling) g.eps_start = o.eps_start > 0 ? o.eps_start : std::max(c1.maxCoeff(), c2.maxCoeff()), g.scaling = o.scaling;
    GromovResult gr = entropic_gromov_wasserstein(c1, c2, in.a, in.b, g);
    SinkhornResult r;
    r.cost = r.primal = r.dual = gr.value;
    r.eps = o.eps;
    r.iterations = gr.iterations;
    r.converged = gr.converged;
    r.storage = "dense";
    r.row_marginal = gr.plan.rowwise().sum();
    r.col_marginal = gr.plan.colwise().sum().transpose();
    r.mass = gr.plan.sum();
    r.marginal_error = std::max((r.row_marginal - in.a).lpNorm<1>(), (r.col_marginal - in.b).lpNorm<1>());
    if (o.plan != PlanKind::None) r.plan = std::move(gr.plan);
    run.results.push_back(std::move(r));
}

}  // namespace

TransportRun solve_transport(const std::vector<TransportInput>& problems, const TransportRequest& q) {
    TransportRun run;
    run.problem = q.problem;
    run.divergence_of = q.divergence_of;
    if (q.gradient) {
        require(q.problem != Problem::Sliced && q.problem != Problem::Gromov,
                "gradients are not available for sliced and Gromov-Wasserstein distances");
        require(!(q.problem == Problem::Divergence && q.divergence_of == DivergenceOf::Cost),
                "gradients need the entropic divergence (the transport-cost variant has no envelope theorem)");
    }
    const bool points = !problems.empty() && problems[0].points();
    if (q.problem == Problem::Sinkhorn && points) {
        // One problem after the other, on the inputs themselves (no copies:
        // at 10^6 points they are most of the memory).
        for (const TransportInput& in : problems) {
            run.results.push_back(sinkhorn(in.x, in.a, in.y, in.b, q.cost, q.sinkhorn));
            if (q.gradient) run.gradients.push_back(sinkhorn_gradient(in.x, in.a, in.y, in.b, q.cost, q.sinkhorn, run.results.back()));
        }
        return run;
    }
    for (const TransportInput& in : problems) {
        switch (q.problem) {
            case Problem::Sliced:
                require(in.points(), "sliced distances need point sets");
                run.values.push_back(sliced_wasserstein(in.x, in.a, in.y, in.b, q.sliced));
                break;
            case Problem::Exact: solve_exact(in, q, run); break;
            case Problem::Gromov: solve_gromov(in, q, run); break;
            case Problem::Divergence: solve_divergence(in, q, run); break;
            case Problem::Partial: {
                if (q.exact) {
                    require(!q.gradient, "gradients are not available for exact partial transport");
                    require_small(in);
                    run.results.push_back(exact_partial(in.points() ? cost_matrix(in.x, in.y, q.cost) : in.cost, in.a, in.b,
                                                        q.mass, q.sinkhorn));
                    break;
                }
                SinkhornResult r = in.points() ? partial(in.x, in.a, in.y, in.b, q.cost, q.mass, q.sinkhorn)
                                               : partial(in.cost, in.a, in.b, q.mass, q.sinkhorn);
                if (q.gradient) run.gradients.push_back(in.points() ? partial_gradient(in.x, in.y, q.cost, r) : TransportGradient{});
                run.results.push_back(std::move(r));
                break;
            }
            case Problem::Sinkhorn: {
                SinkhornResult r = sinkhorn(in.cost, in.a, in.b, q.sinkhorn);
                if (q.gradient) run.gradients.push_back(sinkhorn_weight_gradient(in.cost, in.a, in.b, q.sinkhorn, r));
                run.results.push_back(std::move(r));
                break;
            }
        }
    }
    return run;
}

TransportRun solve_transport(std::vector<TransportInput>&& problems, const TransportRequest& q) {
    if (q.problem != Problem::Sinkhorn || q.gradient || problems.empty() || !problems[0].points())
        return solve_transport(std::as_const(problems), q);
    TransportRun run;
    run.problem = q.problem;
    run.divergence_of = q.divergence_of;
    for (TransportInput& in : problems) run.results.push_back(sinkhorn(std::move(in.x), in.a, std::move(in.y), in.b, q.cost, q.sinkhorn));
    return run;
}

std::vector<ConvergenceTrouble> convergence_troubles(const TransportRun& run, double tol) {
    std::vector<ConvergenceTrouble> out;
    for (std::size_t k = 0; k < run.results.size(); ++k) {
        const SinkhornResult& r = run.results[k];
        const std::string which = run.results.size() > 1 ? " (problem " + std::to_string(k) + ")" : "";
        if (!r.finite)
            out.push_back({"numerical failure after " + std::to_string(r.iterations) + " iterations" + which +
                               "; the last finite iterate was kept (marginal error " + fmt(r.marginal_error) + ")",
                           true});
        else if (!r.converged && run.problem == Problem::Gromov)
            out.push_back({"did not converge in " + std::to_string(r.iterations) + " outer iterations" + which +
                               ": the plan still changes by more than tol " + fmt(tol), false});
        else if (!r.converged)
            out.push_back({"did not converge in " + std::to_string(r.iterations) + " iterations" + which +
                               ": marginal error " + fmt(r.marginal_error) + " > tol " + fmt(tol),
                           false});
    }
    return out;
}

void progress_log(int iteration, double eps, double err) {
    log::detail("iteration " + std::to_string(iteration) + ", eps " + fmt(eps) +
                (std::isinf(err) ? std::string(" (annealing)") : ", marginal error " + fmt(err)));
}

}  // namespace orbit::ot
