#include "orbit/registration/run_files.hpp"

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/output.hpp"
#include "orbit/registration/aligned_file.hpp"
#include "orbit/registration/hypotheses_file.hpp"

namespace orbit::registration {
namespace {

// The 3-d clouds of items [begin, end) of one side.
std::vector<Points> clouds(const io::PointSets& sets, const std::string& name, std::int64_t begin, std::int64_t end) {
    std::vector<Points> out;
    for (std::int64_t i = begin; i < end; ++i) {
        const Points& p = sets[static_cast<std::size_t>(i)].points;
        if (p.cols() != 3) throw Error(name + ": expected 3-d points [N,3], found " + std::to_string(p.cols()) + " columns");
        out.push_back(p);
    }
    return out;
}

}  // namespace

Pairs read_pairs(const PairInputs& in, const Slice& slice) {
    const io::PointSets src = io::read_point_sets(in.source), ref = io::read_point_sets(in.target);
    if (src.size() != ref.size())
        throw Error("expected as many source clouds as target clouds, found " + std::to_string(src.size()) + " in " +
                    in.source + " and " + std::to_string(ref.size()) + " in " + in.target);
    Pairs p;
    p.total = static_cast<std::int64_t>(src.size());
    const auto [begin, end] = slice(p.total);
    p.begin = begin;
    p.sources = clouds(src, in.source, begin, end);
    p.targets = clouds(ref, in.target, begin, end);
    p.batched = src.layout != io::PointSets::Layout::single || ref.layout != io::PointSets::Layout::single;
    p.history = src.history;
    if (in.truth.empty()) return p;
    const std::vector<Transform> truth = io::read_transforms(in.truth);
    if (static_cast<std::int64_t>(truth.size()) != p.total)
        throw Error(in.truth + ": expected " + std::to_string(p.total) + " ground-truth transform(s), found " + std::to_string(truth.size()));
    for (std::int64_t i = begin; i < end; ++i) {
        const Transform& g = truth[static_cast<std::size_t>(i)];
        p.truth.push_back(in.truth_ref_to_src ? geometry::invert(g) : g);
    }
    return p;
}

Run register_pairs(const Pairs& pairs, const Options& options, std::uint64_t seed) {
    Run r;
    r.method = options.method;
    r.batched = pairs.batched;
    r.first_pair = pairs.begin;
    r.results = register_batch(pairs.sources, pairs.targets, options, seed, pairs.begin, pairs.truth);
    for (std::size_t i = 0; i < r.results.size() && !pairs.truth.empty(); ++i)
        r.errors.push_back(evaluate(pairs.sources[i], pairs.targets[i], r.results[i].transform, pairs.truth[i]));
    if (const auto flagged = count_flag(r, "low_fitness"))
        log::warn(std::to_string(flagged) + " of " + std::to_string(r.results.size()) +
                  " pair(s) have fitness below 0.2 (flag low_fitness): little or no overlap found");
    return r;
}

void check_output_files(const OutputFiles& files) {
    if (files.hypotheses == "-" && files.result == "-")
        throw UsageError("-o - and --hypotheses -: only one output can go to stdout");
    if (!files.hypotheses.empty()) io::check_output(files.hypotheses, true);
    if (!files.aligned.empty()) {
        check_aligned_path(files.aligned);
        io::check_output(files.aligned, true);
    }
}

void write_output_files(const OutputFiles& files, const Run& run, const Pairs& pairs, const PairInputs& in) {
    if (!files.result.empty()) {
        io::Output out(files.result, "transform");
        out.add_history_lines(pairs.history);  // the source's history, from a file or a stream
        write_run(out.file(), run, files.correspondences);
        if (files.shard) io::write_shard_info(out.file(), *files.shard, pairs.total);
        out.commit();
    }
    if (!files.hypotheses.empty()) {
        io::Output out(files.hypotheses, "hypotheses");
        out.add_history_lines(pairs.history);
        write_hypotheses(out.file(), collect_hypotheses(run, in.source, in.target));
        out.commit();
    }
    if (!files.aligned.empty()) write_aligned_ply(files.aligned, pairs.sources, pairs.targets, run);
}

}  // namespace orbit::registration
