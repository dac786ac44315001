#include "orbit/ot/command.hpp"

#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/random.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/output.hpp"
#include "orbit/ot/input_file.hpp"
#include "orbit/ot/result_file.hpp"

namespace orbit::ot {
namespace {

void configure_barycenter(const TransportSettings& s, const std::function<bool(const char*)>& given) {
    if (s.barycenter.size() < 2) throw UsageError("--barycenter needs at least two point sets");
    if (!s.xs.empty() || !s.cost.empty()) throw UsageError("--barycenter takes its point sets itself, not x y or --cost");
    for (const char* n : {"--divergence", "--mass", "--sliced", "--exact", "--gromov", "--grad", "--a", "--b", "--warm", "--plan"})
        if (given(n)) throw UsageError(std::string(n) + " cannot be combined with --barycenter");
    if (!s.weights.empty() && s.weights.size() != s.barycenter.size())
        throw UsageError("--weights: expected " + std::to_string(s.barycenter.size()) + " weights, one per point set, found " +
                         std::to_string(s.weights.size()));
    if (given("--support") && given("--support-size")) throw UsageError("--support-size cannot be combined with --support");
    if (s.debiased && s.free_support) throw UsageError("--debiased cannot be combined with --free-support");
    if (s.free_support && s.p != 2) throw UsageError("--free-support needs the squared Euclidean cost (--p 2)");
}

}  // namespace

void configure(TransportSettings& s, const std::function<bool(const char*)>& given) {
    SinkhornOptions& o = s.q.sinkhorn;
    for (const char* n : {"--weights", "--support", "--support-size", "--debiased", "--free-support"})
        if (given(n) && s.barycenter.empty()) throw UsageError(std::string(n) + " needs --barycenter");
    const bool points = !s.xs.empty() || !s.ys.empty();
    if (!s.barycenter.empty()) {
        configure_barycenter(s, given);
    } else {
        if (points == !s.cost.empty()) throw UsageError("give either two point sets (x y) or --cost FILE:/dataset");
        if (points && (s.xs.empty() || s.ys.empty())) throw UsageError("expected two point sets, x and y");
    }
    std::vector<std::string> modes;
    for (const char* m : {"--divergence", "--mass", "--sliced", "--exact", "--gromov"})
        if (given(m) && !(std::string(m) == "--exact" && given("--mass"))) modes.push_back(m);
    if (modes.size() > 1) throw UsageError(modes[1] + " cannot be combined with " + modes[0]);
    for (const char* n : {"--cost-xx", "--cost-yy"})
        if (given(n) && (!s.divergence || points || s.cost_xx.empty() != s.cost_yy.empty()))
            throw UsageError(std::string(n) + " needs --cost, --divergence, and both self costs");
    if (given("--divergence-of") && !s.divergence) throw UsageError("--divergence-of needs --divergence");
    if (o.plan != PlanKind::None && s.output.empty()) throw UsageError("--plan needs an output file (-o)");
    if (s.q.gradient && s.output.empty()) throw UsageError("--grad needs an output file (-o)");
    if (given("--blur")) o.eps = std::pow(s.blur, s.p), s.half = s.half || s.p == 2;
    if (given("--scaling")) o.eps_scaling = true, o.scaling = given("--blur") ? std::pow(s.scaling, s.p) : s.scaling;
    if (given("--reach") && !given("--rho-a")) o.rho_a = std::pow(s.reach, s.p);
    if (given("--reach") && !given("--rho-b")) o.rho_b = std::pow(s.reach, s.p);
    if (given("--rho")) o.rho_a = given("--rho-a") ? o.rho_a : s.rho, o.rho_b = given("--rho-b") ? o.rho_b : s.rho;
    o.memory_budget = std::size_t(s.budget_mb * 1048576.0), o.log_domain = !s.kernel;
    s.q.problem = s.divergence ? Problem::Divergence : given("--mass") ? Problem::Partial
                  : given("--sliced") ? Problem::Sliced : s.exact ? Problem::Exact
                  : s.gromov ? Problem::Gromov : Problem::Sinkhorn;
    s.q.exact = s.exact;
    s.q.cost = {s.p, s.half}, s.q.sliced.p = s.p, s.q.sliced.seed = s.seed;
    if (s.q.gradient && (s.q.problem == Problem::Sliced || s.q.problem == Problem::Gromov ||
                         s.q.divergence_of == DivergenceOf::Cost || (s.q.problem == Problem::Partial && s.exact)))
        throw UsageError("--grad needs a Sinkhorn, entropic partial, exact or entropic divergence value");
}

TransportProblems read_problems(const TransportSettings& s) {
    TransportProblems out;
    std::vector<TransportInput>& ps = out.problems;
    if (s.cost.empty()) ps = read_point_problems(s.xs, s.ys, &out.history);
    else ps.push_back(cost_problem(read_cost_matrix(s.cost, &out.history)));
    if (!s.cost_xx.empty()) ps[0].cost_xx = read_cost_matrix(s.cost_xx), ps[0].cost_yy = read_cost_matrix(s.cost_yy);
    if ((!s.a.empty() || !s.b.empty()) && ps.size() != 1) throw UsageError("--a and --b apply to a single problem, not to a batch");
    if (!s.a.empty()) ps[0].a = read_weight_vector(s.a);
    const Matrix B = s.b.empty() ? Matrix(ps[0].b) : read_weight_columns(s.b);
    for (auto [flag, n, found] : {std::tuple{"--a", ps[0].n(), ps[0].a.size()}, {"--b", ps[0].m(), B.rows()}})
        if (n != found) throw UsageError(std::string(flag) + ": expected " + std::to_string(n) + " weights, found " + std::to_string(found));
    if (B.cols() > 1 && s.q.problem == Problem::Divergence) throw UsageError("--b: several histograms need a transport problem, not --divergence");
    if (!s.b.empty()) {
        // Several histograms b (the columns of B): one problem each, against the same a and costs.
        ps.resize(std::size_t(B.cols()), ps[0]);
        for (Eigen::Index k = 0; k < B.cols(); ++k) ps[std::size_t(k)].b = B.col(k);
    }
    for (const auto& p : ps)
        if (s.q.problem == Problem::Partial && s.q.mass > std::min(p.a.sum(), p.b.sum()) * (1 + 1e-12))
            throw UsageError("--mass must not exceed min(|a|,|b|) = " + std::to_string(std::min(p.a.sum(), p.b.sum())));
    return out;
}

BarycenterProblem read_barycenter_problem(const TransportSettings& s) {
    BarycenterProblem bp;
    for (const std::string& f : s.barycenter) bp.inputs.push_back(read_measure(f, &bp.history));
    if (!s.support.empty()) {
        bp.support = read_measure(s.support);
        // The free method's fixed weights: the support file's /weights, else uniform.
    } else {
        // The union of the inputs' points, or a seeded sample of it.
        Eigen::Index total = 0;
        for (const Measure& m : bp.inputs) total += m.points.rows();
        Points all(total, bp.inputs[0].points.cols());
        Eigen::Index at = 0;
        for (const Measure& m : bp.inputs) {
            if (m.points.cols() != all.cols())
                throw Error("--barycenter: the point sets differ in dimension (" + std::to_string(all.cols()) + " and " +
                            std::to_string(m.points.cols()) + ")");
            all.middleRows(at, m.points.rows()) = m.points, at += m.points.rows();
        }
        if (s.support_size > 0) {
            if (s.support_size > total)
                throw UsageError("--support-size " + std::to_string(s.support_size) + " exceeds the inputs' " +
                                 std::to_string(total) + " points");
            const std::vector<std::int64_t> pick = Rng(s.seed).permutation(total);
            Points sample(s.support_size, all.cols());
            for (int i = 0; i < s.support_size; ++i) sample.row(i) = all.row(pick[std::size_t(i)]);
            all = std::move(sample);
        }
        bp.support = {all, Vector::Constant(all.rows(), bp.inputs[0].weights.sum() / double(all.rows()))};
    }
    bp.weights = s.weights.empty() ? std::vector<double>(bp.inputs.size(), 1.0) : s.weights;
    BarycenterOptions& o = bp.options;
    o.method = s.free_support ? BarycenterMethod::Free : s.debiased ? BarycenterMethod::Debiased : BarycenterMethod::Entropic;
    o.eps = s.q.sinkhorn.eps, o.tol = s.q.sinkhorn.tol, o.max_iter = s.q.sinkhorn.max_iter, o.cost = s.q.cost;
    return bp;
}

nlohmann::json run_barycenter(const TransportSettings& s, bool say) {
    const BarycenterProblem bp = read_barycenter_problem(s);
    Timer timer;
    const BarycenterResult r = wasserstein_barycenter(bp.inputs, bp.weights, bp.support, bp.options);
    const double seconds = timer.seconds();
    check_convergence(r, s);
    if (!s.output.empty()) {
        io::Output out(s.output, "pointset");
        out.add_history_lines(bp.history);
        write_barycenter(out.file(), r, bp.options, seconds);
        out.commit();
    }
    if (say) log::info(barycenter_line(r, seconds));
    return barycenter_json(r, bp.options, seconds);
}

void check_convergence(const TransportRun& run, const TransportSettings& s) {
    for (ConvergenceTrouble t : convergence_troubles(run, s.q.sinkhorn.tol)) {
        if (s.q.sinkhorn.precision == Precision::Float32 && !t.numerical)
            t.message += "; float32 cannot reach this tolerance here, use --precision float64 or a larger --tol";
        if (!s.allow)
            throw Error(t.message + (t.numerical ? "; rerun with a larger --eps, with --scaling, or --allow-unconverged"
                                                 : "; raise --max-iter, use --scaling, or pass --allow-unconverged"));
        log::warn(t.message);
    }
}

void check_convergence(const BarycenterResult& r, const TransportSettings& s) {
    std::string trouble;
    if (!r.finite) trouble = "numerical failure after " + std::to_string(r.iterations) + " iterations of the barycenter";
    else if (!r.converged) trouble = "the barycenter did not converge in " + std::to_string(r.iterations) + " iterations";
    if (trouble.empty()) return;
    if (!s.allow)
        throw Error(trouble + (r.finite ? "; raise --max-iter, or pass --allow-unconverged" : "; rerun with a larger --eps"));
    log::warn(trouble);
}

}  // namespace orbit::ot
