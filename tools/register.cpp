// orbit-register: rigid registration of point clouds (one pair or a batch of pairs).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "orbit/cli/app.hpp"
#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"
#include "orbit/registration/register.hpp"
#include "orbit/udpreg/model.hpp"

namespace reg = orbit::registration;
using orbit::Transform;

namespace {
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
nlohmann::json stats(const std::vector<double>& v) { return {{"mean", mean(v)}, {"median", median(v)}}; }
nlohmann::json matrix_json(const Transform& t) {
    nlohmann::json rows = nlohmann::json::array();
    for (int i = 0; i < 4; ++i) rows.push_back({t(i, 0), t(i, 1), t(i, 2), t(i, 3)});
    return rows;
}
}  // namespace

int main(int argc, char** argv) {
    orbit::cli::App app(
        "register", "rigid registration of point clouds: ICP, CPD, FPFH+RANSAC, GMM+OT",
        "Estimates the rigid transform that maps each source cloud onto its target and writes it as /transform "
        "([4,4], or [B,4,4] for a batch of pairs) with per-pair fitness (share of source points within the inlier "
        "distance of the target after the transform), inlier RMSE, iterations and seconds. Batches: [B,N,3] "
        "sources against [B,M,3] targets, processed in parallel over pairs with one random stream per pair, so "
        "results are the same for any -j and any --shard split. With --ground-truth it adds the rotation error "
        "(RRE, degrees), translation error (RTE), modified Chamfer distance and recall.\n\n"
        "Ground-truth convention: orbit-transform stores in src.h5:/transform the transform mapping reference "
        "coordinates to source coordinates; the registration is its inverse, and --ground-truth takes that "
        "dataset as written (--ground-truth-direction ref-to-src, the default). Use src-to-ref for a transform "
        "that already maps source onto target.");
    std::string source, target, method = "auto", truth_arg, truth_dir = "ref-to-src", shard_text;
    reg::Options o;
    double recall_rre = 5.0, recall_rte = 0.1;
    bool no_anneal = false;
    auto& c = app.cli();
    c.add_option("source", source, "Source point set: FILE, FILE:/dataset or '-'")->required()->check(orbit::cli::ExistingFileOrStream);
    c.add_option("target", target, "Target (reference) point set: FILE, FILE:/dataset or '-'")->required()->check(orbit::cli::ExistingFileOrStream);
    c.add_option("-m,--method", method, "auto (default: FPFH+RANSAC hypotheses, GMM+OT ones too when the fit is poor, verified, ICP-refined), icp, icp-plane, cpd, global, gmm-ot")
        ->capture_default_str();
    c.add_option("--ground-truth", truth_arg, "Ground-truth transforms (FILE or FILE:/dataset, [4,4] or [B,4,4]) for RRE, RTE, Chamfer and recall")
        ->check(orbit::cli::ExistingFileOrStream);
    c.add_option("--ground-truth-direction", truth_dir, "ref-to-src: the dataset maps target coordinates to source coordinates (orbit-transform); src-to-ref: it maps source onto target")
        ->check(CLI::IsMember({"ref-to-src", "src-to-ref"}))->capture_default_str();
    c.add_option("--max-distance", o.distance, "Inlier distance for ICP, RANSAC and fitness (0: 2.5 x mean point spacing)")->check(CLI::NonNegativeNumber);
    c.add_option("--voxel", o.voxel, "Voxel size for feature computation (0: automatic above 5000 points)")->check(CLI::NonNegativeNumber);
    c.add_option("--normal-radius", o.normal_radius, "Normal estimation radius (0: 4 x spacing)")->check(CLI::NonNegativeNumber);
    c.add_option("--feature-radius", o.feature_radius, "FPFH radius (0: 12 x spacing)")->check(CLI::NonNegativeNumber);
    c.add_option("--max-iterations", o.max_iterations, "ICP / CPD iterations")->check(CLI::Range(1, 100000))->capture_default_str();
    c.add_option("--trim", o.trim, "ICP: share of the closest pairs kept each iteration, in (0,1]")->check(CLI::Range(1e-6, 1.0))->capture_default_str();
    c.add_flag("--no-anneal", no_anneal, "ICP: use --max-distance from the first iteration instead of shrinking a wide threshold");
    c.add_option("--outlier-weight", o.outlier_weight, "CPD: weight of the uniform outlier component, in [0,1)")->check(CLI::Range(0.0, 0.999))->capture_default_str();
    c.add_flag("--with-scale", o.with_scale, "CPD and gmm-ot: estimate a scale factor too (similarity transform)");
    c.add_option("--ransac-iterations", o.ransac_iterations, "global / auto: maximum RANSAC draws")->check(CLI::Range(1, 100000000))->capture_default_str();
    c.add_option("--components", o.components, "gmm-ot: mixture components per cloud")->check(CLI::Range(3, 1000))->capture_default_str();
    c.add_option("--hypotheses", o.hypotheses, "global / gmm-ot / auto: candidate transforms verified per method")->check(CLI::Range(1, 1000))->capture_default_str();
    c.add_option("--free-space-weight", o.free_space_weight, "global / gmm-ot / auto: how much a pose is penalised for moving points into the other cloud's hull away from its surface (0: not at all)")->check(CLI::Range(0.0, 1000.0))->capture_default_str();
    c.add_flag("--correspondences", o.keep_correspondences, "Also write the inlier pairs (source row, target row) under /correspondences");
    c.add_option("--recall-rre", recall_rre, "Recall threshold on RRE in degrees")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--recall-rte", recall_rte, "Recall threshold on RTE")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--shard", shard_text, "Process pair slice K of N (K/N, 1-based), for job arrays");
    std::string model_path;
    c.add_option("--model", model_path, "A trained UDPReg model (orbit-train-register): --method udpreg registers with its learned posteriors; with auto its hypotheses join the verified pool")
        ->check(CLI::ExistingFile);
    app.add_example("orbit-register src.h5 ref.h5 -o T.h5 --json", "register two crops of a shape with the default method");
    app.add_example("orbit-register src.h5 ref.h5 --method gmm-ot --ground-truth src.h5:/transform --json",
                    "GMM+OT registration, scored against the transform orbit-transform stored");
    app.add_example("orbit-register pairs.h5:/src pairs.h5:/ref --method icp -j 2 -o T.h5", "a batch of pairs, two threads");
    app.add_example("orbit-register scan1.ply scan2.ply --method icp-plane --max-distance 0.02 -o T.h5", "refine a rough alignment");

    return app.run(argc, argv, [&] {
        o.method = reg::parse_method(method);
        if (o.method == reg::Method::udpreg && model_path.empty())
            throw orbit::UsageError("--method udpreg needs --model FILE (train one with orbit-train-register)");
        if (!model_path.empty() && o.method != reg::Method::udpreg && o.method != reg::Method::automatic)
            throw orbit::UsageError("--model applies to --method udpreg and auto");
        if (!model_path.empty()) o.model = orbit::udpreg::Model::load(model_path);
        o.anneal = !no_anneal;
        orbit::io::PointSets src = orbit::io::read_point_sets(source);
        orbit::io::PointSets ref = orbit::io::read_point_sets(target);
        if (src.size() != ref.size())
            throw orbit::Error("expected as many source clouds as target clouds, found " + std::to_string(src.size()) + " in " +
                               source + " and " + std::to_string(ref.size()) + " in " + target);
        const bool batched = src.layout != orbit::io::PointSets::Layout::single || ref.layout != orbit::io::PointSets::Layout::single;
        const auto total = static_cast<std::int64_t>(src.size());
        orbit::io::Shard shard = shard_text.empty() ? orbit::io::Shard{} : orbit::io::parse_shard(shard_text);
        const std::int64_t begin = shard.begin(total), end = shard.end(total);
        std::vector<orbit::Points> s, t;
        for (std::int64_t i = begin; i < end; ++i) {
            const auto& a = src[static_cast<std::size_t>(i)].points;
            const auto& b = ref[static_cast<std::size_t>(i)].points;
            if (a.cols() != 3) throw orbit::Error(source + ": expected 3-d points [N,3], found " + std::to_string(a.cols()) + " columns");
            if (b.cols() != 3) throw orbit::Error(target + ": expected 3-d points [N,3], found " + std::to_string(b.cols()) + " columns");
            s.push_back(a);
            t.push_back(b);
        }
        std::vector<Transform> truth;
        if (!truth_arg.empty()) {
            std::vector<Transform> all = orbit::io::read_transforms(truth_arg);
            if (static_cast<std::int64_t>(all.size()) != total)
                throw orbit::Error(truth_arg + ": expected " + std::to_string(total) + " ground-truth transform(s), found " +
                                   std::to_string(all.size()));
            for (std::int64_t i = begin; i < end; ++i) {
                Transform g = all[static_cast<std::size_t>(i)];
                truth.push_back(truth_dir == "ref-to-src" ? orbit::geometry::invert(g) : g);
            }
        }

        std::vector<reg::Result> res = reg::register_batch(s, t, o, app.common().seed, begin);
        const std::size_t n = res.size();
        std::vector<double> fit(n), rmse(n), secs(n), iters(n), rre, rte, cham;
        std::vector<Transform> ts(n);
        std::int64_t flagged = 0;
        for (std::size_t i = 0; i < n; ++i) {
            ts[i] = res[i].transform;
            fit[i] = res[i].fitness;
            rmse[i] = res[i].inlier_rmse;
            secs[i] = res[i].seconds;
            iters[i] = static_cast<double>(res[i].iterations);
            if (std::find(res[i].flags.begin(), res[i].flags.end(), "low_fitness") != res[i].flags.end()) ++flagged;
            if (!truth.empty()) {
                reg::Errors e = reg::evaluate(s[i], t[i], ts[i], truth[i]);
                rre.push_back(e.rre_deg);
                rte.push_back(e.rte);
                cham.push_back(e.chamfer);
            }
        }
        if (flagged) orbit::log::warn(std::to_string(flagged) + " of " + std::to_string(n) + " pair(s) have fitness below 0.2 (flag low_fitness): little or no overlap found");

        if (!app.common().output.empty()) {
            orbit::io::Output out(app.common().output, "transform");
            if (!source.empty() && source != "-") {
                try {
                    out.inherit_history(orbit::h5::File::open_read(orbit::h5::parse_ref(source).file));
                } catch (const orbit::Error&) {
                }
            }
            auto& f = out.file();
            orbit::io::write_transforms(f, "/transform", ts, batched);
            auto put = [&](const std::string& name, const std::vector<double>& v) {
                if (batched) f.write("/" + name, orbit::h5::Array<double>{{v.size()}, v});
                else f.set_attr("/", name, v[0]);
            };
            put("fitness", fit);
            put("inlier_rmse", rmse);
            put("iterations", iters);
            put("seconds", secs);
            if (!truth.empty()) {
                put("rre_deg", rre);
                put("rte", rte);
                put("chamfer", cham);
            }
            f.set_attr("/", "method", reg::method_name(o.method));
            f.set_attr("/", "pair_begin", static_cast<std::int64_t>(begin));
            f.set_attr("/", "pair_count", static_cast<std::int64_t>(n));
            nlohmann::json flags = nlohmann::json::array();
            for (auto& r : res) flags.push_back(r.flags);
            f.set_attr_json("/", "flags", flags);
            if (o.keep_correspondences) {
                for (std::size_t i = 0; i < n; ++i) {
                    orbit::h5::Array<std::int64_t> a;
                    a.shape = {res[i].correspondences.size(), 2};
                    for (auto& [p, q] : res[i].correspondences) {
                        a.data.push_back(p);
                        a.data.push_back(q);
                    }
                    f.write(batched ? "/correspondences/" + std::to_string(begin + static_cast<std::int64_t>(i)) : "/correspondences", a);
                }
            }
            out.commit();
        }

        auto& sum = app.summary();
        sum["method"] = reg::method_name(o.method);
        sum["pairs"] = n;
        sum["first_pair"] = begin;
        sum["fitness"] = stats(fit);
        sum["inlier_rmse"] = stats(rmse);
        sum["seconds"] = stats(secs);
        sum["iterations"] = stats(iters);
        sum["low_fitness_pairs"] = flagged;
        if (!batched && n == 1) {
            sum["transform"] = matrix_json(ts[0]);
            sum["flags"] = res[0].flags;
        }
        double recall = 0;
        if (!truth.empty()) {
            std::int64_t ok = 0;
            for (std::size_t i = 0; i < n; ++i) ok += (rre[i] < recall_rre && rte[i] < recall_rte) ? 1 : 0;
            recall = n ? static_cast<double>(ok) / static_cast<double>(n) : 0.0;
            sum["rre_deg"] = stats(rre);
            sum["rte"] = stats(rte);
            sum["chamfer"] = stats(cham);
            sum["recall"] = {{"value", recall}, {"rre_deg_below", recall_rre}, {"rte_below", recall_rte}};
        }
        if (!app.common().json && !orbit::io::stdout_is_data() && (app.common().output.empty() || !truth.empty())) {
            std::ostringstream os;
            if (!batched && n == 1) {
                os << "transform (source -> target):\n";
                for (int i = 0; i < 4; ++i) {
                    char line[128];
                    std::snprintf(line, sizeof line, "  %10.6f %10.6f %10.6f %10.6f\n", ts[0](i, 0), ts[0](i, 1), ts[0](i, 2), ts[0](i, 3));
                    os << line;
                }
            }
            char line[256];
            std::snprintf(line, sizeof line, "%s: %zu pair(s), fitness %.4f, inlier RMSE %.5f, %.4f s per pair (median)\n",
                          reg::method_name(o.method).c_str(), n, median(fit), median(rmse), median(secs));
            os << line;
            if (!truth.empty()) {
                std::snprintf(line, sizeof line, "RRE %.4f deg, RTE %.5f, Chamfer %.6f (median); recall %.4f (RRE < %g deg, RTE < %g)\n",
                              median(rre), median(rte), median(cham), recall, recall_rre, recall_rte);
                os << line;
            }
            std::cout << os.str();
        }
    });
}
