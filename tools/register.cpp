// orbit-register: rigid registration of point clouds (one pair or a batch of pairs).
#include <iostream>

#include "orbit/cli/app.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/core/log.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"
#include "orbit/registration/aligned_file.hpp"
#include "orbit/registration/hypotheses_file.hpp"
#include "orbit/registration/result_file.hpp"
#include "orbit/udpreg/model.hpp"

using namespace orbit;
namespace reg = orbit::registration;

namespace {

struct Settings {
    std::string source, target, truth;
    bool truth_ref_to_src = true;  // --ground-truth-direction
    reg::Options o;
    double recall_rre = 5.0, recall_rte = 0.1;
    bool no_anneal = false;  // --no-anneal: o.anneal off
    cli::ShardOption shard;
    std::string model;  // --model: a trained UDPReg model
    std::string hypotheses;  // --hypotheses FILE
    std::string aligned;     // --aligned OUT.ply
};

void declare(cli::App& app, Settings& s) {
    auto& c = app.cli();
    c.add_option("source", s.source, "Source point set: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    c.add_option("target", s.target, "Target (reference) point set: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    cli::add_enum(c, "-m,--method", s.o.method, reg::parse_method, reg::method_name,
                  "auto (default: FPFH+RANSAC hypotheses, GMM+OT ones too when the fit is poor, verified, ICP-refined), icp, icp-plane, cpd, global, gmm-ot, gw, udpreg");
    c.add_option("--model", s.model, "A trained UDPReg model (orbit-train-register): --method udpreg registers with its learned posteriors; with auto its hypotheses join the verified pool")
        ->check(CLI::ExistingFile);
    c.add_option("--ground-truth", s.truth, "Ground-truth transforms (FILE or FILE:/dataset, [4,4] or [B,4,4]) for RRE, RTE, Chamfer and recall")
        ->check(cli::ExistingFileOrStream);
    cli::add_enum<bool>(c, "--ground-truth-direction", s.truth_ref_to_src, {{"ref-to-src", true}, {"src-to-ref", false}},
                                  "ref-to-src: the dataset maps target coordinates to source coordinates (orbit-transform); src-to-ref: it maps source onto target");
    c.add_option("--max-distance", s.o.distance, "Inlier distance for ICP, RANSAC and fitness (0: 2.5 x mean point spacing)")->check(cli::NonNegative);
    c.add_option("--voxel", s.o.voxel, "Voxel size for feature computation (0: automatic above 5000 points)")->check(cli::NonNegative);
    c.add_option("--normal-radius", s.o.normal_radius, "Normal estimation radius (0: 4 x spacing)")->check(cli::NonNegative);
    c.add_option("--feature-radius", s.o.feature_radius, "FPFH radius (0: 12 x spacing)")->check(cli::NonNegative);
    c.add_option("--max-iterations", s.o.max_iterations, "ICP / CPD iterations")->check(CLI::Range(1, 100000))->capture_default_str();
    c.add_option("--trim", s.o.trim, "ICP: share of the closest pairs kept each iteration, in (0,1]")->check(cli::in_range(1e-6, 1.0))->capture_default_str();
    c.add_flag("--no-anneal", s.no_anneal, "ICP: use --max-distance from the first iteration instead of shrinking a wide threshold");
    c.add_option("--outlier-weight", s.o.outlier_weight, "CPD: weight of the uniform outlier component, in [0,1)")->check(cli::in_range(0.0, 0.999))->capture_default_str();
    c.add_flag("--with-scale", s.o.with_scale, "CPD and gmm-ot: estimate a scale factor too (similarity transform)");
    c.add_option("--ransac-iterations", s.o.ransac_iterations, "global / auto: maximum RANSAC draws")->check(CLI::Range(1, 100000000))->capture_default_str();
    c.add_option("--components", s.o.components, "gmm-ot: mixture components per cloud")->check(CLI::Range(3, 1000))->capture_default_str();
    c.add_option("--candidates", s.o.hypotheses, "global / gmm-ot / auto: candidate transforms verified per method")->check(CLI::Range(1, 1000))->capture_default_str();
    c.add_option("--hypotheses", s.hypotheses, "Also write every scored candidate pose of each pair (HDF5: /transforms, /scores, /pair, ...)");
    c.add_option("--aligned", s.aligned, "Also write the moved sources (orange) and the references (blue) as one PLY, with a per-vertex pair index");
    c.add_option("--free-space-weight", s.o.free_space_weight, "global / gmm-ot / auto: how much a pose is penalised for moving points into the other cloud's hull away from its surface (0: not at all)")->check(cli::in_range(0.0, 1000.0))->capture_default_str();
    c.add_flag("--correspondences", s.o.keep_correspondences, "Also write the inlier pairs (source row, target row) under /correspondences");
    c.add_option("--recall-rre", s.recall_rre, "Recall threshold on RRE in degrees")->check(cli::Positive)->capture_default_str();
    c.add_option("--recall-rte", s.recall_rte, "Recall threshold on RTE")->check(cli::Positive)->capture_default_str();
    s.shard.declare(c, "Process pair slice K of N (K/N, 1-based), for job arrays; join the outputs with orbit-merge");
    app.add_examples(R"(
orbit-register src.h5 ref.h5 -o T.h5 --json
    register two crops of a shape with the default method
orbit-register src.h5 ref.h5 --method gmm-ot --ground-truth src.h5:/transform --json
    GMM+OT registration, scored against the transform orbit-transform stored
orbit-register pairs.h5:/src pairs.h5:/ref --method icp -j 2 -o T.h5
    a batch of pairs, two threads
orbit-register scan1.ply scan2.ply --method icp-plane --max-distance 0.02 -o T.h5
    refine a rough alignment
)");
    app.add_references(R"(
ICP: P. J. Besl, N. D. McKay. A method for registration of 3-D shapes. IEEE TPAMI 14(2), 1992
point-to-plane ICP: Y. Chen, G. Medioni. Object modelling by registration of multiple range images. Image and Vision Computing 10(3), 1992
trimmed ICP: D. Chetverikov et al. The Trimmed Iterative Closest Point algorithm. ICPR 2002
CPD: A. Myronenko, X. Song. Point Set Registration: Coherent Point Drift. IEEE TPAMI 32(12), 2010
FPFH: R. B. Rusu, N. Blodow, M. Beetz. Fast Point Feature Histograms (FPFH) for 3D registration. ICRA 2009
RANSAC: M. A. Fischler, R. C. Bolles. Random sample consensus. Communications of the ACM 24(6), 1981
SC2-PCR: Z. Chen et al. SC^2-PCR: A Second Order Spatial Compatibility for Efficient and Robust Point Cloud Registration. CVPR 2022
Drost PPF: B. Drost, M. Ulrich, N. Navab, S. Ilic. Model Globally, Match Locally: Efficient and Robust 3D Object Recognition. CVPR 2010
UDPReg (gmm-ot): G. Mei et al. Unsupervised Deep Probabilistic Approach for Partial Point Cloud Registration. CVPR 2023, arXiv:2303.13290
Kabsch / Umeyama: S. Umeyama. Least-squares estimation of transformation parameters between two point patterns. IEEE TPAMI 13(4), 1991
RPM-Net protocol (RRE, RTE, Chamfer): Z. J. Yew, G. H. Lee. RPM-Net: Robust Point Matching using Learned Features. CVPR 2020
)");
}

// The 3-d clouds of pairs [begin, end) of one side.
std::vector<Points> clouds(const io::PointSets& sets, const std::string& name, std::int64_t begin, std::int64_t end) {
    std::vector<Points> out;
    for (std::int64_t i = begin; i < end; ++i) {
        const Points& p = sets[static_cast<std::size_t>(i)].points;
        if (p.cols() != 3) throw Error(name + ": expected 3-d points [N,3], found " + std::to_string(p.cols()) + " columns");
        out.push_back(p);
    }
    return out;
}

void run(cli::App& app, Settings& s) {
    s.o.anneal = !s.no_anneal;
    if (s.o.method == reg::Method::udpreg && s.model.empty())
        throw UsageError("--method udpreg needs --model FILE (train one with orbit-train-register)");
    if (!s.model.empty() && s.o.method != reg::Method::udpreg && s.o.method != reg::Method::automatic)
        throw UsageError("--model applies to --method udpreg and auto");
    if (!s.model.empty()) s.o.model = udpreg::Model::load(s.model);
    s.o.keep_hypotheses = !s.hypotheses.empty();
    if (s.o.keep_hypotheses) io::check_output(s.hypotheses, true);
    if (!s.aligned.empty()) reg::check_aligned_path(s.aligned), io::check_output(s.aligned, true);
    if (s.o.keep_correspondences && s.shard.given())
        throw UsageError("--correspondences and --shard: the per-pair correspondence groups of slices cannot be merged; run without --shard");
    const io::PointSets src = io::read_point_sets(s.source), ref = io::read_point_sets(s.target);
    if (src.size() != ref.size())
        throw Error("expected as many source clouds as target clouds, found " + std::to_string(src.size()) + " in " +
                    s.source + " and " + std::to_string(ref.size()) + " in " + s.target);
    const auto total = static_cast<std::int64_t>(src.size());
    const auto [begin, end] = s.shard.items(total);
    const std::vector<Points> a = clouds(src, s.source, begin, end), b = clouds(ref, s.target, begin, end);
    const std::vector<Transform> truth = s.truth.empty() ? std::vector<Transform>{} : io::read_transforms(s.truth);
    if (!s.truth.empty() && static_cast<std::int64_t>(truth.size()) != total)
        throw Error(s.truth + ": expected " + std::to_string(total) + " ground-truth transform(s), found " + std::to_string(truth.size()));

    reg::Run r;
    r.method = s.o.method;
    r.batched = src.layout != io::PointSets::Layout::single || ref.layout != io::PointSets::Layout::single;
    r.first_pair = begin;
    r.results = reg::register_batch(a, b, s.o, app.common().seed, begin);
    for (std::size_t i = 0; i < r.results.size() && !truth.empty(); ++i) {
        const Transform& g = truth[static_cast<std::size_t>(begin) + i];
        const Transform src_to_ref = s.truth_ref_to_src ? geometry::invert(g) : g;
        r.errors.push_back(reg::evaluate(a[i], b[i], r.results[i].transform, src_to_ref));
    }
    if (const auto flagged = reg::count_flag(r, "low_fitness"))
        log::warn(std::to_string(flagged) + " of " + std::to_string(r.results.size()) + " pair(s) have fitness below 0.2 (flag low_fitness): little or no overlap found");

    if (!app.common().output.empty()) {
        io::Output out(app.common().output, "transform");
        out.add_history_lines(src.history);  // the source's history, from a file or a stream
        reg::write_run(out.file(), r, s.o.keep_correspondences);
        s.shard.record(out.file(), total);
        out.commit();
    }
    if (s.o.keep_hypotheses) {
        io::Output out(s.hypotheses, "hypotheses");
        out.add_history_lines(src.history);
        reg::write_hypotheses(out.file(), reg::collect_hypotheses(r, s.source, s.target));
        out.commit();
    }
    if (!s.aligned.empty()) reg::write_aligned_ply(s.aligned, a, b, r);
    app.summary() = reg::summarize(r, s.recall_rre, s.recall_rte);
    if (!app.common().json && !io::stdout_is_data() && (app.common().output.empty() || !truth.empty()))
        std::cout << reg::text_summary(r, s.recall_rre, s.recall_rte);
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("register", "rigid registration of point clouds: ICP, CPD, FPFH+RANSAC, GMM+OT", R"(
Estimates the rigid transform that maps each source cloud onto its target and writes it as /transform ([4,4], or [B,4,4] for a batch of
pairs) with per-pair fitness (share of source points within the inlier distance of the target after the transform), inlier RMSE, iterations
and seconds. Batches: [B,N,3] sources against [B,M,3] targets, processed in parallel over pairs with one random stream per pair, so results
are the same for any -j and any --shard split. With --ground-truth it adds the rotation error (RRE, degrees), translation error (RTE),
modified Chamfer distance and recall.

Ground-truth convention: orbit-transform stores in src.h5:/transform the transform mapping reference coordinates to source coordinates; the
registration is its inverse, and --ground-truth takes that dataset as written (--ground-truth-direction ref-to-src, the default). Use
src-to-ref for a transform that already maps source onto target.)");
    Settings s;
    declare(app, s);
    return app.run(argc, argv, [&] { run(app, s); });
}
