#include "orbit/ot/result_file.hpp"

#include <cstdio>

#include "orbit/core/error.hpp"

namespace orbit::ot {
namespace {

using nlohmann::json;

h5::Array<double> array_of(const Vector& v) {
    return h5::Array<double>{{std::size_t(v.size())}, std::vector<double>(v.data(), v.data() + v.size())};
}

Vector vector_of(const h5::File& f, const std::string& path) {
    const h5::Array<double> a = f.read<double>(path, 1);
    return Eigen::Map<const Vector>(a.data.data(), Eigen::Index(a.data.size()));
}

bool has_divergence(const TransportRun& run) { return run.problem == Problem::Divergence; }

// The plan of one problem at `path`: a dense [N,M] dataset, or a CSR group.
void write_plan(h5::File& f, const SinkhornResult& r, const std::string& path) {
    if (r.plan) {
        f.write_matrix(path, Points(*r.plan));
    } else if (r.sparse_plan) {
        const SparsePlan& p = *r.sparse_plan;
        f.write(path + "/data", h5::Array<double>{{p.data.size()}, p.data}, true);
        f.write(path + "/indices", h5::Array<std::int64_t>{{p.indices.size()}, p.indices}, true);
        f.write(path + "/indptr", h5::Array<std::int64_t>{{p.indptr.size()}, p.indptr});
        f.set_attr(path, "format", "csr");
        f.set_attr_json(path, "shape", json::array({p.rows, p.cols}));
    }
}

void read_plan(const h5::File& f, const std::string& path, SinkhornResult& r) {
    if (!f.exists(path)) return;
    if (f.is_dataset(path)) {
        r.plan = Matrix(f.read_matrix(path));
        return;
    }
    SparsePlan p;
    const json shape = f.attr_json(path, "shape");
    p.rows = shape[0].get<std::int64_t>();
    p.cols = shape[1].get<std::int64_t>();
    p.data = f.read<double>(path + "/data", 1).data;
    p.indices = f.read<std::int64_t>(path + "/indices", 1).data;
    p.indptr = f.read<std::int64_t>(path + "/indptr", 1).data;
    r.sparse_plan = std::move(p);
}

// Gradients: one problem as is, a batch with rows concatenated in problem order.
void write_gradients(h5::File& f, const TransportRun& run) {
    if (run.gradients.empty()) return;
    auto stack = [&](auto member) {
        Eigen::Index rows = 0, cols = 0;
        for (const TransportGradient& g : run.gradients) rows += (g.*member).rows(), cols = (g.*member).cols();
        Matrix m(rows, cols);
        Eigen::Index at = 0;
        for (const TransportGradient& g : run.gradients) {
            m.middleRows(at, (g.*member).rows()) = g.*member;
            at += (g.*member).rows();
        }
        return m;
    };
    auto concat = [&](auto member) {
        std::vector<double> v;
        for (const TransportGradient& g : run.gradients) v.insert(v.end(), (g.*member).data(), (g.*member).data() + (g.*member).size());
        return h5::Array<double>{{v.size()}, v};
    };
    const TransportGradient& g0 = run.gradients[0];
    if (g0.grad_x.size()) f.write_matrix("/grad_x", Points(stack(&TransportGradient::grad_x)));
    if (g0.grad_y.size()) f.write_matrix("/grad_y", Points(stack(&TransportGradient::grad_y)));
    if (g0.grad_a.size()) f.write("/grad_a", concat(&TransportGradient::grad_a));
    if (g0.grad_b.size()) f.write("/grad_b", concat(&TransportGradient::grad_b));
}

// Scalars as root attributes (booleans as 0/1 integers).
void set_root_attrs(h5::File& f, const json& attrs) {
    for (auto& [key, v] : attrs.items()) {
        if (v.is_boolean()) f.set_attr("/", key, std::int64_t(v.get<bool>()));
        else if (v.is_string()) f.set_attr("/", key, v.get<std::string>());
        else if (v.is_number_integer()) f.set_attr("/", key, v.get<std::int64_t>());
        else f.set_attr("/", key, v.get<double>());
    }
}

void write_one(h5::File& f, const TransportRun& run) {
    const SinkhornResult& r = run.results[0];
    if (r.f.size()) {
        f.write("/f", array_of(r.f));
        f.write("/g", array_of(r.g));
    }
    set_root_attrs(f, result_json(r));
    if (has_divergence(run)) f.set_attr("/", "divergence", run.values[0]);
    write_plan(f, r, "/plan");
}

// A batch: potentials concatenated with offsets, scalars as arrays.
void write_batch(h5::File& f, const TransportRun& run) {
    std::vector<double> fs, gs, cost, dual, err;
    std::vector<std::int64_t> fo{0}, go{0}, iters, conv;
    for (const auto& r : run.results) {
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
    if (has_divergence(run)) f.write("/divergence", h5::Array<double>{{run.values.size()}, run.values});
    for (std::size_t k = 0; k < run.results.size(); ++k) write_plan(f, run.results[k], "/plan/" + std::to_string(k));
}

}  // namespace

std::string result_kind(const TransportRun& run) { return run.problem == Problem::Sliced ? "report" : "plan"; }

json result_json(const SinkhornResult& r) {
    return {{"cost", r.cost},         {"primal", r.primal},       {"dual", r.dual},
            {"mass", r.mass},         {"iterations", r.iterations}, {"marginal_error", r.marginal_error},
            {"converged", r.converged}, {"finite", r.finite},     {"eps", r.eps},
            {"storage", r.storage},     {"overrelax", r.overrelax}};
}

json run_summary(const TransportRun& run, std::size_t problems, double seconds) {
    json summary = {{"seconds", seconds}, {"problems", problems}};
    if (run.problem == Problem::Sliced) {
        summary["sliced"] = run.values.size() == 1 ? json(run.values[0]) : json(run.values);
    } else if (run.results.size() == 1) {
        summary.update(result_json(run.results[0]));
        if (has_divergence(run)) summary["divergence"] = run.values[0];
    } else {
        json arr = json::array();
        for (std::size_t k = 0; k < run.results.size(); ++k) {
            json j = result_json(run.results[k]);
            if (has_divergence(run)) j["divergence"] = run.values[k];
            arr.push_back(j);
        }
        summary["results"] = arr;
    }
    return summary;
}

std::string run_line(const TransportRun& run, double seconds) {
    auto fmt = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.6g", v);
        return std::string(b);
    };
    if (run.problem == Problem::Sliced) return "sliced Wasserstein " + fmt(run.values[0]);
    if (run.results.size() != 1) return std::to_string(run.results.size()) + " problems solved in " + fmt(seconds) + " s";
    const SinkhornResult& r = run.results[0];
    return "cost " + fmt(r.cost) + (has_divergence(run) ? ", divergence " + fmt(run.values[0]) : "") + ", " +
           std::to_string(r.iterations) + " iterations, marginal error " + fmt(r.marginal_error) + ", " + fmt(seconds) + " s";
}

void write_transport(h5::File& f, const TransportRun& run, double seconds) {
    if (run.problem == Problem::Sliced) f.write("/sliced", h5::Array<double>{{run.values.size()}, run.values});
    else if (run.results.size() == 1) write_one(f, run);
    else write_batch(f, run);
    write_gradients(f, run);
    f.set_attr("/", "seconds", seconds);
}

TransportRun read_transport(const h5::File& f) {
    TransportRun run;
    if (f.is_dataset("/sliced")) {
        run.problem = Problem::Sliced;
        run.values = f.read<double>("/sliced", 1).data;
        return run;
    }
    const bool divergence = f.is_dataset("/divergence") || f.has_attr("/", "divergence");
    if (divergence) run.problem = Problem::Divergence;
    if (f.is_dataset("/f_offsets")) {
        const Vector fs = vector_of(f, "/f"), gs = vector_of(f, "/g");
        const auto fo = f.read<std::int64_t>("/f_offsets", 1).data, go = f.read<std::int64_t>("/g_offsets", 1).data;
        const auto cost = f.read<double>("/cost", 1).data, dual = f.read<double>("/dual", 1).data,
                   err = f.read<double>("/marginal_error", 1).data;
        const auto iters = f.read<std::int64_t>("/iterations", 1).data, conv = f.read<std::int64_t>("/converged", 1).data;
        require(fo.size() >= 1 && go.size() == fo.size() && cost.size() + 1 == fo.size(),
                f.name() + ": inconsistent batch layout");
        for (std::size_t k = 0; k + 1 < fo.size(); ++k) {
            SinkhornResult r;
            r.f = fs.segment(fo[k], fo[k + 1] - fo[k]);
            r.g = gs.segment(go[k], go[k + 1] - go[k]);
            r.cost = cost[k], r.dual = dual[k], r.marginal_error = err[k];
            r.iterations = int(iters[k]), r.converged = conv[k] != 0;
            read_plan(f, "/plan/" + std::to_string(k), r);
            run.results.push_back(std::move(r));
        }
        if (divergence) run.values = f.read<double>("/divergence", 1).data;
        return run;
    }
    SinkhornResult r;
    if (f.is_dataset("/f")) r.f = vector_of(f, "/f"), r.g = vector_of(f, "/g");
    r.cost = f.attr_double("/", "cost");
    r.primal = f.attr_double("/", "primal");
    r.dual = f.attr_double("/", "dual");
    r.mass = f.attr_double("/", "mass");
    r.marginal_error = f.attr_double("/", "marginal_error");
    r.eps = f.attr_double("/", "eps");
    r.overrelax = f.attr_double("/", "overrelax");
    r.iterations = int(f.attr_int("/", "iterations"));
    r.converged = f.attr_int("/", "converged") != 0;
    r.finite = f.attr_int("/", "finite") != 0;
    r.storage = f.attr_string("/", "storage");
    read_plan(f, "/plan", r);
    if (divergence) run.values = {f.attr_double("/", "divergence")};
    TransportGradient g;
    if (f.is_dataset("/grad_x")) g.grad_x = Matrix(f.read_matrix("/grad_x"));
    if (f.is_dataset("/grad_y")) g.grad_y = Matrix(f.read_matrix("/grad_y"));
    if (f.is_dataset("/grad_a")) g.grad_a = vector_of(f, "/grad_a");
    if (f.is_dataset("/grad_b")) g.grad_b = vector_of(f, "/grad_b");
    if (g.grad_x.size() || g.grad_a.size()) run.gradients.push_back(std::move(g));
    run.results.push_back(std::move(r));
    return run;
}

std::string barycenter_method_name(BarycenterMethod m) {
    return m == BarycenterMethod::Free ? "free-support" : m == BarycenterMethod::Debiased ? "debiased" : "entropic";
}

json barycenter_json(const BarycenterResult& r, const BarycenterOptions& opt, double seconds) {
    json j = {{"method", barycenter_method_name(opt.method)}, {"cost", r.cost}, {"iterations", r.iterations},
              {"marginal_error", r.marginal_error}, {"converged", r.converged}, {"finite", r.finite},
              {"support_size", r.barycenter.points.rows()}, {"seconds", seconds}};
    if (opt.method != BarycenterMethod::Free) j["eps"] = opt.eps;
    return j;
}

std::string barycenter_line(const BarycenterResult& r, double seconds) {
    char b[160];
    std::snprintf(b, sizeof b, "barycenter on %lld points: cost %.6g, %d iterations, error %.3g, %.3g s",
                  static_cast<long long>(r.barycenter.points.rows()), r.cost, r.iterations, r.marginal_error, seconds);
    return b;
}

void write_barycenter(h5::File& f, const BarycenterResult& r, const BarycenterOptions& opt, double seconds) {
    f.write_matrix("/points", r.barycenter.points);
    f.write("/weights", array_of(r.barycenter.weights));
    json attrs = barycenter_json(r, opt, seconds);
    attrs.erase("support_size");
    set_root_attrs(f, attrs);
}

BarycenterResult read_barycenter(const h5::File& f) {
    BarycenterResult r;
    r.barycenter.points = f.read_matrix("/points");
    r.barycenter.weights = vector_of(f, "/weights");
    r.cost = f.attr_double("/", "cost");
    r.marginal_error = f.attr_double("/", "marginal_error");
    r.iterations = int(f.attr_int("/", "iterations"));
    r.converged = f.attr_int("/", "converged") != 0;
    r.finite = f.attr_int("/", "finite") != 0;
    return r;
}

}  // namespace orbit::ot
