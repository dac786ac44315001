#include "orbit/canon/files.hpp"

#include <Eigen/LU>
#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::canon {

void write_diagnostics(h5::File& file, const std::vector<Diagnostics>& diag, const std::string& group) {
    const std::size_t b = diag.size();
    h5::Array<double> ev{{b, 3}, {}}, gaps{{b, 2}, {}}, signs{{b, 3}, {}}, scale{{b}, {}};
    h5::Array<std::int32_t> flags{{b}, {}};
    for (auto& d : diag) {
        for (int k = 0; k < 3; ++k) ev.data.push_back(d.eigenvalues[k]);
        for (int k = 0; k < 2; ++k) gaps.data.push_back(d.gaps[k]);
        for (int k = 0; k < 3; ++k) signs.data.push_back(d.sign_margins[k]);
        scale.data.push_back(d.scale);
        flags.data.push_back(d.flags);
    }
    file.write(group + "/eigenvalues", ev);
    file.write(group + "/gaps", gaps);
    file.write(group + "/sign_margins", signs);
    file.write(group + "/scale", scale);
    file.write(group + "/flags", flags);
    file.set_attr(group, "flags_meaning",
                  "1 nearly equal eigenvalues, 2 sign undetermined, 4 sign from extreme points, 8 points coincide");
}

void write_method(h5::File& f, const std::string& group, const std::string& method, const std::string& frames,
                  bool scale) {
    f.set_attr("/", "canon_group", group);
    f.set_attr("/", "canon_method", method);
    f.set_attr("/", "canon_frames", frames);
    f.set_attr("/", "canon_scale", static_cast<std::int64_t>(scale ? 1 : 0));
}

void write_frames(h5::File& file, const BatchFrames& bf) {
    const std::size_t b = bf.copies.size(), f = b ? bf.copies[0].size() : 0;
    if (b == 0 || f == 0 || bf.frames.size() != b) throw Error("frames: nothing to write");
    const auto n = static_cast<std::size_t>(bf.copies[0][0].rows()), d = static_cast<std::size_t>(bf.copies[0][0].cols());
    h5::Array<double> pts{{b, f, n, d}, {}}, fr{{b, f, 4, 4}, {}};
    pts.data.reserve(b * f * n * d);
    for (std::size_t i = 0; i < b; ++i)
        for (std::size_t k = 0; k < f; ++k) {
            const Points& q = bf.copies[i][k];
            if (static_cast<std::size_t>(q.rows()) != n)
                throw Error("frames of all clouds in one array need clouds of equal size (found " + std::to_string(n) +
                            " and " + std::to_string(q.rows()) + " points)");
            pts.data.insert(pts.data.end(), q.data(), q.data() + q.size());
            for (int r = 0; r < 4; ++r)
                for (int c = 0; c < 4; ++c) fr.data.push_back(bf.frames[i][k](r, c));
        }
    file.write("/points", pts);
    file.write("/frames", fr);
}

