#include "orbit/canon/canonicalize_file.hpp"

#include "orbit/core/error.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::canon {

DenseWritten canonicalize_file(const std::string& input, const Request& rq,
                               const std::function<std::pair<std::int64_t, std::int64_t>(std::int64_t)>& slice,
                               io::Output& out) {
    const std::string src = input == "-" ? "<stdin>" : input;
    const h5::DatasetRef ref = h5::parse_ref(input);
    const bool hdf5 = ref.file == "-" || h5::looks_like_hdf5(ref.file);
    h5::File in = hdf5 ? h5::File::open_read(ref.file) : h5::File();
    Timer timer;
    if (hdf5 && !rq.mds_method && !rq.all_frames) {  // a dense batch is canonicalized in place
        if (auto w = canonicalize_dense(in, ref.dataset, src, rq.pca, slice, out.file(), rq.canonicalizer)) {
            out.inherit_history(in);
            return *w;
        }
    }
    io::PointSets sets = hdf5 ? io::read_point_sets(in, ref.dataset, src) : io::read_point_sets(input);
    DenseWritten w;
    w.read_s = timer.seconds();
    w.total = static_cast<std::int64_t>(sets.size());
    const auto [begin, end] = with_context(src, [&] { return slice(w.total); });
    if (begin > 0 || end < w.total) {
        sets.items = std::vector<io::PointSet>(sets.items.begin() + begin, sets.items.begin() + end);
        if (sets.layout == io::PointSets::Layout::single) sets.layout = io::PointSets::Layout::batch;
    }
    w.begin = begin;
    static_cast<Written&>(w) = canonicalize_sets(rq, sets, src, out.file());
    out.add_history_lines(sets.history);
    return w;
}

nlohmann::json summarize_run(const DenseWritten& w, const Request& rq, const std::string& group, double write_s) {
    nlohmann::json summary = summarize(w.diag, !rq.mds_method && !rq.all_frames);
    summary["mode"] = rq.mds_method ? "mds" : rq.all_frames ? "frames" : "canonical";
    summary["group"] = group;
    summary["first_cloud"] = w.begin;
    summary["read_s"] = w.read_s;
    summary["write_s"] = write_s;
    summary.update(w.extra);
    return summary;
}

}  // namespace orbit::canon
