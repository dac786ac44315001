#include "orbit/registration/result_file.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "orbit/core/error.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::registration {
namespace {

// The bit of each flag in a batch's /flags; a new flag gets the next bit here.
const std::vector<std::string>& flag_bits() {
    static const std::vector<std::string> names = {"low_fitness", "planar", "not_converged"};
    return names;
}

std::string flags_meaning() {
    std::string s;
    for (std::size_t k = 0; k < flag_bits().size(); ++k)
        s += (s.empty() ? "" : ", ") + std::to_string(1 << k) + " " + flag_bits()[k];
    return s;
}

std::int32_t flags_to_bits(const std::vector<std::string>& flags) {
    std::int32_t bits = 0;
    for (auto& f : flags) {
        auto it = std::find(flag_bits().begin(), flag_bits().end(), f);
        if (it == flag_bits().end()) throw Error("registration flag '" + f + "' has no bit in the result file");
        bits |= 1 << (it - flag_bits().begin());
    }
    return bits;
}

std::vector<std::string> bits_to_flags(std::int64_t bits) {
    std::vector<std::string> flags;
    for (std::size_t k = 0; k < flag_bits().size(); ++k)
        if (bits & (std::int64_t{1} << k)) flags.push_back(flag_bits()[k]);
    return flags;
}

// The per-pair values, in the order they are written.
struct Column {
    const char* name;
    bool needs_truth;
    double (*get)(const Result&, const Errors&);
    void (*set)(Result&, Errors&, double);
};
const std::vector<Column>& columns() {
    static const std::vector<Column> c = {
        {"fitness", false, [](const Result& r, const Errors&) { return r.fitness; },
         [](Result& r, Errors&, double v) { r.fitness = v; }},
        {"inlier_rmse", false, [](const Result& r, const Errors&) { return r.inlier_rmse; },
         [](Result& r, Errors&, double v) { r.inlier_rmse = v; }},
        {"iterations", false, [](const Result& r, const Errors&) { return static_cast<double>(r.iterations); },
         [](Result& r, Errors&, double v) { r.iterations = static_cast<std::int64_t>(v); }},
        {"seconds", false, [](const Result& r, const Errors&) { return r.seconds; },
         [](Result& r, Errors&, double v) { r.seconds = v; }},
        {"rre_deg", true, [](const Result&, const Errors& e) { return e.rre_deg; },
         [](Result&, Errors& e, double v) { e.rre_deg = v; }},
        {"rte", true, [](const Result&, const Errors& e) { return e.rte; }, [](Result&, Errors& e, double v) { e.rte = v; }},
        {"chamfer", true, [](const Result&, const Errors& e) { return e.chamfer; },
         [](Result&, Errors& e, double v) { e.chamfer = v; }},
    };
    return c;
}

std::vector<double> values(const Run& run, const Column& c) {
    std::vector<double> v;
    for (std::size_t i = 0; i < run.results.size(); ++i)
        v.push_back(c.get(run.results[i], run.errors.empty() ? Errors{} : run.errors[i]));
    return v;
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}
double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
double median_of(const Run& run, const char* name) {
    for (auto& c : columns())
        if (std::string(c.name) == name) return median(values(run, c));
    return 0.0;
}

double recall(const Run& run, double rre_below, double rte_below) {
    std::int64_t ok = 0;
    for (auto& e : run.errors) ok += (e.rre_deg < rre_below && e.rte < rte_below) ? 1 : 0;
    return run.errors.empty() ? 0.0 : static_cast<double>(ok) / static_cast<double>(run.errors.size());
}

}  // namespace

void write_run(h5::File& f, const Run& run, bool correspondences) {
    const std::size_t n = run.results.size();
    if (!run.errors.empty() && run.errors.size() != n) throw Error("registration: one error record per pair expected");
    std::vector<Transform> ts;
    for (auto& r : run.results) ts.push_back(r.transform);
    io::write_transforms(f, "/transform", ts, run.batched);
    for (auto& c : columns()) {
        if (c.needs_truth && run.errors.empty()) continue;
        std::vector<double> v = values(run, c);
        if (run.batched) f.write(std::string("/") + c.name, h5::Array<double>{{n}, v});
        else f.set_attr("/", c.name, v[0]);
    }
    f.set_attr("/", "method", method_name(run.method));
    if (run.batched) {
        h5::Array<std::int32_t> bits{{n}, {}};
        for (auto& r : run.results) bits.data.push_back(flags_to_bits(r.flags));
        f.write("/flags", bits);
        f.set_attr("/flags", "flags_meaning", flags_meaning());
    } else {
        nlohmann::json flags = nlohmann::json::array();
        for (auto& r : run.results) flags.push_back(r.flags);
        f.set_attr_json("/", "flags", flags);
    }
    if (!correspondences) return;
    for (std::size_t i = 0; i < n; ++i) {
        h5::Array<std::int64_t> a;
        a.shape = {run.results[i].correspondences.size(), 2};
        for (auto& [p, q] : run.results[i].correspondences) {
            a.data.push_back(p);
            a.data.push_back(q);
        }
        const auto pair = run.first_pair + static_cast<std::int64_t>(i);
        f.write(run.batched ? "/correspondences/" + std::to_string(pair) : "/correspondences", a);
    }
}

