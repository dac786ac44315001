// orbit-register: rigid registration of point clouds (one pair or a batch of pairs).
#include <iostream>

#include "orbit/cli/app.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/io/output.hpp"
#include "orbit/registration/run_files.hpp"
#include "orbit/udpreg/model.hpp"

using namespace orbit;
namespace reg = orbit::registration;

namespace {

struct Settings {
    reg::PairInputs in;
    reg::Options o;
    reg::OutputFiles files;
    double recall_rre = 5.0, recall_rte = 0.1;
    bool no_anneal = false;  // --no-anneal: o.anneal off
    cli::ShardOption shard;
    std::string model;  // --model: a trained UDPReg model
};

void declare(cli::App& app, Settings& s) {
    auto& c = app.cli();
    c.add_option("source", s.in.source, "Source point set: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    c.add_option("target", s.in.target, "Target (reference) point set: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    cli::add_enum(c, "-m,--method", s.o.method, reg::parse_method, reg::method_name,
                  "auto (default: FPFH+RANSAC hypotheses, GMM+OT ones too when the fit is poor, verified, ICP-refined), icp, icp-plane, cpd, global, gmm-ot, gw, udpreg");
    c.add_option("--model", s.model, "A trained UDPReg model (orbit-train-register): --method udpreg registers with its learned posteriors; with auto its hypotheses join the verified pool")
        ->check(CLI::ExistingFile);
    c.add_option("--ground-truth", s.in.truth, "Ground-truth transforms (FILE or FILE:/dataset, [4,4] or [B,4,4]) for RRE, RTE, Chamfer and recall")
        ->check(cli::ExistingFileOrStream);
    cli::add_enum<bool>(c, "--ground-truth-direction", s.in.truth_ref_to_src, {{"ref-to-src", true}, {"src-to-ref", false}},
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
    c.add_option("--hypotheses", s.files.hypotheses, "Also write every scored candidate pose of each pair (HDF5: /transforms, /scores, /pair, ...; with --ground-truth also the true pose's score per pair)");
    c.add_option("--aligned", s.files.aligned, "Also write the moved sources (orange) and the references (blue) as one PLY, with a per-vertex pair index");
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
orbit-register src.h5 ref.h5 --hypotheses H.h5 --aligned aligned.ply -o T.h5
    also every scored candidate pose (a distribution over poses) and a coloured PLY to look at
)");
    app.add_references(cli::references({"icp", "icp-plane", "trimmed-icp", "cpd", "fpfh", "ransac", "sc2-pcr", "ppf", "udpreg", "umeyama", "rpm-net"}));
}

void run(cli::App& app, Settings& s) {
    s.o.anneal = !s.no_anneal;
    if (s.o.method == reg::Method::udpreg && s.model.empty())
        throw UsageError("--method udpreg needs --model FILE (train one with orbit-train-register)");
    if (!s.model.empty() && s.o.method != reg::Method::udpreg && s.o.method != reg::Method::automatic)
        throw UsageError("--model applies to --method udpreg and auto");
    if (!s.model.empty()) s.o.model = udpreg::Model::load(s.model);
    if (s.o.keep_correspondences && s.shard.given())
        throw UsageError("--correspondences and --shard: the per-pair correspondence groups of slices cannot be merged; run without --shard");
    s.files.result = app.common().output;
    s.files.correspondences = s.o.keep_correspondences;
    if (s.shard.given()) s.files.shard = s.shard.shard();
    s.o.keep_hypotheses = !s.files.hypotheses.empty();
    reg::check_output_files(s.files);

    const reg::Pairs pairs = reg::read_pairs(s.in, [&](std::int64_t total) { return s.shard.items(total); });
    const reg::Run r = reg::register_pairs(pairs, s.o, app.common().seed);
    reg::write_output_files(s.files, r, pairs, s.in);
    app.summary() = reg::summarize(r, s.recall_rre, s.recall_rte);
    if (!app.common().json && !io::stdout_is_data() && (app.common().output.empty() || !pairs.truth.empty()))
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
