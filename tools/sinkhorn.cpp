// orbit-sinkhorn: entropic optimal transport between point sets or for a cost matrix, and barycenters.
#include <cmath>

#include "orbit/cli/app.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/distributed/communicator.hpp"
#include "orbit/io/output.hpp"
#include "orbit/ot/command.hpp"
#include "orbit/ot/input_file.hpp"
#include "orbit/ot/result_file.hpp"

using namespace orbit;

namespace {

const CLI::Validator Penalty = cli::value_check("must be positive (inf: a hard marginal)", [](double v) { return v > 0; });
const CLI::Validator Ratio = cli::value_check("must lie in (0,1)", [](double v) { return v > 0 && v < 1; });
const CLI::Validator Omega = cli::value_check("must be 0 or lie in [1, 2)", [](double v) { return v == 0 || (v >= 1 && v < 2); });
const CLI::Validator Positive = cli::value_check("must be a positive number", [](double v) { return std::isfinite(v) && v > 0; });
const CLI::Range AtLeastOne(1, 1 << 30), Count(0, 1 << 30);
template <class E> CLI::CheckedTransformer names(std::map<std::string, E> m) { return CLI::CheckedTransformer(m); }

const std::pair<const char*, const char*> kExamples[] = {
    {"orbit-sinkhorn x.h5 y.h5 --eps 0.01 --tol 1e-6 -o ot.h5 --json", "balanced transport between two clouds; potentials in ot.h5, a JSON summary on stdout"},
    {"orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.05 --scaling 0.9 --json", "debiased Sinkhorn divergence with GeomLoss' conventions and annealing"},
    {"orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.1 --grad -o d.h5", "the divergence and its gradients /grad_x, /grad_y (a loss for point sets)"},
    {"orbit-sinkhorn --cost C.h5:/cost --a a.h5:/w --b b.h5:/w --eps 0.1 --reach 1.0 -o ot.h5", "unbalanced transport for an explicit cost matrix"},
    {"orbit-sinkhorn x.h5 y.h5 --sliced 200 --json", "sliced Wasserstein-2 distance"},
    {"orbit-sinkhorn --barycenter a.h5 b.h5 c.h5 --weights 0.2,0.3,0.5 --support grid.h5 --eps 0.01 -o bary.h5",
     "entropic barycenter of three weighted point sets on a fixed support"}};

void declare(CLI::App& c, ot::TransportSettings& s) {
    ot::SinkhornOptions& o = s.q.sinkhorn;
    using N = ot::Norm; using St = ot::Storage; using Dv = ot::Device; using Pk = ot::PlanKind; using Of = ot::DivergenceOf;
    const auto& File = cli::ExistingFileOrStream;
    c.add_option("x", s.xs, "Source point set: FILE, FILE:/dataset or '-' ([N,D], or [B,N,D] for a batch)")->check(File);
    c.add_option("y", s.ys, "Target point set, as x")->check(File);
    c.add_option("--cost", s.cost, "Explicit N x M cost matrix FILE:/dataset instead of point sets (+inf: a forbidden pair)")->check(File);
    for (auto [n, v, what] : {std::tuple{"--cost-xx", &s.cost_xx, "N x N"}, {"--cost-yy", &s.cost_yy, "M x M"}})
        c.add_option(n, *v, std::string("With --cost and --divergence: the ") + what + " self cost FILE:/dataset")->check(File);
    c.add_option("--a", s.a, "Source weights FILE:/dataset (default: /weights of x, else uniform 1/N)");
    c.add_option("--b", s.b, "Target weights FILE:/dataset (default: /weights of y, else uniform 1/M); a 2-D [M,K] dataset: K problems, one per column");
    c.add_option("--eps", o.eps, "Entropic regularization, in cost units")->capture_default_str()->check(Positive);
    c.add_option("--blur", s.blur, "GeomLoss convention: eps = blur^p and, for p = 2, cost |x-y|^2/2")->check(Positive);
    c.add_option("--p", s.p, "Cost exponent: |x-y|^p")->capture_default_str()->check(CLI::IsMember({1, 2}));
    c.add_flag("--half", s.half, "Halve the cost (|x-y|^2/2, as GeomLoss for p = 2)");
    c.add_option("--reach", s.reach, "Unbalanced: KL marginal penalties rho = reach^p on both sides")->check(Penalty);
    c.add_option("--rho", s.rho, "Unbalanced: KL marginal penalty on both sides (cost units; inf: hard)")->check(Penalty);
    c.add_option("--rho-a", o.rho_a, "KL penalty on the source marginal only (semi-relaxed)")->check(Penalty);
    c.add_option("--rho-b", o.rho_b, "KL penalty on the target marginal only (semi-relaxed)")->check(Penalty);
    c.add_option("--mass", s.q.mass, "Partial transport: move exactly this mass (0 < mass <= min(|a|,|b|)); entropic, or exact with --exact")->check(Positive);
    c.add_flag("--divergence", s.divergence, "Debiased Sinkhorn divergence S = OT(a,b) - OT(a,a)/2 - OT(b,b)/2");
    c.add_option("--divergence-of", s.q.divergence_of, "What S combines: entropic (the entropic optima OT_eps, as GeomLoss; "
                 "default) or cost (the costs <C,P> of the three plans, as POT)")->transform(names<Of>({{"entropic", Of::Entropic}, {"cost", Of::Cost}}));
    c.add_option("--sliced", s.q.sliced.projections, "Sliced Wasserstein with this many random directions (uses --seed, --p)")->check(AtLeastOne);
    c.add_flag("--exact", s.exact, "Exact (unregularized) transport plan and dual potentials, for small problems (with --mass: exact partial)");
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
    c.add_option("--threshold", o.plan_threshold, "Sparse plan: keep entries >= this value (absolute, in mass units)")->capture_default_str()->check(cli::NonNegative);
    c.add_option("--topk", o.plan_topk, "Sparse plan: keep the k largest entries of each row (0: all above threshold)")->check(Count);
    c.add_flag("--allow-unconverged", s.allow, "Write the result even when the solver did not converge");
    c.add_option("--barycenter", s.barycenter, "Wasserstein barycenter of these point sets (FILE ..., weights from their /weights) "
                 "instead of transport; writes /points and /weights")->check(File)->expected(2, 1 << 20);
    c.add_option("--weights", s.weights, "Barycenter: the sets' weights, comma-separated (normalized; default equal)")->delimiter(',')->check(cli::NonNegative);
    c.add_option("--support", s.support, "Barycenter: its support points FILE (the free method's start, with its /weights; default: the union of the sets)")->check(File);
    c.add_option("--support-size", s.support_size, "Barycenter: a support of this many points drawn from the sets (uses --seed)")->check(AtLeastOne);
    c.add_flag("--debiased", s.debiased, "Barycenter: debiased entropic barycenter (Janati et al. 2020), without the entropic blur");
    c.add_flag("--free-support", s.free_support, "Barycenter: exact, free-support barycenter; moves the support (|x-y|^2; --tol on the squared displacement)");
}

}  // namespace