Run read_run(const h5::File& f) {
    Run run;
    run.method = parse_method(f.attr_string("/", "method"));
    run.batched = f.info("/transform").shape.size() == 3;
    if (f.has_attr("/", "shard_index")) {
        io::Shard s{f.attr_int("/", "shard_index"), f.attr_int("/", "shard_count")};
        run.first_pair = s.begin(f.attr_int("/", "shard_total_items"));
    }
    const std::vector<Transform> ts = io::read_transforms(f, "/transform");
    run.results.resize(ts.size());
    const bool truth = run.batched ? f.exists("/rre_deg") : f.has_attr("/", "rre_deg");
    if (truth) run.errors.resize(ts.size());
    for (std::size_t i = 0; i < ts.size(); ++i) run.results[i].transform = ts[i];
    for (auto& c : columns()) {
        if (c.needs_truth && !truth) continue;
        std::vector<double> v = run.batched ? f.read<double>(std::string("/") + c.name).data
                                            : std::vector<double>{f.attr_double("/", c.name)};
        if (v.size() != ts.size()) throw Error(f.name() + ": " + c.name + " does not hold one value per pair");
        for (std::size_t i = 0; i < ts.size(); ++i) {
            Errors none;
            c.set(run.results[i], truth ? run.errors[i] : none, v[i]);
        }
    }
    if (run.batched) {
        auto bits = f.read<std::int64_t>("/flags");
        for (std::size_t i = 0; i < ts.size(); ++i) run.results[i].flags = bits_to_flags(bits.data.at(i));
    } else {
        nlohmann::json flags = f.attr_json("/", "flags");
        run.results[0].flags = flags.at(0).get<std::vector<std::string>>();
    }
    for (std::size_t i = 0; i < ts.size(); ++i) {
        const auto pair = run.first_pair + static_cast<std::int64_t>(i);
        const std::string path = run.batched ? "/correspondences/" + std::to_string(pair) : "/correspondences";
        if (!f.exists(path)) continue;
        auto a = f.read<std::int64_t>(path);
        for (std::size_t k = 0; k + 1 < a.data.size(); k += 2) run.results[i].correspondences.emplace_back(a.data[k], a.data[k + 1]);
    }
    return run;
}

std::int64_t count_flag(const Run& run, const std::string& flag) {
    std::int64_t n = 0;
    for (auto& r : run.results) n += std::find(r.flags.begin(), r.flags.end(), flag) != r.flags.end() ? 1 : 0;
    return n;
}

nlohmann::json summarize(const Run& run, double recall_rre_deg, double recall_rte) {
    nlohmann::json sum;
    const std::size_t n = run.results.size();
    sum["method"] = method_name(run.method);
    sum["pairs"] = n;
    sum["first_pair"] = run.first_pair;
    for (auto& c : columns()) {
        if (c.needs_truth && run.errors.empty()) continue;
        const std::vector<double> v = values(run, c);
        sum[c.name] = {{"mean", mean(v)}, {"median", median(v)}};
    }
    sum["low_fitness_pairs"] = count_flag(run, "low_fitness");
    if (!run.batched && n == 1) {
        nlohmann::json rows = nlohmann::json::array();
        const Transform& t = run.results[0].transform;
        for (int i = 0; i < 4; ++i) rows.push_back({t(i, 0), t(i, 1), t(i, 2), t(i, 3)});
        sum["transform"] = rows;
        sum["flags"] = run.results[0].flags;
    }
    if (!run.errors.empty())
        sum["recall"] = {{"value", recall(run, recall_rre_deg, recall_rte)},
                         {"rre_deg_below", recall_rre_deg},
                         {"rte_below", recall_rte}};
    return sum;
}

std::string text_summary(const Run& run, double recall_rre_deg, double recall_rte) {
    std::ostringstream os;
    char line[256];
    const std::size_t n = run.results.size();
    if (!run.batched && n == 1) {
        const Transform& t = run.results[0].transform;
        os << "transform (source -> target):\n";
        for (int i = 0; i < 4; ++i) {
            std::snprintf(line, sizeof line, "  %10.6f %10.6f %10.6f %10.6f\n", t(i, 0), t(i, 1), t(i, 2), t(i, 3));
            os << line;
        }
    }
    std::snprintf(line, sizeof line, "%s: %zu pair(s), fitness %.4f, inlier RMSE %.5f, %.4f s per pair (median)\n",
                  method_name(run.method).c_str(), n, median_of(run, "fitness"), median_of(run, "inlier_rmse"),
                  median_of(run, "seconds"));
    os << line;
    if (!run.errors.empty()) {
        std::snprintf(line, sizeof line,
                      "RRE %.4f deg, RTE %.5f, Chamfer %.6f (median); recall %.4f (RRE < %g deg, RTE < %g)\n",
                      median_of(run, "rre_deg"), median_of(run, "rte"), median_of(run, "chamfer"),
                      recall(run, recall_rre_deg, recall_rte), recall_rre_deg, recall_rte);
        os << line;
    }
    return os.str();
}

}  // namespace orbit::registration
