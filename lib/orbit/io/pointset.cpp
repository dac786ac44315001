#include "orbit/io/pointset.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>

#include "orbit/io/formats.hpp"
#include "orbit/io/output.hpp"

namespace orbit::io {
namespace {

Points slice_rows(const h5::Array<double>& a, std::size_t first_row, std::size_t rows, std::size_t cols) {
    Points m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    if (rows * cols > 0) std::memcpy(m.data(), a.data.data() + first_row * cols, rows * cols * sizeof(double));
    return m;
}

std::string sibling(const std::string& dataset, const std::string& name) {
    auto pos = dataset.rfind('/');
    return (pos == std::string::npos ? std::string("") : dataset.substr(0, pos)) + "/" + name;
}

// The first of `names` that exists next to `dataset`, or "".
std::string first_sibling(const h5::File& file, const std::string& dataset, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (std::string path = sibling(dataset, n); path != dataset && file.exists(path) && file.is_dataset(path)) return path;
    return "";
}

// Labels at `path` for the clouds of `out`, whose points dataset has shape
// `points_shape`: per point when the label shape starts with the points'
// leading shape, else per cloud when it starts with the number of clouds (a
// single cloud: a scalar or [1,...]). False, with nothing read, when neither fits.
bool read_labels(const h5::File& file, const std::string& path, const std::vector<std::size_t>& points_shape, PointSets& out,
                 const std::string& source) {
    if (!file.is_numeric(path)) return false;
    const std::vector<std::size_t> shape = file.info(path).shape;
    const std::vector<std::size_t> lead(points_shape.begin(), points_shape.end() - 1);
    std::size_t keep = 0;  // leading dimensions that index the items
    if (shape.size() >= lead.size() && std::equal(lead.begin(), lead.end(), shape.begin())) {
        out.labels = PointSets::Labels::per_point;
        keep = lead.size();
    } else if (out.layout == PointSets::Layout::single && (shape.empty() || shape[0] == 1)) {
        out.labels = PointSets::Labels::per_cloud;
        keep = shape.empty() ? 0 : 1;
    } else if (out.layout != PointSets::Layout::single && !shape.empty() && shape[0] == out.size()) {
        out.labels = PointSets::Labels::per_cloud;
        keep = 1;
    } else {
        return false;
    }
    out.label_shape.assign(shape.begin() + static_cast<long>(keep), shape.end());
    std::size_t cols = 1;
    for (auto d : out.label_shape) cols *= d;
    if (cols == 0) throw Error(source + ":" + path + ": labels of shape " + shape_string(shape) + " are empty");
    h5::Array<double> a = file.read<double>(path);
    for (double v : a.data)
        if (!std::isfinite(v)) throw Error(source + ":" + path + ": labels must be finite numbers");
    std::size_t row = 0;
    for (auto& p : out.items) {
        const std::size_t n = out.labels == PointSets::Labels::per_point ? static_cast<std::size_t>(p.points.rows()) : 1;
        p.labels = slice_rows(a, row, n, cols);
        row += n;
    }
    return true;
}

}  // namespace

std::pair<std::string, std::optional<CloudRange>> split_selection(const std::string& dataset) {
    const auto open = dataset.rfind('[');
    if (dataset.empty() || dataset.back() != ']' || open == std::string::npos) return {dataset, std::nullopt};
    const std::string inside = dataset.substr(open + 1, dataset.size() - open - 2), name = dataset.substr(0, open);
    auto number = [&](const std::string& t, std::int64_t fallback) -> std::int64_t {
        if (t.empty()) return fallback;
        if (t.find_first_not_of("0123456789") != std::string::npos || t.size() > 15)
            throw UsageError("'" + dataset + "': expected a cloud selection [K] or [A:B] of whole numbers >= 0, found [" +
                             inside + "]");
        return std::stoll(t);
    };
    CloudRange r;
    const auto colon = inside.find(':');
    if (colon == std::string::npos) {
        if (inside.empty()) number("-", 0);  // "[]": the same message
        r.begin = number(inside, 0);
        r.one = true;
    } else {
        r.begin = number(inside.substr(0, colon), 0);
        r.end = number(inside.substr(colon + 1), -1);
        if (r.end >= 0 && r.end <= r.begin)
            throw UsageError("'" + dataset + "': the selection [" + inside + "] holds no cloud (A:B keeps A..B-1)");
    }
    return {name.empty() ? "/points" : name, r};
}

void select_clouds(PointSets& sets, const CloudRange& r, const std::string& what) {
    const auto n = static_cast<std::int64_t>(sets.size());
    const std::int64_t end = r.one ? r.begin + 1 : r.end < 0 ? n : r.end;
    if (r.begin >= n || end > n)
        throw Error(what + ": selects " + (r.one ? "cloud " + std::to_string(r.begin) : "clouds " + std::to_string(r.begin) + ".." +
                    std::to_string(end - 1)) + ", but the dataset holds " + std::to_string(n) + " cloud" + (n == 1 ? "" : "s") +
                    " (0.." + std::to_string(n - 1) + ")");
    sets.items = std::vector<PointSet>(std::make_move_iterator(sets.items.begin() + r.begin),
                                       std::make_move_iterator(sets.items.begin() + end));
    if (r.one) sets.layout = PointSets::Layout::single;
    else if (sets.layout == PointSets::Layout::single) sets.layout = PointSets::Layout::batch;
}

void check_finite(const Points& m, const std::string& what) {
    for (Eigen::Index i = 0; i < m.rows(); ++i)
        for (Eigen::Index j = 0; j < m.cols(); ++j)
            if (!std::isfinite(m(i, j)))
                throw Error(what + ": value at row " + std::to_string(i) + ", column " + std::to_string(j) + " is " +
                            (std::isnan(m(i, j)) ? "NaN" : "infinite"));
}

PointSets read_point_sets(const h5::File& file, const std::string& dataset_arg, const std::string& source) {
    const auto [dataset_in, range] = split_selection(dataset_arg);
    PointSets out = read_all_point_sets(file, dataset_in, source);
    if (range) select_clouds(out, *range, source + ":" + dataset_arg);
    return out;
}

PointSets read_all_point_sets(const h5::File& file, const std::string& dataset_in, const std::string& source) {
    const bool whole_file = dataset_in.empty();
    const std::string dataset = whole_file ? "/points" : dataset_in;
    if (!file.exists(dataset)) {
        if (whole_file)
            throw Error(source + ": missing dataset '/points' (name another one with " + source + ":/DATASET)");
        throw Error(source + ": missing dataset '" + dataset + "'");
    }
    std::string where = source + (whole_file ? ":/points" : "");
    PointSets out;
    out.source = source;
    out.history = read_history(file);
    const h5::DatasetInfo info = file.info(dataset);
    if (info.shape.size() == 2 && info.shape[0] > 0 && info.shape[1] > 0 && !file.exists(sibling(dataset, "offsets"))) {
        // One cloud, the common case: read it straight into its matrix.
        PointSet p;
        p.points = file.read_matrix(dataset);
        out.items.push_back(std::move(p));
        out.layout = PointSets::Layout::single;
    } else if (h5::Array<double> a = file.read<double>(dataset); a.rank() == 2) {
        std::size_t n = a.shape[0], d = a.shape[1];
        if (n == 0 || d == 0) throw Error(where + ": point set is empty, shape " + shape_string(a.shape));
        // Ragged clouds (the single-cloud case took the branch above).
        std::string offsets = sibling(dataset, "offsets");
        auto off = file.read<std::int64_t>(offsets, 1);
        if (off.size() < 2 || off.data.front() != 0 || static_cast<std::size_t>(off.data.back()) != n)
            throw Error(source + ":" + offsets + ": expected offsets from 0 to " + std::to_string(n));
        for (std::size_t b = 0; b + 1 < off.size(); ++b) {
            if (off.data[b + 1] < off.data[b])
                throw Error(source + ":" + offsets + ": offsets must increase, but entry " + std::to_string(b + 1) + " (" +
                            std::to_string(off.data[b + 1]) + ") is below entry " + std::to_string(b) + " (" +
                            std::to_string(off.data[b]) + ")");
            if (off.data[b + 1] == off.data[b])
                throw Error(source + ":" + offsets + ": offsets must increase (cloud " + std::to_string(b) + " is empty)");
            PointSet p;
            p.points = slice_rows(a, static_cast<std::size_t>(off.data[b]),
                                  static_cast<std::size_t>(off.data[b + 1] - off.data[b]), d);
            out.items.push_back(std::move(p));
        }
        out.layout = PointSets::Layout::ragged;
    } else if (a.rank() == 3) {
        std::size_t b = a.shape[0], n = a.shape[1], d = a.shape[2];
        if (b == 0 || n == 0 || d == 0) throw Error(where + ": point set is empty, shape " + shape_string(a.shape));
        for (std::size_t i = 0; i < b; ++i) {
            PointSet p;
            p.points = slice_rows(a, i * n, n, d);
            out.items.push_back(std::move(p));
        }
        out.layout = PointSets::Layout::batch;
    } else {
        throw Error(where + ": expected points of shape [N,D] or [B,N,D], found " + shape_string(a.shape));
    }
    for (std::size_t i = 0; i < out.size(); ++i)
        check_finite(out[i].points, where + (out.size() > 1 ? " (cloud " + std::to_string(i) + ")" : ""));

    const std::vector<std::size_t> points_shape = info.shape;
    if (!whole_file) {
        // A named dataset brings its siblings normal(s) and label(s) when their shapes fit.
        if (std::string n = first_sibling(file, dataset, {"normals", "normal"});
            !n.empty() && file.is_numeric(n) && file.info(n).shape == points_shape && points_shape.back() == 3) {
            h5::Array<double> c = file.read<double>(n);
            std::size_t row = 0;
            for (auto& p : out.items) {
                p.normals = slice_rows(c, row, static_cast<std::size_t>(p.points.rows()), 3);
                row += static_cast<std::size_t>(p.points.rows());
            }
            for (std::size_t i = 0; i < out.size(); ++i) check_finite(out[i].normals, source + ":" + n);
        }
        if (std::string l = first_sibling(file, dataset, {"labels", "label"}); !l.empty())
            read_labels(file, l, points_shape, out, source);
    }
    // Companions: only for orbit point-set files read as a whole.
    if (whole_file) {
        std::size_t total = 0;
        for (auto& p : out.items) total += static_cast<std::size_t>(p.points.rows());
        auto split = [&](const std::string& name, bool vector_valued, auto&& assign) {
            std::string path = sibling(dataset, name);
            if (!file.exists(path)) return;
            h5::Array<double> c = file.read<double>(path);
            std::size_t cols = vector_valued ? (c.rank() >= 2 ? c.shape.back() : 0) : 1;
            if (c.size() != total * cols || cols == 0)
                throw Error(source + ":" + path + ": shape " + shape_string(c.shape) + " does not match " +
                            std::to_string(total) + " points");
            std::size_t row = 0;
            for (auto& p : out.items) {
                auto n = static_cast<std::size_t>(p.points.rows());
                assign(p, slice_rows(c, row, n, cols));
                row += n;
            }
        };
        split("normals", true, [](PointSet& p, Points m) { p.normals = std::move(m); });
        split("features", true, [](PointSet& p, Points m) { p.features = std::move(m); });
        split("weights", false, [&](PointSet& p, Points m) {
            p.weights = Eigen::Map<Vector>(m.data(), m.rows());
            for (Eigen::Index i = 0; i < p.weights.size(); ++i)
                if (!std::isfinite(p.weights[i]) || p.weights[i] < 0)
                    throw Error(source + ":/weights: weights must be finite and non-negative");
        });
        if (std::string l = first_sibling(file, dataset, {"labels", "label"});
            !l.empty() && !read_labels(file, l, points_shape, out, source))
            throw Error(source + ":" + l + ": shape " + shape_string(file.info(l).shape) + " fits neither " +
                        std::to_string(out.size()) + " cloud(s) nor their points " + shape_string(points_shape));
    }
    return out;
}

PointSets read_point_sets(const std::string& arg) {
    h5::DatasetRef ref = h5::parse_ref(arg);
    if (ref.file != "-" && !std::filesystem::exists(ref.file))
        throw Error("cannot open '" + ref.file + "': no such file");
    // Foreign formats; FILE:/NAME picks an array of an NPZ file, or else a dataset of an HDF5 file.
    if (ref.file != "-" && (ref.dataset.empty() || formats::has_members(ref.file)) && !h5::looks_like_hdf5(ref.file) &&
        formats::is_known(ref.file)) {
        formats::Shape shape = formats::read_shape(ref.file, ref.dataset);
        PointSets out;
        out.source = ref.file;
        PointSet p;
        p.points = std::move(shape.vertices);
        p.normals = std::move(shape.normals);
        if (p.points.rows() == 0) throw Error(ref.file + ": contains no points");
        check_finite(p.points, ref.file);
        out.items.push_back(std::move(p));
        return out;
    }
    h5::File f = h5::File::open_read(ref.file);
    return read_point_sets(f, ref.dataset, ref.file == "-" ? "<stdin>" : ref.file);
}

void write_point_sets(h5::File& file, const PointSets& sets, const std::string& group) {
    if (sets.items.empty()) throw Error("no point sets to write");
    const std::size_t d = static_cast<std::size_t>(sets[0].points.cols());
    bool equal = true;
    std::size_t total = 0;
    for (auto& p : sets.items) {
        if (static_cast<std::size_t>(p.points.cols()) != d) throw Error("point sets of different dimensions");
        equal = equal && p.points.rows() == sets[0].points.rows();
        total += static_cast<std::size_t>(p.points.rows());
    }
    const bool single = sets.size() == 1 && sets.layout == PointSets::Layout::single;
    const bool ragged = !single && (!equal || sets.layout == PointSets::Layout::ragged);
    auto shape_for = [&](std::size_t cols) -> std::vector<std::size_t> {
        if (single || ragged) return cols ? std::vector<std::size_t>{total, cols} : std::vector<std::size_t>{total};
        std::size_t n = static_cast<std::size_t>(sets[0].points.rows());
        return cols ? std::vector<std::size_t>{sets.size(), n, cols} : std::vector<std::size_t>{sets.size(), n};
    };
    auto gather = [&](auto&& get, std::size_t cols) {
        h5::Array<double> a;
        a.shape = shape_for(cols);
        a.data.reserve(total * (cols ? cols : 1));
        for (auto& p : sets.items) {
            const auto& m = get(p);
            a.data.insert(a.data.end(), m.data(), m.data() + m.size());
        }
        return a;
    };
    // Per-point rows: one cloud is written from its own matrix, several are gathered first.
    auto write_rows = [&](const std::string& name, auto&& get, std::size_t cols) {
        if (single) file.write_matrix(group + name, get(sets[0]));
        else file.write(group + name, gather(get, cols));
    };
    write_rows("/points", [](const PointSet& p) -> const Points& { return p.points; }, d);
    auto all_have = [&](auto&& has) {
        for (auto& p : sets.items)
            if (!has(p)) return false;
        return true;
    };
    if (all_have([](const PointSet& p) { return p.normals.rows() == p.points.rows() && p.normals.size() > 0; }))
        write_rows("/normals", [](const PointSet& p) -> const Points& { return p.normals; }, d);
    if (all_have([](const PointSet& p) { return p.features.rows() == p.points.rows() && p.features.size() > 0; }))
        write_rows("/features", [](const PointSet& p) -> const Points& { return p.features; },
                   static_cast<std::size_t>(sets[0].features.cols()));
    if (all_have([](const PointSet& p) { return p.weights.size() == p.points.rows(); }))
        file.write(group + "/weights", gather([](const PointSet& p) -> const Vector& { return p.weights; }, 0));
    if (sets.labels != PointSets::Labels::none) {
        const bool per_point = sets.labels == PointSets::Labels::per_point;
        std::size_t cols = 1;
        for (auto d : sets.label_shape) cols *= d;
        if (all_have([&](const PointSet& p) {
                return p.labels.rows() == (per_point ? p.points.rows() : 1) && static_cast<std::size_t>(p.labels.cols()) == cols;
            })) {
            std::vector<std::size_t> shape = per_point ? shape_for(0) : std::vector<std::size_t>{sets.size()};
            shape.insert(shape.end(), sets.label_shape.begin(), sets.label_shape.end());
            h5::Array<double> a = gather([](const PointSet& p) -> const Points& { return p.labels; }, 0);
            a.shape = shape;
            bool whole = true;
            for (double v : a.data) whole = whole && v == std::floor(v) && std::abs(v) < 9.0e15;
            if (whole) {
                h5::Array<std::int64_t> li{shape, std::vector<std::int64_t>(a.data.begin(), a.data.end())};
                file.write(group + "/labels", li);
            } else {
                file.write(group + "/labels", a);
            }
        }
    }
    if (ragged) {
        h5::Array<std::int64_t> off;
        off.shape = {sets.size() + 1};
        off.data.push_back(0);
        for (auto& p : sets.items) off.data.push_back(off.data.back() + p.points.rows());
        file.write(group + "/offsets", off);
    }
}

std::vector<Transform> read_transforms(const h5::File& file, const std::string& dataset_in) {
    std::string dataset = dataset_in.empty() ? "/transform" : dataset_in;
    h5::Array<double> a = file.read<double>(dataset);
    std::string where = file.name() + ":" + dataset;
    bool ok = (a.rank() == 2 && a.shape[0] == 4 && a.shape[1] == 4) ||
              (a.rank() == 3 && a.shape[1] == 4 && a.shape[2] == 4 && a.shape[0] > 0);
    if (!ok) throw Error(where + ": expected transforms of shape [4,4] or [B,4,4], found " + shape_string(a.shape));
    std::size_t b = a.rank() == 2 ? 1 : a.shape[0];
    std::vector<Transform> out(b);
    for (std::size_t i = 0; i < b; ++i) {
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) {
                double v = a.data[i * 16 + static_cast<std::size_t>(r * 4 + c)];
                if (!std::isfinite(v)) throw Error(where + ": transform " + std::to_string(i) + " has a non-finite entry");
                out[i](r, c) = v;
            }
    }
    return out;
}