int main(int argc, char** argv) {
    distributed::Session mpi(argc, argv);  // mpirun -n P: one problem's passes split over P ranks
    cli::App app("sinkhorn", "entropic optimal transport: potentials, costs, plans, divergences and their gradients",
                 "Balanced, unbalanced, partial, exact and sliced transport, and the debiased Sinkhorn divergence, in the log "
                 "domain; writes /f, /g, the results as attributes, plans and gradients. With --barycenter, the fixed-support "
                 "(entropic or debiased) or free-support Wasserstein barycenter of several point sets. Exits 1 unless converged.");
    ot::TransportSettings s;
    s.q.sinkhorn.plan_threshold = 1e-12;
    declare(app.cli(), s);
    for (auto [cmd, what] : kExamples) app.add_example(cmd, what);
    app.add_references(cli::references({"sinkhorn", "log-domain-sinkhorn", "unbalanced-ot", "geomloss", "unbalanced-divergence",
                                        "bregman-projections", "over-relaxation", "gromov-wasserstein", "fused-gw", "sliced-wasserstein",
                                        "debiased-barycenter", "free-support-barycenter", "fixed-point-barycenter", "pot"}));
    return app.run(argc, argv, [&] {
        s.output = app.common().output, s.seed = app.common().seed;
        ot::configure(s, [&](const char* name) { return app.cli().count(name) > 0; });
        if (!s.barycenter.empty()) {  // one process computes it; other ranks of an mpirun have nothing to do
            if (distributed::rank() == 0) app.summary() = ot::run_barycenter(s, !app.common().json);
            return;
        }
        ot::TransportProblems in;
        distributed::collectively([&] {  // a bad input on any rank stops all
            in = ot::read_problems(s);
            if (!s.warm.empty()) ot::read_warm_start(s.warm, s.q.sinkhorn);
        });
        s.q.sinkhorn.distributed = true;
        if (app.common().verbose) s.q.sinkhorn.monitor = ot::progress_log;
        Timer timer;  // "seconds" reports the solve, without reading the inputs
        const std::size_t count = in.problems.size();
        const ot::TransportRun run = ot::solve_transport(std::move(in.problems), s.q);  // frees the points early
        const double seconds = timer.seconds();
        ot::check_convergence(run, s);
        distributed::collectively([&] {  // rank 0 writes
            if (!s.output.empty() && distributed::rank() == 0) {
                io::Output out(s.output, ot::result_kind(run));
                out.add_history_lines(in.history);  // also from a stream
                ot::write_transport(out.file(), run, seconds);
                out.commit();
            }
        });
        app.summary() = ot::run_summary(run, count, seconds);
        if (distributed::several())  // rank 0's share of the exchanges, for docs/mpi.md's scaling model
            app.summary()["mpi"] = {{"ranks", distributed::size()}, {"doubles_sent", distributed::traffic().sent},
                                    {"doubles_received", distributed::traffic().received}};
        if (!app.common().json) log::info(ot::run_line(run, seconds));
    });
}