BatchFrames read_frames(const h5::File& file) {
    const h5::Array<double> pts = file.read<double>("/points", 4), fr = file.read<double>("/frames", 4);
    const std::size_t b = pts.shape[0], f = pts.shape[1], n = pts.shape[2], d = pts.shape[3];
    if (fr.shape != std::vector<std::size_t>{b, f, 4, 4})
        throw Error(file.name() + ": /frames " + shape_string(fr.shape) + " does not match /points " + shape_string(pts.shape));
    BatchFrames bf;
    bf.frames.assign(b, std::vector<Transform>(f));
    bf.copies.assign(b, std::vector<Points>(f));
    for (std::size_t i = 0; i < b; ++i)
        for (std::size_t k = 0; k < f; ++k) {
            Points q(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
            std::copy_n(pts.data.begin() + static_cast<long>(((i * f) + k) * n * d), n * d, q.data());
            bf.copies[i][k] = std::move(q);
            for (int r = 0; r < 4; ++r)
                for (int c = 0; c < 4; ++c) bf.frames[i][k](r, c) = fr.data[((i * f) + k) * 16 + static_cast<std::size_t>(r * 4 + c)];
        }
    return bf;
}

void write_mds_residuals(h5::File& file, const std::vector<double>& residuals) {
    file.write("/canon/residual", h5::Array<double>{{residuals.size()}, residuals});
}

Written canonicalize_sets(const Request& rq, io::PointSets& sets, const std::string& src, h5::File& out) {
    Timer timer;
    std::vector<const Points*> clouds;
    for (auto& p : sets.items) clouds.push_back(&p.points);
    Written w;
    if (rq.mds_method) {
        std::vector<MdsResult> res = with_context(src, [&] { return mds_batch(rq.mds, clouds); });
        std::vector<double> residuals;
        for (std::size_t i = 0; i < res.size(); ++i) {
            sets.items[i] = io::PointSet{std::move(res[i].coords), {}, sets[i].weights, sets[i].features, sets[i].labels};
            w.diag.push_back(res[i].diag);
            residuals.push_back(res[i].residual);
        }
        w.extra = {{"landmarks", rq.mds.landmarks}, {"dim", rq.mds.dim},
                   {"max_residual", std::max(0.0, *std::max_element(residuals.begin(), residuals.end()))},
                   {"canon_s", timer.seconds()}};
        io::write_point_sets(out, sets);
        write_mds_residuals(out, residuals);
    } else if (rq.all_frames) {
        const BatchFrames bf = frames_batch(rq.pca, clouds, true);
        w.extra = {{"frames", frame_count(rq.pca.group)}, {"canon_s", timer.seconds()}};
        with_context(src, [&] { write_frames(out, bf); });
        w.diag = bf.diag;
    } else {
        const PcaCanonicalizer pca(rq.pca);
        const Canonicalizer& canonicalizer = rq.canonicalizer ? *rq.canonicalizer : pca;
        BatchCanonical bc = with_context(src, [&] { return canonicalize_batch(canonicalizer, clouds); });
        w.extra = {{"canon_s", timer.seconds()}};
        for (std::size_t i = 0; i < clouds.size(); ++i) {
            auto& p = sets.items[i];
            p.points = std::move(bc.clouds[i]);
            if (p.normals.size() > 0) {
                p.normals = transform_vectors(bc.transforms[i], p.normals);
                p.normals.rowwise().normalize();
            }
        }
        io::write_point_sets(out, sets);
        io::write_transforms(out, "/transform", bc.transforms, sets.layout != io::PointSets::Layout::single);
        w.diag = bc.diag;
    }
    write_diagnostics(out, w.diag);
    return w;
}

std::optional<DenseWritten> canonicalize_dense(
    const h5::File& in, const std::string& dataset, const std::string& src, const Options& options,
    const std::function<std::pair<std::int64_t, std::int64_t>(std::int64_t)>& slice, h5::File& out,
    const Canonicalizer* canonicalizer) {
    Timer timer;
    std::optional<h5::Array<double>> dense = read_dense_batch(in, dataset, src);
    if (!dense) return std::nullopt;
    h5::Array<double>& a = *dense;
    DenseWritten w;
    w.read_s = timer.seconds();
    w.total = static_cast<std::int64_t>(a.shape[0]);
    const auto [begin, end] = with_context(src, [&] { return slice(w.total); });
    w.begin = begin;
    if (begin > 0 || end < w.total) {
        const auto per = static_cast<std::int64_t>(a.shape[1] * a.shape[2]);
        a.data = std::vector<double>(a.data.begin() + begin * per, a.data.begin() + end * per);
        a.shape[0] = static_cast<std::size_t>(end - begin);
    }
    timer.reset();
    const InPlaceResult res = with_context(src, [&] {
        const PcaCanonicalizer pca(options);
        return canonicalize_in_place(canonicalizer ? *canonicalizer : static_cast<const Canonicalizer&>(pca), a.data.data(),
                                     a.shape[0], a.shape[1], a.shape[2]);
    });
    w.extra = {{"canon_s", timer.seconds()}};
    out.write("/points", a);
    io::write_transforms(out, "/transform", res.transforms, true);
    write_diagnostics(out, res.diag);
    w.diag = res.diag;
    w.unstable = res.unstable;
    return w;
}

nlohmann::json summarize(const std::vector<Diagnostics>& diag, bool signs_used) {
    nlohmann::json j;
    std::int64_t unstable = 0, gap = 0, sign = 0, fallback = 0, coll = 0;
    double min_gap = INFINITY, min_margin = INFINITY;
    std::vector<std::int64_t> first_unstable;
    for (std::size_t i = 0; i < diag.size(); ++i) {
        const auto& d = diag[i];
        if (d.unstable()) {
            ++unstable;
            if (first_unstable.size() < 10) first_unstable.push_back(static_cast<std::int64_t>(i));
        }
        gap += (d.flags & flag_eigen_gap) ? 1 : 0;
        sign += (d.flags & flag_sign) ? 1 : 0;
        fallback += (d.flags & flag_sign_fallback) ? 1 : 0;
        coll += (d.flags & flag_collapsed) ? 1 : 0;
        min_gap = std::min(min_gap, std::min(d.gaps[0], d.gaps[1]));
        for (int k = 0; k < 3; ++k)
            if (d.sign_margins[k] > 0) min_margin = std::min(min_margin, d.sign_margins[k]);
    }
    j["clouds"] = diag.size();
    j["unstable"] = unstable;
    j["unstable_first"] = first_unstable;
    j["flag_counts"] = {{"eigen_gap", gap}, {"sign_undetermined", sign}, {"sign_fallback", fallback},
                        {"collapsed", coll}};
    if (std::isfinite(min_gap)) j["min_eigen_gap"] = min_gap;
    if (signs_used && std::isfinite(min_margin)) j["min_sign_margin"] = min_margin;
    return j;
}

std::optional<h5::Array<double>> read_dense_batch(const h5::File& file, const std::string& dataset,
                                                  const std::string& source) {
    const std::string ds = dataset.empty() ? "/points" : dataset;
    if (!file.is_dataset(ds)) return std::nullopt;  // also a selection such as /data[3]: the point-set reader reads it
    if (dataset.empty())
        for (const char* c : {"/normals", "/weights", "/features", "/offsets"})
            if (file.exists(c)) return std::nullopt;
    // Labels (and a named dataset's normals) ride along in the point-set reader.
    const std::string group = ds.substr(0, ds.rfind('/'));
    for (const char* c : {"/labels", "/label", "/normal", "/normals"})
        if (file.exists(group + c)) return std::nullopt;
    if (file.info(ds).shape.size() != 3) return std::nullopt;
    h5::Array<double> a = file.read<double>(ds, 3);
    const std::string where = source + ":" + ds;
    if (a.size() == 0) throw Error(where + ": point set is empty, shape " + shape_string(a.shape));
    const std::size_t per = a.shape[1] * a.shape[2];
    for (std::size_t i = 0; i < a.data.size(); ++i)
        if (!std::isfinite(a.data[i]))
            throw Error(where + " (cloud " + std::to_string(i / per) + "): value at row " +
                        std::to_string(i % per / a.shape[2]) + ", column " + std::to_string(i % a.shape[2]) + " is " +
                        (std::isnan(a.data[i]) ? "NaN" : "infinite"));
    return a;
}

InverseResult write_inverse(const InverseRequest& req, h5::File& out, const h5::File& in) {
    InverseResult res;
    const std::string src = req.input == "-" ? "<stdin>" : req.input;
    // The stored group elements.
    std::vector<Transform> t;
    std::vector<std::size_t> lead;
    {
        h5::File tf_holder;
        const h5::File* tf = &in;
        std::string ds, tsrc = src;
        if (!req.transforms.empty()) {
            h5::DatasetRef ref = h5::parse_ref(req.transforms);
            tf_holder = h5::File::open_read(ref.file);
            tf = &tf_holder;
            ds = ref.dataset.empty() ? "/transform" : ref.dataset;
            tsrc = ref.file;
        } else {
            ds = in.exists("/transform") ? "/transform" : in.exists("/frames") ? "/frames" : "";
            if (ds.empty())
                throw Error(src + ": no /transform or /frames dataset to invert (give the group elements as FILE:/DATASET; "
                                  "MDS outputs carry no group element)");
        }
        if (!tf->exists(ds)) throw Error(tsrc + ": missing dataset '" + ds + "'");
        h5::Array<double> a = tf->read<double>(ds);
        if (a.rank() < 2 || a.shape[a.rank() - 1] != 4 || a.shape[a.rank() - 2] != 4 || a.rank() > 4)
            throw Error(tsrc + ":" + ds + ": expected transforms of shape [4,4], [B,4,4] or [B,F,4,4], found " +
                        shape_string(a.shape));
        lead.assign(a.shape.begin(), a.shape.end() - 2);
        const std::size_t n = a.size() / 16;
        t.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            Eigen::Map<const Eigen::Matrix<double, 4, 4, Eigen::RowMajor>> m(a.data.data() + 16 * i);
            Transform ti = m;
            const double det = ti.topLeftCorner<3, 3>().determinant();
            if (!std::isfinite(det) || std::abs(det) < 1e-300 || !ti.allFinite())
                throw Error(tsrc + ":" + ds + ": transform " + std::to_string(i) + " is not invertible");
            t[i] = ti.inverse();
        }
        res.transforms_from = tsrc + ":" + ds;
    }

    res.dataset = req.dataset.empty() ? "/points" : req.dataset;
    if (!in.exists(res.dataset)) throw Error(src + ": missing dataset '" + res.dataset + "'");
    const bool is_transform_name = res.dataset.size() >= 10 && res.dataset.substr(res.dataset.size() - 10) == "/transform";
    res.kind = req.kind ? *req.kind : (is_transform_name ? Kind::transform : Kind::points);
    const h5::DatasetInfo info = in.info(res.dataset);

    // A point set (single, batch or ragged) with its companions goes through the point-set layer.
    const bool pointset = res.dataset == "/points" && res.kind == Kind::points && info.shape.size() <= 3 &&
                          lead.size() <= 1;
    if (pointset) {
        io::PointSets sets = io::read_point_sets(in, "", src);
        if (sets.size() != t.size())
            throw Error(src + ":/points: " + std::to_string(sets.size()) + " clouds but " + std::to_string(t.size()) +
                        " transforms in " + res.transforms_from);
        for (std::size_t i = 0; i < sets.size(); ++i) {
            auto& p = sets[i];
            p.points = transform_points(t[i], p.points);
            if (p.normals.size() > 0) {
                p.normals = transform_vectors(t[i], p.normals);
                p.normals.rowwise().normalize();
            }
        }
        io::write_point_sets(out, sets);
        res.items = sets.size();
        return res;
    }
    h5::Array<double> data = in.read<double>(res.dataset);
    for (double v : data.data)
        if (!std::isfinite(v)) throw Error(src + ":" + res.dataset + ": contains NaN or infinite values");
    apply_to_array(data, lead, t, res.kind, src + ":" + res.dataset);
    out.write(res.dataset, data);
    res.items = t.size();
    return res;
}

}  // namespace orbit::canon
