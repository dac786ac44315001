// orbit-sinkhorn: entropic optimal transport between point sets or for a cost matrix.
#include <cmath>

#include "orbit/cli/app.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/output.hpp"
#include "orbit/ot/input_file.hpp"
#include "orbit/ot/result_file.hpp"

using namespace orbit;

namespace {

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

struct Settings {
    std::string xs, ys, cost, cost_xx, cost_yy, a, b, plan = "none", norm = "l1", storage = "auto", device = "auto",
                                                   warm, of = "entropic";
    ot::TransportRequest q;
    double blur = 0, reach = 0, rho = 0, rho_a = 0, rho_b = 0, scaling = 0, budget_mb = 1024;
    int p = 2;
    bool half = false, divergence = false, exact = false, kernel = false, allow = false;
};

void declare(CLI::App& c, Settings& s) {
    ot::SinkhornOptions& o = s.q.sinkhorn;
    using CLI::IsMember;
    c.add_option("x", s.xs, "Source point set: FILE, FILE:/dataset or '-' ([N,D], or [B,N,D] for a batch)")->check(cli::ExistingFileOrStream);
    c.add_option("y", s.ys, "Target point set, as x")->check(cli::ExistingFileOrStream);
    c.add_option("--cost", s.cost, "Explicit N x M cost matrix FILE:/dataset instead of point sets (+inf: forbidden pair)")->check(cli::ExistingFileOrStream);
    c.add_option("--cost-xx", s.cost_xx, "With --cost and --divergence: the N x N self cost FILE:/dataset")->check(cli::ExistingFileOrStream);
    c.add_option("--cost-yy", s.cost_yy, "With --cost and --divergence: the M x M self cost FILE:/dataset")->check(cli::ExistingFileOrStream);
    c.add_option("--a", s.a, "Source weights FILE:/dataset (default: /weights of x, else uniform 1/N)");
    c.add_option("--b", s.b, "Target weights FILE:/dataset (default: /weights of y, else uniform 1/M)");
    c.add_option("--eps", o.eps, "Entropic regularization, in cost units")->capture_default_str();
    c.add_option("--blur", s.blur, "GeomLoss convention: eps = blur^p and, for p = 2, cost |x-y|^2/2");
    c.add_option("--p", s.p, "Cost exponent: |x-y|^p")->capture_default_str()->check(IsMember({1, 2}));
    c.add_flag("--half", s.half, "Halve the cost (|x-y|^2/2, as GeomLoss for p = 2)");
    c.add_option("--reach", s.reach, "Unbalanced: KL marginal penalties rho = reach^p on both sides");
    c.add_option("--rho", s.rho, "Unbalanced: KL marginal penalty on both sides (cost units; inf: hard)");
    c.add_option("--rho-a", s.rho_a, "KL penalty on the source marginal only (semi-relaxed)");
    c.add_option("--rho-b", s.rho_b, "KL penalty on the target marginal only (semi-relaxed)");
    c.add_option("--mass", s.q.mass, "Partial transport: move exactly this mass (0 < mass <= min(|a|,|b|))");
    c.add_flag("--divergence", s.divergence, "Debiased Sinkhorn divergence S = OT(a,b) - OT(a,a)/2 - OT(b,b)/2");
    c.add_option("--divergence-of", s.of, "What the divergence combines: entropic (the entropic optima, GeomLoss) or cost (<C,P> of the plans, POT)")
        ->capture_default_str()->check(IsMember({"entropic", "cost"}));
    c.add_option("--sliced", s.q.sliced.projections, "Sliced Wasserstein with this many random directions (uses --seed, --p)");
    c.add_flag("--exact", s.exact, "Exact (unregularized) transport plan and dual potentials, for small problems");
    c.add_flag("--grad", s.q.gradient, "Write the gradient of the reported value: /grad_x, /grad_y, /grad_a, /grad_b");
    c.add_option("--tol", o.tol, "Tolerance on the marginal violation")->capture_default_str();
    c.add_option("--max-iter", o.max_iter, "Maximum number of iterations at the final eps")->capture_default_str();
    c.add_option("--check-every", o.check_every, "Test the stopping rule every k iterations")->capture_default_str();
    c.add_option("--norm", s.norm, "Norm of the marginal violation: l1, l2 or linf")->capture_default_str()->check(IsMember({"l1", "l2", "linf"}));
    c.add_option("--scaling", s.scaling, "Epsilon scaling: ratio between successive eps (of blur with --blur)");
    c.add_option("--eps-start", o.eps_start, "First eps of the annealing (default: the largest cost)");
    c.add_option("--overrelax", o.overrelax, "Over-relaxation omega in [1,2) of the alternating updates; 1 turns it off, 0 picks it from the observed convergence rate")->capture_default_str();
    c.add_flag("--symmetric", o.symmetric, "Averaged symmetric updates instead of alternating ones");
    c.add_flag("--kernel", s.kernel, "Kernel mode with absorption (stores the N x M kernel; faster at large eps)");
    c.add_option("--storage", s.storage, "Cost evaluation: auto (online for point sets), dense or online (matrix-free)")->capture_default_str()->check(IsMember({"auto", "dense", "online"}));
    c.add_option("--memory-budget", s.budget_mb, "MiB allowed for a dense N x M matrix (--storage dense, --kernel, dense plans)")->capture_default_str();
    c.add_option("--device", s.device, "auto, cpu or cuda (matrix-free point-set passes)")->capture_default_str()->check(IsMember({"auto", "cpu", "cuda"}));
    c.add_option("--warm", s.warm, "Warm start from the /f and /g of an earlier output")->check(cli::ExistingFileOrStream);
    c.add_option("--plan", s.plan, "Write the plan: none, dense or sparse")->capture_default_str()->check(IsMember({"none", "dense", "sparse"}));
    c.add_option("--threshold", o.plan_threshold, "Sparse plan: keep entries >= this value (absolute, in mass units)")->capture_default_str();
    c.add_option("--topk", o.plan_topk, "Sparse plan: keep the k largest entries of each row (0: all above threshold)");
    c.add_flag("--allow-unconverged", s.allow, "Write the result even when the solver did not converge");
}

void need(bool ok, const std::string& flag, const std::string& what, double v) {
    if (!ok) throw UsageError(flag + " " + what + ", found " + fmt(v));
}

// Option values, checked before any work; each message names its option.
void configure(const CLI::App& c, Settings& s, const cli::Common& common) {
    ot::SinkhornOptions& o = s.q.sinkhorn;
    auto given = [&](const char* name) { return c.count(name) > 0; };
    const bool points = !s.xs.empty() || !s.ys.empty();
    if (points == !s.cost.empty()) throw UsageError("give either two point sets (x y) or --cost FILE:/dataset");
    if (points && (s.xs.empty() || s.ys.empty())) throw UsageError("expected two point sets, x and y");
    const char* modes[] = {"--divergence", "--mass", "--sliced", "--exact"};
    std::vector<std::string> chosen;
    for (const char* m : modes) if (given(m)) chosen.push_back(m);
    if (chosen.size() > 1) throw UsageError(chosen[1] + " cannot be combined with " + chosen[0]);
    for (const char* n : {"--cost-xx", "--cost-yy"})
        if (given(n) && (!s.divergence || points)) throw UsageError(std::string(n) + " needs --cost and --divergence");
    if (given("--divergence-of") && !s.divergence) throw UsageError("--divergence-of needs --divergence");
    need(std::isfinite(o.eps) && o.eps > 0, "--eps", "must be a positive number", o.eps);
    need(std::isfinite(o.tol) && o.tol > 0, "--tol", "must be a positive number", o.tol);
    need(o.max_iter >= 1, "--max-iter", "must be at least 1", o.max_iter);
    need(o.check_every >= 1, "--check-every", "must be at least 1", o.check_every);
    need(o.overrelax == 0 || (o.overrelax >= 1 && o.overrelax < 2), "--overrelax", "must be 0 or lie in [1, 2)", o.overrelax);
    need(std::isfinite(s.budget_mb) && s.budget_mb > 0, "--memory-budget", "must be a positive number of MiB", s.budget_mb);
    need(std::isfinite(o.plan_threshold) && o.plan_threshold >= 0, "--threshold", "must be a non-negative number", o.plan_threshold);
    need(o.plan_topk >= 0, "--topk", "must be non-negative", o.plan_topk);
    for (auto [n, v] : {std::pair{"--blur", s.blur}, {"--eps-start", o.eps_start}, {"--mass", s.q.mass}})
        if (given(n)) need(std::isfinite(v) && v > 0, n, "must be a positive number", v);
    for (auto [n, v] : {std::pair{"--reach", s.reach}, {"--rho", s.rho}, {"--rho-a", s.rho_a}, {"--rho-b", s.rho_b}})
        if (given(n)) need(v > 0, n, "must be positive (inf: a hard marginal)", v);
    if (given("--sliced")) need(s.q.sliced.projections >= 1, "--sliced", "must be at least 1 direction", s.q.sliced.projections);
    if (given("--scaling")) need(s.scaling > 0 && s.scaling < 1, "--scaling", "must lie in (0,1)", s.scaling);
    if (given("--blur")) o.eps = std::pow(s.blur, s.p), s.half = s.half || s.p == 2;
    if (given("--scaling")) o.eps_scaling = true, o.scaling = given("--blur") ? std::pow(s.scaling, s.p) : s.scaling;
    if (given("--reach")) o.rho_a = o.rho_b = std::pow(s.reach, s.p);
    if (given("--rho")) o.rho_a = o.rho_b = s.rho;
    if (given("--rho-a")) o.rho_a = s.rho_a;
    if (given("--rho-b")) o.rho_b = s.rho_b;
    if (given("--eps-start") && !given("--scaling")) throw UsageError("--eps-start needs --scaling");
    o.norm = s.norm == "l1" ? ot::Norm::L1 : s.norm == "l2" ? ot::Norm::L2 : ot::Norm::Linf;
    o.storage = s.storage == "dense" ? ot::Storage::Dense : s.storage == "online" ? ot::Storage::Online : ot::Storage::Auto;
    o.device = s.device == "cpu" ? ot::Device::CPU : s.device == "cuda" ? ot::Device::CUDA : ot::Device::Auto;
    o.memory_budget = std::size_t(s.budget_mb * 1048576.0);
    o.log_domain = !s.kernel;
    o.plan = s.plan == "dense" ? ot::PlanKind::Dense : s.plan == "sparse" ? ot::PlanKind::Sparse : ot::PlanKind::None;
    if (o.plan != ot::PlanKind::None && common.output.empty()) throw UsageError("--plan needs an output file (-o)");
    if (s.q.gradient && common.output.empty()) throw UsageError("--grad needs an output file (-o)");
    s.q.problem = s.divergence ? ot::Problem::Divergence : given("--mass") ? ot::Problem::Partial
                  : given("--sliced") ? ot::Problem::Sliced : s.exact ? ot::Problem::Exact : ot::Problem::Sinkhorn;
    s.q.divergence_of = s.of == "cost" ? ot::DivergenceOf::Cost : ot::DivergenceOf::Entropic;
    s.q.cost = {s.p, s.half};
    s.q.sliced.p = s.p, s.q.sliced.seed = common.seed;
    if (s.q.gradient && (s.q.problem == ot::Problem::Sliced || s.q.divergence_of == ot::DivergenceOf::Cost))
        throw UsageError("--grad needs a Sinkhorn, partial, exact or entropic divergence value");
}

// The problems, with --a/--b and the partial mass checked against them.
std::vector<ot::TransportInput> read_inputs(const Settings& s) {
    std::vector<ot::TransportInput> ps;
    if (s.cost.empty()) ps = ot::read_point_problems(s.xs, s.ys);
    else ps.push_back(ot::cost_problem(ot::read_cost_matrix(s.cost)));
    if (!s.cost_xx.empty()) ps[0].cost_xx = ot::read_cost_matrix(s.cost_xx), ps[0].cost_yy = ot::read_cost_matrix(s.cost_yy);
    if ((!s.a.empty() || !s.b.empty()) && ps.size() != 1) throw UsageError("--a and --b apply to a single problem, not to a batch");
    for (auto [flag, arg, w, n] : {std::tuple{"--a", s.a, &ps[0].a, ps[0].n()}, {"--b", s.b, &ps[0].b, ps[0].m()}}) {
        if (arg.empty()) continue;
        *w = ot::read_weight_vector(arg);
        if (w->size() != n) throw UsageError(std::string(flag) + ": expected " + std::to_string(n) + " weights, found " + std::to_string(w->size()));
    }
    if (s.q.problem == ot::Problem::Partial)
        for (const auto& p : ps) need(s.q.mass <= std::min(p.a.sum(), p.b.sum()) * (1 + 1e-12), "--mass", "must not exceed min(|a|,|b|) = " + fmt(std::min(p.a.sum(), p.b.sum())), s.q.mass);
    return ps;
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("sinkhorn", "entropic optimal transport: potentials, costs, plans, divergences and their gradients",
                 "Solves entropic optimal transport between two weighted point sets (cost |x-y|^p) or for an "
                 "explicit cost matrix, in the log domain: balanced, unbalanced (KL marginal penalties), partial "
                 "(a given mass), the debiased Sinkhorn divergence, sliced Wasserstein, or exact transport for "
                 "small problems. Writes the dual potentials /f and /g, scalar results as attributes and, on "
                 "request, the plan (dense /plan, or CSR under /plan/) and the gradients. Large problems run "
                 "matrix-free with memory growing as N+M. Exits 1 when the solver did not converge, unless --allow-unconverged.");
    Settings s;
    s.q.sinkhorn.plan_threshold = 1e-12;
    s.q.sliced.projections = 0;
    declare(app.cli(), s);
    app.add_example("orbit-sinkhorn x.h5 y.h5 --eps 0.01 --tol 1e-6 -o ot.h5 --json", "balanced transport between two clouds; potentials in ot.h5, a JSON summary on stdout");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --eps 0.01 --plan sparse -o ot.h5", "also write the plan in CSR form under /plan/");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.05 --scaling 0.9 --json", "debiased Sinkhorn divergence with GeomLoss' conventions and annealing");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.1 --grad -o d.h5", "the divergence and its gradients /grad_x, /grad_y (a loss for point sets)");
    app.add_example("orbit-sinkhorn --cost C.h5:/cost --a a.h5:/w --b b.h5:/w --eps 0.1 --reach 1.0 -o ot.h5", "unbalanced transport for an explicit cost matrix");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --sliced 200 --json", "sliced Wasserstein-2 distance");
    return app.run(argc, argv, [&] {
        configure(app.cli(), s, app.common());
        const std::vector<ot::TransportInput> problems = read_inputs(s);
        if (!s.warm.empty()) {
            h5::File w = h5::File::open_read(s.warm);
            require(w.is_dataset("/f") && w.is_dataset("/g"), s.warm + ": expected /f and /g from an earlier run");
            const auto f = w.read<double>("/f", 1), g = w.read<double>("/g", 1);
            s.q.sinkhorn.f_init = Eigen::Map<const Vector>(f.data.data(), Eigen::Index(f.data.size()));
            s.q.sinkhorn.g_init = Eigen::Map<const Vector>(g.data.data(), Eigen::Index(g.data.size()));
        }
        if (app.common().verbose)
            s.q.sinkhorn.monitor = [](int it, double e, double err) {
                log::detail("iteration " + std::to_string(it) + ", eps " + fmt(e) + (std::isinf(err) ? std::string(" (annealing)") : ", marginal error " + fmt(err)));
            };
        Timer timer;  // "seconds" reports the solve, without reading the inputs
        const ot::TransportRun run = ot::solve_transport(problems, s.q);
        const double seconds = timer.seconds();
        for (const ot::ConvergenceTrouble& t : ot::convergence_troubles(run, s.q.sinkhorn.tol)) {
            if (!s.allow) throw Error(t.message + (t.numerical ? "; rerun with a larger --eps, with --scaling, or --allow-unconverged" : "; raise --max-iter, use --scaling, or pass --allow-unconverged"));
            log::warn(t.message);
        }
        if (!app.common().output.empty()) {
            io::Output out(app.common().output, ot::result_kind(run));
            for (const std::string& in : {s.xs, s.ys, s.cost})
                if (!in.empty() && in != "-") out.inherit_history(h5::File::open_read(h5::parse_ref(in).file));
            ot::write_transport(out.file(), run, seconds);
            out.commit();
        }
        app.summary() = ot::run_summary(run, problems.size(), seconds);
        if (!app.common().json) {
            const bool div = run.problem == ot::Problem::Divergence;
            if (run.problem == ot::Problem::Sliced) log::info("sliced Wasserstein " + fmt(run.values[0]));
            else if (run.results.size() == 1) log::info("cost " + fmt(run.results[0].cost) + (div ? ", divergence " + fmt(run.values[0]) : "") + ", " + std::to_string(run.results[0].iterations) + " iterations, marginal error " + fmt(run.results[0].marginal_error) + ", " + fmt(seconds) + " s");
            else log::info(std::to_string(run.results.size()) + " problems solved in " + fmt(seconds) + " s");
        }
    });
}
