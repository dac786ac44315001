// orbit-canonicalize: canonical poses (PCA frames), all frames for frame
// averaging, MDS invariant coordinates, and the inverse map back.
#include <optional>

#include "orbit/canon/canonicalize_file.hpp"
#include "orbit/canon/learned.hpp"
#include "orbit/canon/mds.hpp"
#include "orbit/cli/app.hpp"
#include "orbit/cli/options.hpp"
#include "orbit/cli/references.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/output.hpp"

using namespace orbit;

namespace {

enum class Method { pca, mds };
enum class Frames { one, all };

struct Settings {
    std::string input, transforms_ref, dataset;
    Method method = Method::pca;
    Frames frames = Frames::one;
    std::optional<canon::Kind> as;
    bool inverse = false;
    canon::Options opt;
    canon::MdsOptions mds;
    cli::ShardOption shard;
    std::string model;  // --model: a learned canonicalizer
    std::string group_out() const { return method == Method::mds ? "E3" : canon::group_name(opt.group); }
};

void declare(cli::App& app, Settings& s) {
    auto& c = app.cli();
    c.add_option("input", s.input, "point sets: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    cli::add_enum(c, "--group", s.opt.group, canon::parse_group, canon::group_name, "SO3, O3, SE3, E3 or SO2 (rotations about --axis; the only group for 2-D data)");
    cli::add_enum<Method>(c, "--method", s.method, {{"pca", Method::pca}, {"mds", Method::mds}}, "pca (canonical pose) or mds (invariant coordinates, E3)");
    cli::add_enum<Frames>(c, "--frames", s.frames, {{"one", Frames::one}, {"all", Frames::all}}, "one (the canonical element) or all (every frame, for frame averaging)");
    c.add_flag("--scale", s.opt.scale, "also remove scale (Sim3): divide by the RMS distance to the centroid");
    cli::add_parsed<Eigen::Vector3d>(c, "--axis", s.opt.axis, canon::parse_axis, "rotation axis for SO2 on 3-D data: x, y, z or a,b,c")->default_str("z");
    c.add_option("--gap-tol", s.opt.gap_tol, "relative eigenvalue gap below which a cloud is flagged unstable")->check(cli::in_range(0.0, 1.0))->capture_default_str();
    c.add_option("--sign-tol", s.opt.sign_tol, "skewness below which the third moment cannot choose a sign")->check(cli::in_range(0.0, 100.0))->capture_default_str();
    cli::add_parsed<canon::Unstable>(c, "--on-unstable", s.opt.on_unstable, canon::parse_unstable, "for flagged clouds: keep (deterministic choice, flagged), identity (no rotation) or error")
        ->default_str("keep");
    c.add_option("--landmarks", s.mds.landmarks, "MDS landmarks (distances to these only; memory grows as N)")->check(CLI::Range(2, 100000))->capture_default_str();
    c.add_option("--model", s.model, "a learned canonicalizer from orbit-train-canonicalizer (the group comes from the model)")
        ->check(CLI::ExistingFile);
    c.add_option("--dim", s.mds.dim, "MDS output dimension")->check(CLI::Range(1, 3))->capture_default_str();
    s.shard.declare(c, "process shard K of N (a contiguous slice of the clouds; join the outputs with orbit-merge)");
    c.add_flag("--inverse", s.inverse, "map a dataset back through the inverse of each stored group element");
    c.add_option("--transforms", s.transforms_ref, "with --inverse: group elements FILE[:/dataset] (default: the input's /transform or /frames)");
    c.add_option("--dataset", s.dataset, "with --inverse: the dataset to map back (default /points)");
    cli::add_parsed<std::optional<canon::Kind>>(c, "--as", s.as, [](const std::string& t) { return std::optional(canon::parse_kind(t)); },
                                                "with --inverse: how the dataset moves: points, vectors or transform");
    app.require_output();
    app.add_examples(R"(
orbit-canonicalize clouds.h5 --group SO3 -o canon.h5
    canonical pose of every cloud
orbit-canonicalize clouds.h5 --group O3 --frames all -o frames.h5
    all 8 PCA frames per cloud for frame averaging: /frames [B,8,4,4], /points [B,8,N,3]
orbit-canonicalize test.h5 --model canon.h5 -o canonical.h5
    canonical poses from a learned canonicalizer (orbit-train-canonicalizer)
orbit-canonicalize canon.h5 --inverse -o back.h5
    map canonical clouds back
orbit-canonicalize canon.h5 --inverse --dataset /pred --as vectors -o pred.h5
    map a model's per-cloud vectors, computed in the canonical frame, back
orbit-canonicalize bunny.h5 --method mds --landmarks 128 -o mds.h5
    rotation-, reflection- and translation-invariant coordinates
orbit-canonicalize shapes.h5 --group SE3 --scale --shard 3/8 -o part3.h5
    one slice of a large batch, with scale removed
)");
    app.add_references(cli::references({"frame-averaging", "canonicalization", "canonicalization-prior", "vector-neurons", "tinvnn", "landmark-mds"}));
}

void run_inverse(cli::App& app, const Settings& s) {
    if (s.shard.given()) throw UsageError("--shard applies to canonicalization; run --inverse on each shard's output");
    const h5::DatasetRef ref = h5::parse_ref(s.input);
    if (!ref.dataset.empty()) throw UsageError("--inverse reads a whole file; name the dataset with --dataset");
    h5::File in = h5::File::open_read(ref.file);
    io::Output out(app.common().output, "pointset");
    out.inherit_history(in);
    const canon::InverseResult r = canon::write_inverse({ref.file, s.transforms_ref, s.dataset, s.as}, out.file(), in);
    out.commit();
    app.summary() = {{"mode", "inverse"}, {"dataset", r.dataset}, {"kind", canon::kind_name(r.kind)}, {"items", r.items}, {"transforms", r.transforms_from}};
}

void run(cli::App& app, Settings& s) {
    if (s.inverse) return run_inverse(app, s);
    if (!s.model.empty() && (s.method != Method::pca || s.frames != Frames::one))
        throw UsageError("--model gives one canonical element per cloud: it goes with --method pca --frames one");
    // A learned canonicalizer brings its group (a different --group is refused).
    const auto learned = s.model.empty() ? nullptr : cli::for_option("--group", [&] {
        return canon::make_canonicalizer(s.opt, s.model, app.cli().count("--group") > 0);
    });
    if (!s.transforms_ref.empty() || !s.dataset.empty() || s.as) throw UsageError("--transforms, --dataset and --as go with --inverse");
    if (s.method == Method::mds && (s.frames == Frames::all || s.opt.scale)) throw UsageError("--frames all and --scale go with --method pca");
    io::Output out(app.common().output, s.frames == Frames::all ? "frames" : "pointset");
    const canon::Request rq{s.opt, s.mds, s.method == Method::mds, s.frames == Frames::all, learned.get()};
    const canon::DenseWritten w = canon::canonicalize_file(s.input, rq, [&](std::int64_t n) { return s.shard.items(n); }, out);
    Timer timer;
    canon::write_method(out.file(), s.group_out(), learned ? "learned" : s.method == Method::mds ? "mds" : "pca",
                        s.frames == Frames::all ? "all" : "one", s.opt.scale);
    s.shard.record(out.file(), w.total);
    out.commit();
    app.summary() = canon::summarize_run(w, rq, s.group_out(), timer.seconds());
    if (const auto unstable = app.summary()["unstable"].get<std::int64_t>(); unstable > 0)
        log::warn(std::to_string(unstable) + " of " + std::to_string(w.diag.size()) + " clouds have an unstable canonical form (see /canon/flags)");
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("canonicalize", "canonical poses of point clouds, with the group element of each cloud", R"(
Maps every cloud to a canonical copy that does not change when the cloud is rotated (SO3), rotated or reflected (O3), also translated (SE3,
E3), or rotated about one axis (SO2), and writes the group element of each cloud as /transform [B,4,4] (original -> canonical). Frames come
from the covariance eigenvectors with signs fixed by third moments; eigenvalue gaps and sign margins are written per cloud under /canon and
unstable clouds are flagged. --frames all writes every PCA frame (4 for rotations, 8 with reflections) for frame averaging; --method mds
writes invariant coordinates from classical multidimensional scaling; --inverse maps points, vectors or transforms back to each cloud's
original frame.)",
                 cli::Uses::output | cli::Uses::threads);
    Settings s;
    declare(app, s);
    return app.run(argc, argv, [&] { run(app, s); });
}
