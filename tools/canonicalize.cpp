// orbit-canonicalize: canonical poses (PCA frames), all frames for frame
// averaging, MDS invariant coordinates, and the inverse map back.
#include <iostream>
#include <optional>

#include "orbit/canon/files.hpp"
#include "orbit/canon/learned.hpp"
#include "orbit/canon/mds.hpp"
#include "orbit/cli/app.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

using namespace orbit;

namespace {

// The clouds [begin, end) of `total` that --shard selects (all of them without it).
struct Slice {
    std::int64_t begin = 0, end = 0, total = 0;
    bool partial() const { return begin > 0 || end < total; }
};

Slice shard_slice(const std::optional<io::Shard>& shard, std::int64_t total, const std::string& src) {
    const auto [begin, end] = with_context(src, [&] { return io::shard_items(shard.value_or(io::Shard{}), total); });
    return {begin, end, total};
}

// Root attributes: how the clouds were canonicalized and, with --shard, which
// slice of how many clouds the file holds (what orbit-merge reads).
void describe(h5::File& f, const std::string& group, const std::string& method, const std::string& frames,
              bool scale, const std::optional<io::Shard>& shard, const Slice& slice) {
    f.set_attr("/", "canon_group", group);
    f.set_attr("/", "canon_method", method);
    f.set_attr("/", "canon_frames", frames);
    f.set_attr("/", "canon_scale", static_cast<std::int64_t>(scale ? 1 : 0));
    if (shard) io::write_shard_info(f, *shard, slice.total);
}

}  // namespace