std::vector<Transform> read_transforms(const std::string& arg) {
    h5::DatasetRef ref = h5::parse_ref(arg);
    h5::File f = h5::File::open_read(ref.file);
    return read_transforms(f, ref.dataset);
}

void write_transforms(h5::File& file, const std::string& dataset, const std::vector<Transform>& transforms,
                      bool batched) {
    h5::Array<double> a;
    a.shape = (!batched && transforms.size() == 1) ? std::vector<std::size_t>{4, 4}
                                                   : std::vector<std::size_t>{transforms.size(), 4, 4};
    for (auto& t : transforms)
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) a.data.push_back(t(r, c));
    file.write(dataset, a);
}

Shard parse_shard(const std::string& text) {
    Shard s;
    auto slash = text.find('/');
    try {
        if (slash == std::string::npos) throw std::invalid_argument("");
        std::size_t used = 0;
        s.index = std::stoll(text.substr(0, slash), &used);
        if (used != slash) throw std::invalid_argument("");
        s.count = std::stoll(text.substr(slash + 1), &used);
        if (used != text.size() - slash - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
        throw UsageError("expected K/N such as 2/8, found '" + text + "'");
    }
    if (s.count < 1 || s.index < 1 || s.index > s.count)
        throw UsageError("expected K/N with 1 <= K <= N, found '" + text + "'");
    return s;
}

std::pair<std::int64_t, std::int64_t> shard_items(const Shard& shard, std::int64_t total) {
    const std::int64_t begin = shard.begin(total), end = shard.end(total);
    if (end <= begin)
        throw Error("shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) + " of " +
                    std::to_string(total) + " clouds is empty");
    return {begin, end};
}

void write_shard_info(h5::File& file, const Shard& shard, std::int64_t total_items) {
    file.set_attr("/", "shard_index", shard.index);
    file.set_attr("/", "shard_count", shard.count);
    file.set_attr("/", "shard_items", shard.end(total_items) - shard.begin(total_items));
    file.set_attr("/", "shard_total_items", total_items);
}

PointSets derive_point_sets(const PointSets& in, std::vector<DerivedCloud> clouds, bool single, h5::Array<std::int64_t>& indices) {
    PointSets out;
    out.source = in.source;
    out.labels = in.labels;
    out.label_shape = in.label_shape;
    out.layout = single ? PointSets::Layout::single : PointSets::Layout::batch;
    bool equal = true;
    indices.data.clear();
    for (DerivedCloud& c : clouds) {
        const PointSet& from = in[c.from];
        const auto pick = [&](const Points& m) {
            Points o(static_cast<Eigen::Index>(c.rows.size()), m.cols());
            for (std::size_t i = 0; i < c.rows.size(); ++i) o.row(static_cast<Eigen::Index>(i)) = m.row(c.rows[i]);
            return o;
        };
        PointSet to{std::move(c.points), std::move(c.normals), {}, {}, {}};
        if (from.weights.size() == from.points.rows()) to.weights = pick(Points(from.weights)).col(0);
        if (from.features.rows() == from.points.rows() && from.features.size() > 0) to.features = pick(from.features);
        if (in.labels == PointSets::Labels::per_point) to.labels = pick(from.labels);
        else if (in.labels == PointSets::Labels::per_cloud) to.labels = from.labels;
        indices.data.insert(indices.data.end(), c.rows.begin(), c.rows.end());
        equal = equal && static_cast<std::size_t>(to.points.rows()) == clouds.front().rows.size();
        out.items.push_back(std::move(to));
    }
    indices.shape = single || !equal || out.items.empty()
                        ? std::vector<std::size_t>{indices.data.size()}
                        : std::vector<std::size_t>{out.items.size(), static_cast<std::size_t>(out.items.front().points.rows())};
    return out;
}

}  // namespace orbit::io
