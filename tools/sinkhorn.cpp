// orbit-sinkhorn: entropic optimal transport between point sets or for a cost matrix.
#include <cmath>

#include "orbit/cli/app.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/io/output.hpp"
#include "orbit/ot/input_file.hpp"
#include "orbit/ot/result_file.hpp"

using namespace orbit;

namespace {

// A value check for one option; CLI11 prefixes the option's name to the message.
CLI::Validator value_check(const char* what, bool (*ok)(double)) {
    auto check = [=](std::string& text) -> std::string {
        double v = 0;
        return !CLI::detail::lexical_cast(text, v) ? "expected a number, found " + text : ok(v) ? "" : what + (", found " + text);
    };
    return CLI::Validator(check, "", what);
}
const CLI::Validator Positive = value_check("must be a positive number", [](double v) { return std::isfinite(v) && v > 0; });
const CLI::Validator Penalty = value_check("must be positive (inf: a hard marginal)", [](double v) { return v > 0; });
const CLI::Validator NonNegative = value_check("must be a non-negative number", [](double v) { return std::isfinite(v) && v >= 0; });
const CLI::Validator Ratio = value_check("must lie in (0,1)", [](double v) { return v > 0 && v < 1; });
const CLI::Validator Omega = value_check("must be 0 or lie in [1, 2)", [](double v) { return v == 0 || (v >= 1 && v < 2); });
const CLI::Range AtLeastOne(1, 1 << 30), Count(0, 1 << 30);
template <class E> CLI::CheckedTransformer names(std::map<std::string, E> m) { return CLI::CheckedTransformer(m); }

const std::pair<const char*, const char*> kExamples[] = {
    {"orbit-sinkhorn x.h5 y.h5 --eps 0.01 --tol 1e-6 -o ot.h5 --json", "balanced transport between two clouds; potentials in ot.h5, a JSON summary on stdout"},
    {"orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.05 --scaling 0.9 --json", "debiased Sinkhorn divergence with GeomLoss' conventions and annealing"},
    {"orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.1 --grad -o d.h5", "the divergence and its gradients /grad_x, /grad_y (a loss for point sets)"},
    {"orbit-sinkhorn --cost C.h5:/cost --a a.h5:/w --b b.h5:/w --eps 0.1 --reach 1.0 -o ot.h5", "unbalanced transport for an explicit cost matrix"},
    {"orbit-sinkhorn x.h5 y.h5 --sliced 200 --json", "sliced Wasserstein-2 distance"}};

struct Settings {
    std::string xs, ys, cost, cost_xx, cost_yy, a, b, warm;
    ot::TransportRequest q;
    double blur = 0, reach = 0, rho = 0, scaling = 0, budget_mb = 1024;
    int p = 2;
    bool half = false, divergence = false, exact = false, gromov = false, kernel = false, allow = false;
};

void declare(CLI::App& c, Settings& s) {
    ot::SinkhornOptions& o = s.q.sinkhorn;
    using N = ot::Norm; using St = ot::Storage; using Dv = ot::Device; using Pk = ot::PlanKind; using Of = ot::DivergenceOf;
    const auto& File = cli::ExistingFileOrStream;
    c.add_option("x", s.xs, "Source point set: FILE, FILE:/dataset or '-' ([N,D], or [B,N,D] for a batch)")->check(File);
    c.add_option("y", s.ys, "Target point set, as x")->check(File);
    c.add_option("--cost", s.cost, "Explicit N x M cost matrix FILE:/dataset instead of point sets (+inf: a forbidden pair)")->check(File);
    for (auto [n, v, what] : {std::tuple{"--cost-xx", &s.cost_xx, "N x N"}, {"--cost-yy", &s.cost_yy, "M x M"}})
        c.add_option(n, *v, std::string("With --cost and --divergence: the ") + what + " self cost FILE:/dataset")->check(File);
    c.add_option("--a", s.a, "Source weights FILE:/dataset (default: /weights of x, else uniform 1/N)");
    c.add_option("--b", s.b, "Target weights FILE:/dataset (default: /weights of y, else uniform 1/M)");
    c.add_option("--eps", o.eps, "Entropic regularization, in cost units")->capture_default_str()->check(Positive);
    c.add_option("--blur", s.blur, "GeomLoss convention: eps = blur^p and, for p = 2, cost |x-y|^2/2")->check(Positive);
    c.add_option("--p", s.p, "Cost exponent: |x-y|^p")->capture_default_str()->check(CLI::IsMember({1, 2}));
    c.add_flag("--half", s.half, "Halve the cost (|x-y|^2/2, as GeomLoss for p = 2)");
    c.add_option("--reach", s.reach, "Unbalanced: KL marginal penalties rho = reach^p on both sides")->check(Penalty);
    c.add_option("--rho", s.rho, "Unbalanced: KL marginal penalty on both sides (cost units; inf: hard)")->check(Penalty);
    c.add_option("--rho-a", o.rho_a, "KL penalty on the source marginal only (semi-relaxed)")->check(Penalty);
    c.add_option("--rho-b", o.rho_b, "KL penalty on the target marginal only (semi-relaxed)")->check(Penalty);
    c.add_option("--mass", s.q.mass, "Partial transport: move exactly this mass (0 < mass <= min(|a|,|b|))")->check(Positive);
    c.add_flag("--divergence", s.divergence, "Debiased Sinkhorn divergence S = OT(a,b) - OT(a,a)/2 - OT(b,b)/2");
    c.add_option("--divergence-of", s.q.divergence_of, "What S combines: entropic (the entropic optima OT_eps, as GeomLoss; "
                 "default) or cost (the costs <C,P> of the three plans, as POT)")->transform(names<Of>({{"entropic", Of::Entropic}, {"cost", Of::Cost}}));
    c.add_option("--sliced", s.q.sliced.projections, "Sliced Wasserstein with this many random directions (uses --seed, --p)")->check(AtLeastOne);
    c.add_flag("--exact", s.exact, "Exact (unregularized) transport plan and dual potentials, for small problems");
    c.add_flag("--gromov", s.gromov, "Entropic Gromov-Wasserstein between the clouds' own costs |x-x'|^p (uses --eps, --tol, --max-iter, --scaling)");
    c.add_flag("--grad", s.q.gradient, "Write the gradient of the reported value: /grad_x, /grad_y, /grad_a, /grad_b");
    c.add_option("--tol", o.tol, "Tolerance on the marginal violation")->capture_default_str()->check(Positive);
    c.add_option("--max-iter", o.max_iter, "Maximum number of iterations at the final eps")->capture_default_str()->check(AtLeastOne);
    c.add_option("--check-every", o.check_every, "Test the stopping rule every k iterations")->capture_default_str()->check(AtLeastOne);
    c.add_option("--norm", o.norm, "Norm of the marginal violation: l1 (default), l2 or linf")->transform(names<N>({{"l1", N::L1}, {"l2", N::L2}, {"linf", N::Linf}}));
    c.add_option("--scaling", s.scaling, "Epsilon scaling: ratio between successive eps (of blur with --blur)")->check(Ratio);
    c.add_option("--eps-start", o.eps_start, "First eps of the annealing (default: the largest cost)")->check(Positive);
    c.add_option("--overrelax", o.overrelax, "Over-relaxation omega in [1,2) of the alternating updates; 1 turns it off, 0 "
                 "picks it from the observed convergence rate")->capture_default_str()->check(Omega);
    c.add_flag("--symmetric", o.symmetric, "Averaged symmetric updates instead of alternating ones");
    c.add_flag("--kernel", s.kernel, "Kernel mode with absorption (stores the N x M kernel; faster at large eps)");
    c.add_option("--storage", o.storage, "Cost evaluation: auto (default: online for point sets), dense or online (matrix-free)")
        ->transform(names<St>({{"auto", St::Auto}, {"dense", St::Dense}, {"online", St::Online}}));
    c.add_option("--memory-budget", s.budget_mb, "MiB allowed for a dense N x M matrix (--storage dense, --kernel, dense plans)")->capture_default_str()->check(Positive);
    c.add_option("--precision", o.precision, "float64 (default) or float32: arithmetic of the matrix-free point-set passes")
        ->transform(names<ot::Precision>({{"float64", ot::Precision::Float64}, {"float32", ot::Precision::Float32}}));
    c.add_option("--device", o.device, "auto (default), cpu or cuda (matrix-free point-set passes)")->transform(names<Dv>({{"auto", Dv::Auto}, {"cpu", Dv::CPU}, {"cuda", Dv::CUDA}}));
    c.add_option("--warm", s.warm, "Warm start from the /f and /g of an earlier output")->check(File);
    c.add_option("--plan", o.plan, "Write the plan: none (default), dense or sparse")->transform(names<Pk>({{"none", Pk::None}, {"dense", Pk::Dense}, {"sparse", Pk::Sparse}}));
    c.add_option("--threshold", o.plan_threshold, "Sparse plan: keep entries >= this value (absolute, in mass units)")->capture_default_str()->check(NonNegative);
    c.add_option("--topk", o.plan_topk, "Sparse plan: keep the k largest entries of each row (0: all above threshold)")->check(Count);
    c.add_flag("--allow-unconverged", s.allow, "Write the result even when the solver did not converge");
}

// Combinations of options, checked before any work; each message names its option.
void configure(const CLI::App& c, Settings& s, const cli::Common& common) {
    ot::SinkhornOptions& o = s.q.sinkhorn;
    auto given = [&](const char* name) { return c.count(name) > 0; };
    const bool points = !s.xs.empty() || !s.ys.empty();
    if (points == !s.cost.empty()) throw UsageError("give either two point sets (x y) or --cost FILE:/dataset");
    if (points && (s.xs.empty() || s.ys.empty())) throw UsageError("expected two point sets, x and y");
    std::vector<std::string> modes;
    for (const char* m : {"--divergence", "--mass", "--sliced", "--exact", "--gromov"}) if (given(m)) modes.push_back(m);
    if (modes.size() > 1) throw UsageError(modes[1] + " cannot be combined with " + modes[0]);
    for (const char* n : {"--cost-xx", "--cost-yy"})
        if (given(n) && (!s.divergence || points || s.cost_xx.empty() != s.cost_yy.empty()))
            throw UsageError(std::string(n) + " needs --cost, --divergence, and both self costs");
    if (given("--divergence-of") && !s.divergence) throw UsageError("--divergence-of needs --divergence");
    if (o.plan != ot::PlanKind::None && common.output.empty()) throw UsageError("--plan needs an output file (-o)");
    if (s.q.gradient && common.output.empty()) throw UsageError("--grad needs an output file (-o)");
    if (given("--blur")) o.eps = std::pow(s.blur, s.p), s.half = s.half || s.p == 2;
    if (given("--scaling")) o.eps_scaling = true, o.scaling = given("--blur") ? std::pow(s.scaling, s.p) : s.scaling;
    if (given("--reach") && !given("--rho-a")) o.rho_a = std::pow(s.reach, s.p);
    if (given("--reach") && !given("--rho-b")) o.rho_b = std::pow(s.reach, s.p);
    if (given("--rho")) o.rho_a = given("--rho-a") ? o.rho_a : s.rho, o.rho_b = given("--rho-b") ? o.rho_b : s.rho;
    o.memory_budget = std::size_t(s.budget_mb * 1048576.0), o.log_domain = !s.kernel;
    s.q.problem = s.divergence ? ot::Problem::Divergence : given("--mass") ? ot::Problem::Partial
                  : given("--sliced") ? ot::Problem::Sliced : s.exact ? ot::Problem::Exact
                  : s.gromov ? ot::Problem::Gromov : ot::Problem::Sinkhorn;
    s.q.cost = {s.p, s.half}, s.q.sliced.p = s.p, s.q.sliced.seed = common.seed;
    if (s.q.gradient && (s.q.problem == ot::Problem::Sliced || s.q.problem == ot::Problem::Gromov || s.q.divergence_of == ot::DivergenceOf::Cost))
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
        if (!arg.empty()) *w = ot::read_weight_vector(arg);
        if (w->size() != n) throw UsageError(std::string(flag) + ": expected " + std::to_string(n) + " weights, found " + std::to_string(w->size()));
    }
    for (const auto& p : ps)
        if (s.q.problem == ot::Problem::Partial && s.q.mass > std::min(p.a.sum(), p.b.sum()) * (1 + 1e-12))
            throw UsageError("--mass must not exceed min(|a|,|b|) = " + std::to_string(std::min(p.a.sum(), p.b.sum())));
    return ps;
}

}  // namespace