int main(int argc, char** argv) {
    cli::App app("canonicalize", "canonical poses of point clouds, with the group element of each cloud",
                 "Maps every cloud to a canonical copy that does not change when the cloud is rotated (SO3), "
                 "rotated or reflected (O3), also translated (SE3, E3), or rotated about one axis (SO2), and "
                 "writes the group element of each cloud as /transform [B,4,4] (original -> canonical). "
                 "Frames come from the covariance eigenvectors with signs fixed by third moments; eigenvalue "
                 "gaps and sign margins are written per cloud under /canon and unstable clouds are flagged. "
                 "--frames all writes every PCA frame (4 for rotations, 8 with reflections) for frame "
                 "averaging; --method mds writes invariant coordinates from classical multidimensional "
                 "scaling; --inverse maps points, vectors or transforms back to each cloud's original frame.");
    std::string input, group = "SO3", method = "pca", frames = "one", axis = "z", on_unstable = "keep", shard;
    std::string transforms_ref, dataset, as, model;
    bool scale = false, inverse = false;
    double gap_tol = 1e-3, sign_tol = 1e-3;
    int landmarks = 256, dim = 3;
    auto& c = app.cli();
    c.add_option("input", input, "point sets: FILE, FILE:/dataset or '-'")->required()->check(cli::ExistingFileOrStream);
    c.add_option("--group", group, "SO3, O3, SE3, E3 or SO2 (rotations about --axis; the only group for 2-D data)")
        ->capture_default_str();
    c.add_option("--method", method, "pca (canonical pose) or mds (invariant coordinates, E3)")
        ->check(CLI::IsMember({"pca", "mds"}))->capture_default_str();
    c.add_option("--frames", frames, "one (the canonical element) or all (every frame, for frame averaging)")
        ->check(CLI::IsMember({"one", "all"}))->capture_default_str();
    c.add_option("--model", model, "a learned canonicalizer from orbit-train-canonicalizer (the group comes from the model)")
        ->check(CLI::ExistingFile);
    c.add_flag("--scale", scale, "also remove scale (Sim3): divide by the RMS distance to the centroid");
    c.add_option("--axis", axis, "rotation axis for SO2 on 3-D data: x, y, z or a,b,c")->capture_default_str();
    c.add_option("--gap-tol", gap_tol, "relative eigenvalue gap below which a cloud is flagged unstable")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    c.add_option("--sign-tol", sign_tol, "skewness below which the third moment cannot choose a sign")
        ->check(CLI::Range(0.0, 100.0))->capture_default_str();
    c.add_option("--on-unstable", on_unstable,
                 "for flagged clouds: keep (deterministic choice, flagged), identity (no rotation) or error")
        ->check(CLI::IsMember({"keep", "identity", "error"}))->capture_default_str();
    c.add_option("--landmarks", landmarks, "MDS landmarks (distances to these only; memory grows as N)")
        ->check(CLI::Range(2, 100000))->capture_default_str();
    c.add_option("--dim", dim, "MDS output dimension")->check(CLI::Range(1, 3))->capture_default_str();
    c.add_option("--shard", shard,
                 "process shard K of N (a contiguous slice of the clouds; join the outputs with orbit-merge)");
    c.add_flag("--inverse", inverse, "map a dataset back through the inverse of each stored group element");
    c.add_option("--transforms", transforms_ref, "with --inverse: group elements FILE[:/dataset] (default: the input's /transform or /frames)");
    c.add_option("--dataset", dataset, "with --inverse: the dataset to map back (default /points)");
    c.add_option("--as", as, "with --inverse: how the dataset moves: points, vectors or transform")
        ->check(CLI::IsMember({"points", "vectors", "transform"}));
    app.require_output();
    app.add_example("orbit-canonicalize clouds.h5 --group SO3 -o canon.h5", "canonical pose of every cloud");
    app.add_example("orbit-canonicalize clouds.h5 --group O3 --frames all -o frames.h5",
                    "all 8 PCA frames per cloud for frame averaging: /frames [B,8,4,4], /points [B,8,N,3]");
    app.add_example("orbit-canonicalize test.h5 --model canon.h5 -o canonical.h5",
                    "canonical poses from a learned canonicalizer (orbit-train-canonicalizer)");
    app.add_example("orbit-canonicalize canon.h5 --inverse -o back.h5", "map canonical clouds back");
    app.add_example("orbit-canonicalize canon.h5 --inverse --dataset /pred --as vectors -o pred.h5",
                    "map a model's per-cloud vectors, computed in the canonical frame, back");
    app.add_example("orbit-canonicalize bunny.h5 --method mds --landmarks 128 -o mds.h5",
                    "rotation-, reflection- and translation-invariant coordinates");
    app.add_example("orbit-canonicalize shapes.h5 --group SE3 --scale --shard 3/8 -o part3.h5",
                    "one slice of a large batch, with scale removed");

    return app.run(argc, argv, [&] {
        const std::string src = input == "-" ? "<stdin>" : input;
        auto& summary = app.summary();
        if (inverse) {
            if (!shard.empty()) throw UsageError("--shard applies to canonicalization; run --inverse on each shard's output");
            h5::DatasetRef ref = h5::parse_ref(input);
            if (!ref.dataset.empty()) throw UsageError("--inverse reads a whole file; name the dataset with --dataset");
            h5::File in = h5::File::open_read(ref.file);
            io::Output out(app.common().output, "pointset");
            out.inherit_history(in);
            canon::InverseRequest req{ref.file, transforms_ref, dataset,
                                      as.empty() ? std::nullopt : std::optional<canon::Kind>(canon::parse_kind(as))};
            canon::InverseResult r = canon::write_inverse(req, out.file(), in);
            out.commit();
            summary = {{"mode", "inverse"}, {"dataset", r.dataset}, {"kind", canon::kind_name(r.kind)},
                       {"items", r.items}, {"transforms", r.transforms_from}};
            return;
        }
        if (!transforms_ref.empty() || !dataset.empty() || !as.empty())
            throw UsageError("--transforms, --dataset and --as go with --inverse");

        canon::Options opt;
        opt.group = canon::parse_group(group);
        opt.scale = scale;
        opt.axis = canon::parse_axis(axis);
        opt.gap_tol = gap_tol;
        opt.sign_tol = sign_tol;
        opt.on_unstable = canon::parse_unstable(on_unstable);

        if (!model.empty() && (method != "pca" || frames != "one"))
            throw UsageError("--model gives one canonical element per cloud: it goes with --method pca --frames one");
        const auto canonicalizer = canon::make_canonicalizer(opt, model, c.count("--group") > 0);
        const std::string group_out = method == "mds" ? "E3" : canon::group_name(opt.group);
        const std::optional<io::Shard> sh = shard.empty() ? std::nullopt : std::optional(io::parse_shard(shard));

        Timer timer;
        const h5::DatasetRef ref = h5::parse_ref(input);
        const bool hdf5 = ref.file == "-" || h5::looks_like_hdf5(ref.file);
        h5::File in;
        if (hdf5) in = h5::File::open_read(ref.file);

        // Fast path: a dense batch is canonicalized in place in the buffer read from HDF5.
        if (hdf5 && method == "pca" && frames == "one") {
            if (auto dense = canon::read_dense_batch(in, ref.dataset, src)) {
                h5::Array<double>& a = *dense;
                const double read_s = timer.seconds();
                const Slice sl = shard_slice(sh, static_cast<std::int64_t>(a.shape[0]), src);
                if (sl.partial()) {
                    const auto per = static_cast<std::int64_t>(a.shape[1] * a.shape[2]);
                    a.data = std::vector<double>(a.data.begin() + sl.begin * per, a.data.begin() + sl.end * per);
                    a.shape[0] = static_cast<std::size_t>(sl.end - sl.begin);
                }
                timer.reset();
                const canon::InPlaceResult res = with_context(src, [&] {
                    return canon::canonicalize_in_place(*canonicalizer, a.data.data(), a.shape[0],
                                                        a.shape[1], a.shape[2]);
                });
                const double canon_s = timer.seconds();
                timer.reset();
                io::Output out(app.common().output, "pointset");
                out.inherit_history(in);
                h5::File& f = out.file();
                f.write("/points", a);
                io::write_transforms(f, "/transform", res.transforms, true);
                canon::write_diagnostics(f, res.diag);
                describe(f, group_out, model.empty() ? method : "learned", frames, scale, sh, sl);
                out.commit();
                summary = canon::summarize(res.diag, true);
                summary["mode"] = "canonical";
                summary["group"] = group_out;
                summary["first_cloud"] = sl.begin;
                summary["read_s"] = read_s;
                summary["canon_s"] = canon_s;
                summary["write_s"] = timer.seconds();
                if (res.unstable > 0)
                    log::warn(std::to_string(res.unstable) + " of " + std::to_string(res.diag.size()) +
                              " clouds have an unstable canonical form (see /canon/flags)");
                return;
            }
        }

        io::PointSets sets = hdf5 ? io::read_point_sets(in, ref.dataset, src) : io::read_point_sets(input);
        const double read_s = timer.seconds();
        const Slice sl = shard_slice(sh, static_cast<std::int64_t>(sets.size()), src);
        if (sl.partial()) {
            sets.items = std::vector<io::PointSet>(sets.items.begin() + sl.begin, sets.items.begin() + sl.end);
            if (sets.layout == io::PointSets::Layout::single) sets.layout = io::PointSets::Layout::batch;
        }
        std::vector<const Points*> clouds;
        for (auto& p : sets.items) clouds.push_back(&p.points);
        const bool batched = sets.layout != io::PointSets::Layout::single;

        timer.reset();
        std::vector<canon::Diagnostics> diag;
        std::string kind = "pointset";
        std::unique_ptr<io::Output> out;
        nlohmann::json extra;
        if (method == "mds") {
            if (frames == "all" || scale) throw UsageError("--frames all and --scale go with --method pca");
            canon::MdsOptions mo;
            mo.dim = dim;
            mo.landmarks = landmarks;
            mo.gap_tol = gap_tol;
            mo.sign_tol = sign_tol;
            std::vector<canon::MdsResult> res = with_context(src, [&] { return canon::mds_batch(mo, clouds); });
            double max_res = 0;
            for (std::size_t i = 0; i < res.size(); ++i) {
                io::PointSet p;
                p.points = std::move(res[i].coords);
                p.weights = sets[i].weights;
                p.features = sets[i].features;
                sets.items[i] = std::move(p);
                diag.push_back(res[i].diag);
                max_res = std::max(max_res, res[i].residual);
            }
            const double canon_s = timer.seconds();
            timer.reset();
            out = std::make_unique<io::Output>(app.common().output, kind);
            io::write_point_sets(out->file(), sets);
            h5::Array<double> r{{res.size()}, {}};
            for (auto& x : res) r.data.push_back(x.residual);
            out->file().write("/canon/residual", r);
            extra = {{"landmarks", landmarks}, {"dim", dim}, {"max_residual", max_res}, {"canon_s", canon_s}};
        } else if (frames == "all") {
            canon::BatchFrames bf = canon::frames_batch(opt, clouds, true);
            const double canon_s = timer.seconds();
            timer.reset();
            for (auto* p : clouds)
                if (p->rows() != clouds[0]->rows())
                    throw Error(src + ": --frames all needs clouds of equal size (found " +
                                std::to_string(clouds[0]->rows()) + " and " + std::to_string(p->rows()) + " points)");
            const std::size_t b = clouds.size(), f = static_cast<std::size_t>(canon::frame_count(opt.group));
            const auto n = static_cast<std::size_t>(clouds[0]->rows()), d = static_cast<std::size_t>(clouds[0]->cols());
            h5::Array<double> pts{{b, f, n, d}, {}}, fr{{b, f, 4, 4}, {}};
            pts.data.reserve(b * f * n * d);
            for (std::size_t i = 0; i < b; ++i)
                for (std::size_t k = 0; k < f; ++k) {
                    const Points& q = bf.copies[i][k];
                    pts.data.insert(pts.data.end(), q.data(), q.data() + q.size());
                    for (int r = 0; r < 4; ++r)
                        for (int cc = 0; cc < 4; ++cc) fr.data.push_back(bf.frames[i][k](r, cc));
                }
            diag = bf.diag;
            kind = "frames";
            out = std::make_unique<io::Output>(app.common().output, kind);
            out->file().write("/points", pts);
            out->file().write("/frames", fr);
            extra = {{"frames", f}, {"canon_s", canon_s}};
        } else {
            canon::BatchCanonical bc = with_context(src, [&] { return canon::canonicalize_batch(*canonicalizer, clouds); });
            const double canon_s = timer.seconds();
            timer.reset();
            for (std::size_t i = 0; i < clouds.size(); ++i) {
                auto& p = sets.items[i];
                p.points = std::move(bc.clouds[i]);
                if (p.normals.size() > 0) {
                    p.normals = canon::transform_vectors(bc.transforms[i], p.normals);
                    p.normals.rowwise().normalize();
                }
            }
            diag = bc.diag;
            out = std::make_unique<io::Output>(app.common().output, kind);
            io::write_point_sets(out->file(), sets);
            io::write_transforms(out->file(), "/transform", bc.transforms, batched);
            extra = {{"canon_s", canon_s}};
        }
        h5::File& f = out->file();
        canon::write_diagnostics(f, diag);
        describe(f, group_out, model.empty() ? method : "learned", frames, scale, sh, sl);
        out->add_history_lines(sets.history);
        out->commit();
        const double write_s = timer.seconds();

        summary = canon::summarize(diag, method == "pca" && frames == "one");
        summary["mode"] = method == "mds" ? "mds" : frames == "all" ? "frames" : "canonical";
        summary["group"] = group_out;
        summary["first_cloud"] = sl.begin;
        summary["read_s"] = read_s;
        summary["write_s"] = write_s;
        summary.update(extra);
        if (summary["unstable"].get<std::int64_t>() > 0)
            log::warn(std::to_string(summary["unstable"].get<std::int64_t>()) + " of " + std::to_string(diag.size()) +
                      " clouds have an unstable canonical form (see /canon/flags)");
    });
}
