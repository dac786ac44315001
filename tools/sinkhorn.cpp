// orbit-sinkhorn: entropic optimal transport between point sets or for a cost matrix.
#include <cmath>
#include <iostream>

#include "orbit/cli/app.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"
#include "orbit/ot/divergence.hpp"
#include "orbit/ot/exact.hpp"
#include "orbit/ot/partial.hpp"
#include "orbit/ot/sinkhorn.hpp"
#include "orbit/ot/sliced.hpp"

using namespace orbit;
using nlohmann::json;

namespace {

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

// A weight vector from "FILE:/dataset" (1-D, numeric).
Vector read_vector(const std::string& arg) {
    const h5::DatasetRef ref = h5::parse_ref(arg);
    h5::File f = h5::File::open_read(ref.file);
    const std::string ds = ref.dataset.empty() ? "/weights" : ref.dataset;
    require(f.is_dataset(ds), ref.file + ": no dataset " + ds + " (expected a weight vector)");
    h5::Array<double> a = f.read<double>(ds);
    require(a.rank() == 1 || (a.rank() == 2 && (a.shape[0] == 1 || a.shape[1] == 1)),
            ref.file + ":" + ds + ": expected a 1-D weight vector, found shape " + shape_string(a.shape));
    return Eigen::Map<Vector>(a.data.data(), Eigen::Index(a.data.size()));
}

Matrix read_cost(const std::string& arg) {
    const h5::DatasetRef ref = h5::parse_ref(arg);
    h5::File f = h5::File::open_read(ref.file);
    const std::string ds = ref.dataset.empty() ? "/cost" : ref.dataset;
    require(f.is_dataset(ds), ref.file + ": no dataset " + ds + " (expected a cost matrix)");
    const h5::DatasetInfo info = f.info(ds);
    require(info.shape.size() == 2, ref.file + ":" + ds + ": expected a 2-D cost matrix, found shape " +
                                        shape_string(info.shape));
    require(info.shape[0] > 0 && info.shape[1] > 0, ref.file + ":" + ds + ": the cost matrix is empty");
    const Points c = f.read_matrix(ds);
    require(c.allFinite(), ref.file + ":" + ds + ": the cost matrix contains NaN or infinite values");
    return c;
}

Vector weights_of(const io::PointSet& s, const std::string& source) {
    if (s.weights.size() == 0) return Vector::Constant(s.points.rows(), 1.0 / double(s.points.rows()));
    require(s.weights.size() == s.points.rows(), source + ": /weights has " + std::to_string(s.weights.size()) +
                                                     " entries for " + std::to_string(s.points.rows()) + " points");
    return s.weights;
}

// The plan of one problem at `path`: a dense [N,M] dataset, or a CSR group.
void write_plan(h5::File& f, const ot::SinkhornResult& r, const std::string& path = "/plan") {
    if (r.plan) {
        f.write_matrix(path, Points(*r.plan));
    } else if (r.sparse_plan) {
        const ot::SparsePlan& p = *r.sparse_plan;
        f.write(path + "/data", h5::Array<double>{{p.data.size()}, p.data}, true);
        f.write(path + "/indices", h5::Array<std::int64_t>{{p.indices.size()}, p.indices}, true);
        f.write(path + "/indptr", h5::Array<std::int64_t>{{p.indptr.size()}, p.indptr});
        f.set_attr(path, "format", "csr");
        f.set_attr_json(path, "shape", json::array({p.rows, p.cols}));
    }
}

json result_json(const ot::SinkhornResult& r) {
    return {{"cost", r.cost},         {"primal", r.primal},       {"dual", r.dual},
            {"mass", r.mass},         {"iterations", r.iterations}, {"marginal_error", r.marginal_error},
            {"converged", r.converged}, {"finite", r.finite},     {"eps", r.eps},
            {"storage", r.storage},     {"overrelax", r.overrelax}};
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("sinkhorn", "entropic optimal transport: potentials, costs, plans and divergences",
                 "Solves entropic optimal transport between two weighted point sets (cost |x-y|^p) or for an "
                 "explicit cost matrix, in the log domain: balanced, unbalanced (KL marginal penalties), partial "
                 "(a given mass), the debiased Sinkhorn divergence, sliced Wasserstein, or exact transport for "
                 "small problems. Writes the dual potentials /f and /g, scalar results as attributes and, on "
                 "request, the plan (dense /plan, or CSR under /plan/). Large problems run matrix-free with "
                 "memory growing as N+M. Exits 1 when the solver did not converge, unless --allow-unconverged.");
    std::string xs, ys, cost_arg, a_arg, b_arg, plan = "none", norm = "l1", storage = "auto", device = "auto",
                                                   warm;
    ot::SinkhornOptions o;
    o.plan_threshold = 1e-12;
    double blur = 0, reach = 0, rho = 0, rho_a = 0, rho_b = 0, mass = 0, scaling = 0, budget_mb = 1024;
    int p = 2, sliced = 0;
    bool half = false, divergence = false, exact = false, kernel = false, allow = false;
    auto& c = app.cli();
    c.add_option("x", xs, "Source point set: FILE, FILE:/dataset or '-' ([N,D], or [B,N,D] for a batch)")
        ->check(cli::ExistingFileOrStream);
    c.add_option("y", ys, "Target point set, as x")->check(cli::ExistingFileOrStream);
    c.add_option("--cost", cost_arg, "Explicit N x M cost matrix FILE:/dataset instead of point sets")
        ->check(cli::ExistingFileOrStream);
    c.add_option("--a", a_arg, "Source weights FILE:/dataset (default: /weights of x, else uniform 1/N)");
    c.add_option("--b", b_arg, "Target weights FILE:/dataset (default: /weights of y, else uniform 1/M)");
    c.add_option("--eps", o.eps, "Entropic regularization, in cost units")->capture_default_str();
    c.add_option("--blur", blur, "GeomLoss convention: eps = blur^p and, for p = 2, cost |x-y|^2/2");
    c.add_option("--p", p, "Cost exponent: |x-y|^p")->capture_default_str()->check(CLI::IsMember({1, 2}));
    c.add_flag("--half", half, "Halve the cost (|x-y|^2/2, as GeomLoss for p = 2)");
    c.add_option("--reach", reach, "Unbalanced: KL marginal penalties rho = reach^p on both sides");
    c.add_option("--rho", rho, "Unbalanced: KL marginal penalty on both sides (cost units)");
    c.add_option("--rho-a", rho_a, "KL penalty on the source marginal only (semi-relaxed)");
    c.add_option("--rho-b", rho_b, "KL penalty on the target marginal only (semi-relaxed)");
    c.add_option("--mass", mass, "Partial transport: move exactly this mass (0 < mass <= min(|a|,|b|))");
    c.add_flag("--divergence", divergence, "Debiased Sinkhorn divergence S = OT(a,b) - OT(a,a)/2 - OT(b,b)/2");
    c.add_option("--sliced", sliced, "Sliced Wasserstein with this many random directions (uses --seed, --p)");
    c.add_flag("--exact", exact, "Exact (unregularized) transport plan for small problems");
    c.add_option("--tol", o.tol, "Tolerance on the marginal violation")->capture_default_str();
    c.add_option("--max-iter", o.max_iter, "Maximum number of iterations at the final eps")->capture_default_str();
    c.add_option("--check-every", o.check_every, "Test the stopping rule every k iterations")->capture_default_str();
    c.add_option("--norm", norm, "Norm of the marginal violation: l1, l2 or linf")->capture_default_str()
        ->check(CLI::IsMember({"l1", "l2", "linf"}));
    c.add_option("--scaling", scaling, "Epsilon scaling: ratio between successive eps (of blur with --blur)");
    c.add_option("--eps-start", o.eps_start, "First eps of the annealing (default: the largest cost)");
    c.add_option("--overrelax", o.overrelax,
                 "Over-relaxation omega in [1,2) of the alternating updates; 1 turns it off, 0 picks it from the "
                 "observed convergence rate")->capture_default_str();
    c.add_flag("--symmetric", o.symmetric, "Averaged symmetric updates instead of alternating ones");
    c.add_flag("--kernel", kernel, "Kernel mode with absorption (stores the N x M kernel; faster at large eps)");
    c.add_option("--storage", storage, "Cost evaluation: auto, dense or online (matrix-free)")->capture_default_str()
        ->check(CLI::IsMember({"auto", "dense", "online"}));
    c.add_option("--memory-budget", budget_mb, "MiB allowed for a dense N x M matrix")->capture_default_str();
    c.add_option("--device", device, "auto, cpu or cuda (matrix-free point-set passes)")->capture_default_str()
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    c.add_option("--warm", warm, "Warm start from the /f and /g of an earlier output")->check(cli::ExistingFileOrStream);
    c.add_option("--plan", plan, "Write the plan: none, dense or sparse")->capture_default_str()
        ->check(CLI::IsMember({"none", "dense", "sparse"}));
    c.add_option("--threshold", o.plan_threshold, "Sparse plan: keep entries >= this value (absolute, in mass units)")->capture_default_str();
    c.add_option("--topk", o.plan_topk, "Sparse plan: keep the k largest entries of each row (0: all above threshold)");
    c.add_flag("--allow-unconverged", allow, "Write the result even when the solver did not converge");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --eps 0.01 --tol 1e-6 -o ot.h5 --json",
                    "balanced transport between two clouds; potentials in ot.h5, a JSON summary on stdout");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --eps 0.01 --plan sparse -o ot.h5",
                    "also write the plan in CSR form under /plan/");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.05 --scaling 0.9 --json",
                    "debiased Sinkhorn divergence with GeomLoss' conventions and annealing");
    app.add_example("orbit-sinkhorn --cost C.h5:/cost --a a.h5:/w --b b.h5:/w --eps 0.1 --reach 1.0 -o ot.h5",
                    "unbalanced transport for an explicit cost matrix");
    app.add_example("orbit-sinkhorn x.h5 y.h5 --sliced 200 --json", "sliced Wasserstein-2 distance");

    return app.run(argc, argv, [&] {
        Timer timer;
        const bool points = !xs.empty() || !ys.empty();
        if (points == !cost_arg.empty())
            throw UsageError("give either two point sets (x y) or --cost FILE:/dataset");
        if (points && (xs.empty() || ys.empty())) throw UsageError("expected two point sets, x and y");
        if (int(divergence) + int(mass > 0) + int(sliced > 0) + int(exact) > 1)
            throw UsageError("--divergence, --mass, --sliced and --exact exclude one another");
        if (blur < 0 || reach < 0 || rho < 0 || rho_a < 0 || rho_b < 0 || mass < 0 || sliced < 0 || budget_mb <= 0)
            throw UsageError("--blur, --reach, --rho, --mass, --sliced and --memory-budget must be positive");
        if (blur > 0) {
            o.eps = std::pow(blur, p);
            if (p == 2) half = true;
        }
        if (scaling > 0) {
            if (scaling >= 1) throw UsageError("--scaling must lie in (0,1), found " + fmt(scaling));
            o.eps_scaling = true;
            o.scaling = blur > 0 ? std::pow(scaling, p) : scaling;
        }
        if (reach > 0) o.rho_a = o.rho_b = std::pow(reach, p);
        if (rho > 0) o.rho_a = o.rho_b = rho;
        if (rho_a > 0) o.rho_a = rho_a;
        if (rho_b > 0) o.rho_b = rho_b;
        if (!(o.eps > 0)) throw Error("--eps must be positive, found " + fmt(o.eps));
        o.norm = norm == "l1" ? ot::Norm::L1 : norm == "l2" ? ot::Norm::L2 : ot::Norm::Linf;
        o.storage = storage == "dense" ? ot::Storage::Dense : storage == "online" ? ot::Storage::Online : ot::Storage::Auto;
        o.device = device == "cpu" ? ot::Device::CPU : device == "cuda" ? ot::Device::CUDA : ot::Device::Auto;
        o.memory_budget = std::size_t(budget_mb * 1048576.0);
        o.log_domain = !kernel;
        o.plan = plan == "dense" ? ot::PlanKind::Dense : plan == "sparse" ? ot::PlanKind::Sparse : ot::PlanKind::None;
        if (o.plan != ot::PlanKind::None && app.common().output.empty())
            throw UsageError("--plan needs an output file (-o)");
        if (!warm.empty()) {
            h5::File w = h5::File::open_read(warm);
            require(w.is_dataset("/f") && w.is_dataset("/g"), warm + ": expected /f and /g from an earlier run");
            const auto f = w.read<double>("/f", 1), g = w.read<double>("/g", 1);
            o.f_init = Eigen::Map<const Vector>(f.data.data(), Eigen::Index(f.data.size()));
            o.g_init = Eigen::Map<const Vector>(g.data.data(), Eigen::Index(g.data.size()));
        }
        const ot::CostSpec spec{p, half};
        if (app.common().verbose)
            o.monitor = [](int it, double e, double err) {
                log::detail("iteration " + std::to_string(it) + ", eps " + fmt(e) +
                            (std::isinf(err) ? std::string(" (annealing)") : ", marginal error " + fmt(err)));
            };

        // ---- inputs: a list of independent problems ----------------------
        struct Problem {
            Points x, y;
            Matrix cost;
            Vector a, b;
        };
        std::vector<Problem> problems;
        std::vector<std::string> history_sources;
        if (points) {
            const io::PointSets X = io::read_point_sets(xs), Y = io::read_point_sets(ys);
            require(X.size() == Y.size() || Y.size() == 1,
                    "the batches differ in size: " + xs + " holds " + std::to_string(X.size()) + " clouds, " + ys +
                        " holds " + std::to_string(Y.size()));
            for (std::size_t k = 0; k < X.size(); ++k) {
                const io::PointSet& px = X[k];
                const io::PointSet& py = Y.size() == 1 ? Y[0] : Y[k];
                require(px.points.cols() == py.points.cols(),
                        "dimension mismatch: " + xs + " has " + std::to_string(px.points.cols()) + "-D points, " + ys +
                            " has " + std::to_string(py.points.cols()) + "-D points");
                Problem pr{px.points, py.points, Matrix(), weights_of(px, xs), weights_of(py, ys)};
                problems.push_back(std::move(pr));
            }
        } else {
            Problem pr;
            pr.cost = read_cost(cost_arg);
            pr.a = Vector::Constant(pr.cost.rows(), 1.0 / double(pr.cost.rows()));
            pr.b = Vector::Constant(pr.cost.cols(), 1.0 / double(pr.cost.cols()));
            problems.push_back(std::move(pr));
        }
        if (!a_arg.empty() || !b_arg.empty()) {
            require(problems.size() == 1, "--a and --b apply to a single problem, not to a batch");
            if (!a_arg.empty()) problems[0].a = read_vector(a_arg);
            if (!b_arg.empty()) problems[0].b = read_vector(b_arg);
            const Eigen::Index n = points ? problems[0].x.rows() : problems[0].cost.rows();
            const Eigen::Index m = points ? problems[0].y.rows() : problems[0].cost.cols();
            require(problems[0].a.size() == n, a_arg + ": expected " + std::to_string(n) + " weights, found " +
                                                   std::to_string(problems[0].a.size()));
            require(problems[0].b.size() == m, b_arg + ": expected " + std::to_string(m) + " weights, found " +
                                                   std::to_string(problems[0].b.size()));
        }

        // ---- solve ---------------------------------------------------------
        timer.reset();  // "seconds" reports the solve, without reading the inputs
        std::vector<ot::SinkhornResult> results;
        std::vector<double> values;  // divergence or sliced distance per problem
        for (const Problem& pr : problems) {
            if (sliced > 0) {
                require(points, "--sliced needs point sets");
                ot::SlicedOptions so;
                so.projections = sliced;
                so.p = p;
                so.seed = app.common().seed;
                values.push_back(ot::sliced_wasserstein(pr.x, pr.a, pr.y, pr.b, so));
                continue;
            }
            if (exact) {
                if (points)
                    require(double(pr.x.rows()) * pr.y.rows() <= 4e6, "--exact is meant for small problems (N*M <= 4e6)");
                results.push_back(ot::exact_transport(points ? ot::cost_matrix(pr.x, pr.y, spec) : pr.cost, pr.a, pr.b, o));
                continue;
            }
            if (divergence) {
                ot::DivergenceResult d = points ? ot::sinkhorn_divergence(pr.x, pr.a, pr.y, pr.b, spec, o)
                                                : throw UsageError("--divergence needs point sets (the self costs are needed)");
                values.push_back(d.value);
                ot::SinkhornResult r = std::move(d.xy);
                r.converged = r.converged && d.xx.converged && d.yy.converged;
                r.finite = r.finite && d.xx.finite && d.yy.finite;
                r.iterations += d.xx.iterations + d.yy.iterations;
                results.push_back(std::move(r));
                continue;
            }
            if (mass > 0) {
                results.push_back(points ? ot::partial(pr.x, pr.a, pr.y, pr.b, spec, mass, o)
                                         : ot::partial(pr.cost, pr.a, pr.b, mass, o));
                continue;
            }
            results.push_back(points ? ot::sinkhorn(pr.x, pr.a, pr.y, pr.b, spec, o) : ot::sinkhorn(pr.cost, pr.a, pr.b, o));
        }
        const double seconds = timer.seconds();

        // ---- honesty: convergence and numerical failures -------------------
        for (std::size_t k = 0; k < results.size(); ++k) {
            const ot::SinkhornResult& r = results[k];
            const std::string which = results.size() > 1 ? " (problem " + std::to_string(k) + ")" : "";
            if (!r.finite) {
                const std::string msg = "numerical failure after " + std::to_string(r.iterations) +
                                        " iterations" + which + "; the last finite iterate was kept (marginal error " +
                                        fmt(r.marginal_error) + ")";
                if (!allow) throw Error(msg + "; rerun with a larger --eps, with --scaling, or --allow-unconverged");
                log::warn(msg);
            } else if (!r.converged) {
                const std::string msg = "did not converge in " + std::to_string(r.iterations) + " iterations" + which +
                                        ": marginal error " + fmt(r.marginal_error) + " > tol " + fmt(o.tol);
                if (!allow) throw Error(msg + "; raise --max-iter, use --scaling, or pass --allow-unconverged");
                log::warn(msg);
            }
        }

        // ---- outputs -------------------------------------------------------
        json summary = {{"seconds", seconds}, {"problems", problems.size()}};
        if (sliced > 0) {
            summary["sliced"] = values.size() == 1 ? json(values[0]) : json(values);
        } else if (results.size() == 1) {
            summary.update(result_json(results[0]));
            if (divergence) summary["divergence"] = values[0];
        } else {
            json arr = json::array();
            for (std::size_t k = 0; k < results.size(); ++k) {
                json j = result_json(results[k]);
                if (divergence) j["divergence"] = values[k];
                arr.push_back(j);
            }
            summary["results"] = arr;
        }
        if (!app.common().output.empty()) {
            io::Output out(app.common().output, sliced > 0 ? "report" : "plan");
            for (const std::string& in : {xs, ys, cost_arg})
                if (!in.empty() && in != "-") {
                    h5::File f = h5::File::open_read(h5::parse_ref(in).file);
                    out.inherit_history(f);
                }
            h5::File& f = out.file();
            if (sliced > 0) {
                f.write("/sliced", h5::Array<double>{{values.size()}, values});
            } else if (results.size() == 1) {
                const ot::SinkhornResult& r = results[0];
                if (r.f.size()) {
                    f.write("/f", h5::Array<double>{{std::size_t(r.f.size())}, std::vector<double>(r.f.data(), r.f.data() + r.f.size())});
                    f.write("/g", h5::Array<double>{{std::size_t(r.g.size())}, std::vector<double>(r.g.data(), r.g.data() + r.g.size())});
                }
                const json attrs = result_json(r);
                for (auto& [key, v] : attrs.items()) {
                    if (v.is_boolean()) f.set_attr("/", key, std::int64_t(v.get<bool>()));
                    else if (v.is_string()) f.set_attr("/", key, v.get<std::string>());
                    else if (v.is_number_integer()) f.set_attr("/", key, v.get<std::int64_t>());
                    else f.set_attr("/", key, v.get<double>());
                }
                if (divergence) f.set_attr("/", "divergence", values[0]);
                write_plan(f, r);
            } else {
                // A batch: potentials concatenated with offsets, scalars as arrays.
                std::vector<double> fs, gs, cost, dual, err, divs;
                std::vector<std::int64_t> fo{0}, go{0}, iters, conv;
                for (const auto& r : results) {
                    fs.insert(fs.end(), r.f.data(), r.f.data() + r.f.size());
                    gs.insert(gs.end(), r.g.data(), r.g.data() + r.g.size());
                    fo.push_back(std::int64_t(fs.size()));
                    go.push_back(std::int64_t(gs.size()));
                    cost.push_back(r.cost), dual.push_back(r.dual), err.push_back(r.marginal_error);
                    iters.push_back(r.iterations), conv.push_back(r.converged);
                }
                f.write("/f", h5::Array<double>{{fs.size()}, fs});
                f.write("/g", h5::Array<double>{{gs.size()}, gs});
                f.write("/f_offsets", h5::Array<std::int64_t>{{fo.size()}, fo});
                f.write("/g_offsets", h5::Array<std::int64_t>{{go.size()}, go});
                f.write("/cost", h5::Array<double>{{cost.size()}, cost});
                f.write("/dual", h5::Array<double>{{dual.size()}, dual});
                f.write("/marginal_error", h5::Array<double>{{err.size()}, err});
                f.write("/iterations", h5::Array<std::int64_t>{{iters.size()}, iters});
                f.write("/converged", h5::Array<std::int64_t>{{conv.size()}, conv});
                if (divergence) f.write("/divergence", h5::Array<double>{{values.size()}, values});
                // One plan per problem (sizes may differ): /plan/0, /plan/1, ...
                for (std::size_t k = 0; k < results.size(); ++k) write_plan(f, results[k], "/plan/" + std::to_string(k));
            }
            f.set_attr("/", "seconds", seconds);
            out.commit();
        }
        app.summary() = summary;
        if (!app.common().json) {
            if (sliced > 0) log::info("sliced Wasserstein " + fmt(values[0]));
            else if (results.size() == 1)
                log::info("cost " + fmt(results[0].cost) + (divergence ? ", divergence " + fmt(values[0]) : "") +
                          ", " + std::to_string(results[0].iterations) + " iterations, marginal error " +
                          fmt(results[0].marginal_error) + ", " + fmt(seconds) + " s");
            else log::info(std::to_string(results.size()) + " problems solved in " + fmt(seconds) + " s");
        }
    });
}