int main(int argc, char** argv) {
    distributed::Session mpi(argc, argv);  // mpirun -n P: one problem's passes split over P ranks
    cli::App app("sinkhorn", "entropic optimal transport: potentials, costs, plans, divergences and their gradients",
                 "Balanced, unbalanced, partial, exact and sliced transport, and the debiased Sinkhorn divergence, in the log "
                 "domain; writes /f, /g, the results as attributes, plans and gradients. Exits 1 unless converged.");
    Settings s;
    s.q.sinkhorn.plan_threshold = 1e-12;
    declare(app.cli(), s);
    for (auto [cmd, what] : kExamples) app.add_example(cmd, what);
    app.add_references(R"(
Sinkhorn distances: M. Cuturi. Sinkhorn Distances: Lightspeed Computation of Optimal Transport. NeurIPS 2013
log-domain stabilization: B. Schmitzer. Stabilized Sparse Scaling Algorithms for Entropy Regularized Transport Problems. SIAM J. Sci. Comput. 41(3), 2019
unbalanced transport: L. Chizat, G. Peyre, B. Schmitzer, F.-X. Vialard. Scaling Algorithms for Unbalanced Optimal Transport Problems. Math. Comp. 87, 2018
Sinkhorn divergences (GeomLoss): J. Feydy et al. Interpolating between Optimal Transport and MMD using Sinkhorn Divergences. AISTATS 2019
unbalanced divergences: T. Sejourne et al. Sinkhorn Divergences for Unbalanced Optimal Transport. arXiv:1910.12958, 2019
partial transport: J.-D. Benamou et al. Iterative Bregman Projections for Regularized Transportation Problems. SIAM J. Sci. Comput. 37(2), 2015
over-relaxation: T. Lehmann, M.-K. von Renesse, A. Sambale, A. Uschmajew. A note on overrelaxation in the Sinkhorn algorithm. Optim. Lett. 16, 2022
Gromov-Wasserstein: G. Peyre, M. Cuturi, J. Solomon. Gromov-Wasserstein Averaging of Kernel and Distance Matrices. ICML 2016
fused Gromov-Wasserstein: T. Vayer et al. Optimal Transport for structured data with application on graphs. ICML 2019
sliced Wasserstein: N. Bonneel, J. Rabin, G. Peyre, H. Pfister. Sliced and Radon Wasserstein Barycenters of Measures. JMIV 51, 2015
POT: R. Flamary et al. POT: Python Optimal Transport. JMLR 22(78), 2021
)");
    return app.run(argc, argv, [&] {
        configure(app.cli(), s, app.common());
        std::vector<ot::TransportInput> problems;
        distributed::collectively([&] {  // a bad input on any rank stops all
            problems = read_inputs(s);
            if (!s.warm.empty()) ot::read_warm_start(s.warm, s.q.sinkhorn);
        });
        s.q.sinkhorn.distributed = true;
        if (app.common().verbose) s.q.sinkhorn.monitor = ot::progress_log;
        Timer timer;  // "seconds" reports the solve, without reading the inputs
        const ot::TransportRun run = ot::solve_transport(problems, s.q);
        const double seconds = timer.seconds();
        for (ot::ConvergenceTrouble t : ot::convergence_troubles(run, s.q.sinkhorn.tol)) {
            if (s.q.sinkhorn.precision == ot::Precision::Float32 && !t.numerical)
                t.message += "; float32 cannot reach this tolerance here, use --precision float64 or a larger --tol";
            if (!s.allow) throw Error(t.message + (t.numerical ? "; rerun with a larger --eps, with --scaling, or --allow-unconverged"
                                                               : "; raise --max-iter, use --scaling, or pass --allow-unconverged"));
            log::warn(t.message);
        }
        distributed::collectively([&] {  // rank 0 writes
            if (!app.common().output.empty() && distributed::rank() == 0) {
                io::Output out(app.common().output, ot::result_kind(run));
                for (const std::string& in : {s.xs, s.ys, s.cost})
                    if (!in.empty() && in != "-") out.inherit_history(h5::File::open_read(h5::parse_ref(in).file));
                ot::write_transport(out.file(), run, seconds);
                out.commit();
            }
        });
        app.summary() = ot::run_summary(run, problems.size(), seconds);
        if (distributed::several())  // rank 0's share of the exchanges, for docs/mpi.md's scaling model
            app.summary()["mpi"] = {{"ranks", distributed::size()}, {"doubles_sent", distributed::traffic().sent},
                                    {"doubles_received", distributed::traffic().received}};
        if (!app.common().json) log::info(ot::run_line(run, seconds));
    });
}
