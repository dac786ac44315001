#include "orbit/ot/input_file.hpp"

#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::ot {
namespace {

Vector weights_of(const io::PointSet& s, const std::string& source) {
    if (s.weights.size() == 0) return Vector::Constant(s.points.rows(), 1.0 / double(s.points.rows()));
    require(s.weights.size() == s.points.rows(), source + ": /weights has " + std::to_string(s.weights.size()) +
                                                     " entries for " + std::to_string(s.points.rows()) + " points");
    return s.weights;
}

}  // namespace

namespace {

h5::Array<double> read_weights(const std::string& arg, std::string& where) {
    const h5::DatasetRef ref = h5::parse_ref(arg);
    h5::File f = h5::File::open_read(ref.file);
    const std::string ds = ref.dataset.empty() ? "/weights" : ref.dataset;
    require(f.is_dataset(ds), ref.file + ": no dataset " + ds + " (expected weights)");
    where = ref.file + ":" + ds;
    return f.read<double>(ds);
}

}  // namespace

Vector read_weight_vector(const std::string& arg) {
    std::string where;
    h5::Array<double> a = read_weights(arg, where);
    require(a.rank() == 1 || (a.rank() == 2 && (a.shape[0] == 1 || a.shape[1] == 1)),
            where + ": expected a 1-D weight vector, found shape " + shape_string(a.shape));
    return Eigen::Map<Vector>(a.data.data(), Eigen::Index(a.data.size()));
}

Matrix read_weight_columns(const std::string& arg) {
    std::string where;
    h5::Array<double> a = read_weights(arg, where);
    require(a.rank() == 1 || a.rank() == 2, where + ": expected 1-D weights or a 2-D [M,K] matrix of them, found shape " +
                                                shape_string(a.shape));
    const Eigen::Index rows = Eigen::Index(a.shape[0]), cols = a.rank() == 1 ? 1 : Eigen::Index(a.shape[1]);
    require(rows > 0 && cols > 0, where + ": no weights");
    // HDF5 data are row-major: [M,K] holds the K weights of point 0 first.
    return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(a.data.data(), rows, cols);
}

Matrix read_cost_matrix(const std::string& arg, std::vector<std::string>* history) {
    const h5::DatasetRef ref = h5::parse_ref(arg);
    h5::File f = h5::File::open_read(ref.file);
    if (history) for (std::string& line : io::read_history(f)) history->push_back(std::move(line));
    const std::string ds = ref.dataset.empty() ? "/cost" : ref.dataset;
    require(f.is_dataset(ds), ref.file + ": no dataset " + ds + " (expected a cost matrix)");
    const h5::DatasetInfo info = f.info(ds);
    require(info.shape.size() == 2, ref.file + ":" + ds + ": expected a 2-D cost matrix, found shape " +
                                        shape_string(info.shape));
    require(info.shape[0] > 0 && info.shape[1] > 0, ref.file + ":" + ds + ": the cost matrix is empty");
    const Points c = f.read_matrix(ds);
    for (Eigen::Index t = 0; t < c.size(); ++t)
        require(!std::isnan(c.data()[t]) && c.data()[t] != -std::numeric_limits<double>::infinity(),
                ref.file + ":" + ds + ": the cost matrix contains NaN or -inf values (+inf marks a forbidden pair)");
    return c;
}

std::vector<TransportInput> read_point_problems(const std::string& xs, const std::string& ys,
                                                std::vector<std::string>* history) {
    const io::PointSets X = io::read_point_sets(xs), Y = io::read_point_sets(ys);
    if (history)
        for (const io::PointSets* s : {&X, &Y}) history->insert(history->end(), s->history.begin(), s->history.end());
    require(X.size() == Y.size() || Y.size() == 1,
            "the batches differ in size: " + xs + " holds " + std::to_string(X.size()) + " clouds, " + ys + " holds " +
                std::to_string(Y.size()));
    std::vector<TransportInput> out;
    for (std::size_t k = 0; k < X.size(); ++k) {
        const io::PointSet& px = X[k];
        const io::PointSet& py = Y.size() == 1 ? Y[0] : Y[k];
        require(px.points.cols() == py.points.cols(),
                "dimension mismatch: " + xs + " has " + std::to_string(px.points.cols()) + "-D points, " + ys +
                    " has " + std::to_string(py.points.cols()) + "-D points");
        TransportInput in;
        in.x = px.points, in.y = py.points, in.a = weights_of(px, xs), in.b = weights_of(py, ys);
        out.push_back(std::move(in));
    }
    return out;
}

Measure read_measure(const std::string& ref, std::vector<std::string>* history) {
    const io::PointSets s = io::read_point_sets(ref);
    require(s.size() == 1, ref + ": expected one point set, found a batch of " + std::to_string(s.size()));
    if (history) history->insert(history->end(), s.history.begin(), s.history.end());
    return {s[0].points, weights_of(s[0], ref)};
}

TransportInput cost_problem(Matrix cost) {
    TransportInput in;
    in.a = Vector::Constant(cost.rows(), 1.0 / double(cost.rows()));
    in.b = Vector::Constant(cost.cols(), 1.0 / double(cost.cols()));
    in.cost = std::move(cost);
    return in;
}

void read_warm_start(const std::string& path, SinkhornOptions& opt) {
    h5::File w = h5::File::open_read(path);
    require(w.is_dataset("/f") && w.is_dataset("/g"), path + ": expected /f and /g from an earlier run");
    const auto f = w.read<double>("/f", 1), g = w.read<double>("/g", 1);
    opt.f_init = Eigen::Map<const Vector>(f.data.data(), Eigen::Index(f.data.size()));
    opt.g_init = Eigen::Map<const Vector>(g.data.data(), Eigen::Index(g.data.size()));
}

}  // namespace orbit::ot
