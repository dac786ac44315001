#include "orbit/flows/context.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "orbit/core/error.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::flows {

namespace {

// Labels beyond this many classes are more likely a real-valued column.
constexpr std::size_t kMaxClasses = 1000;

const char* kind_name(ContextEncoding::Kind k) {
    switch (k) {
        case ContextEncoding::Kind::onehot: return "onehot";
        case ContextEncoding::Kind::standardized: return "standardized";
        default: return "none";
    }
}

}  // namespace

int ContextEncoding::width() const {
    switch (kind) {
        case Kind::onehot: return static_cast<int>(classes.size());
        case Kind::standardized: return columns;
        default: return 0;
    }
}

ContextEncoding ContextEncoding::fit(const Points& raw) {
    ContextEncoding e;
    if (raw.cols() == 0) return e;
    if (raw.rows() < 2) throw Error("the context needs at least 2 rows");
    if (!raw.allFinite()) throw Error("the context holds NaN or infinite values");
    e.columns = static_cast<int>(raw.cols());
    bool integral = raw.cols() == 1;
    for (Eigen::Index i = 0; integral && i < raw.rows(); ++i)
        integral = raw(i, 0) == std::round(raw(i, 0)) && std::abs(raw(i, 0)) < 1e15;
    if (integral) {
        for (Eigen::Index i = 0; i < raw.rows(); ++i) e.classes.push_back(static_cast<std::int64_t>(raw(i, 0)));
        std::sort(e.classes.begin(), e.classes.end());
        e.classes.erase(std::unique(e.classes.begin(), e.classes.end()), e.classes.end());
        if (e.classes.size() >= 2 && e.classes.size() <= kMaxClasses) {
            e.kind = Kind::onehot;
            return e;
        }
        e.classes.clear();
    }
    e.kind = Kind::standardized;
    for (Eigen::Index j = 0; j < raw.cols(); ++j) {
        const double m = raw.col(j).mean();
        const double s = std::sqrt((raw.col(j).array() - m).square().sum() / double(raw.rows() - 1));
        if (!(s > 0)) throw Error("context column " + std::to_string(j) + " is constant; it carries no information");
        e.mean.push_back(m);
        e.std.push_back(s);
    }
    return e;
}

nn::Mat<float> ContextEncoding::encode(const Points& raw) const {
    if (!conditional()) {
        if (raw.cols() > 0) throw Error("the model is unconditional: it takes no context");
        return {};
    }
    if (raw.cols() != columns)
        throw Error("the context has " + std::to_string(raw.cols()) + " columns, the model was trained with " +
                    std::to_string(columns));
    nn::Mat<float> out = nn::Mat<float>::Zero(raw.rows(), width());
    for (Eigen::Index i = 0; i < raw.rows(); ++i) {
        if (kind == Kind::onehot) {
            const double v = raw(i, 0);
            const auto it = std::lower_bound(classes.begin(), classes.end(), static_cast<std::int64_t>(std::llround(v)));
            if (v != std::round(v) || it == classes.end() || double(*it) != v) {
                std::ostringstream os;
                os << "context row " << i << " is the label " << v << ", which the model was not trained on (labels "
                   << classes.front() << " to " << classes.back() << ")";
                throw Error(os.str());
            }
            out(i, it - classes.begin()) = 1.0f;
        } else {
            for (int j = 0; j < columns; ++j) {
                if (!std::isfinite(raw(i, j)))
                    throw Error("context row " + std::to_string(i) + " is NaN or infinite");
                out(i, j) = float((raw(i, j) - mean[std::size_t(j)]) / std[std::size_t(j)]);
            }
        }
    }
    return out;
}

std::string ContextEncoding::describe() const {
    if (kind == Kind::onehot) return "one-hot over " + std::to_string(classes.size()) + " labels";
    if (kind == Kind::standardized) return std::to_string(columns) + " standardized columns";
    return "none";
}

nlohmann::json ContextEncoding::to_json() const {
    nlohmann::json j = {{"encoding", kind_name(kind)}, {"columns", columns}};
    if (kind == Kind::onehot) j["classes"] = classes;
    if (kind == Kind::standardized) {
        j["mean"] = mean;
        j["std"] = std;
    }
    return j;
}

ContextEncoding ContextEncoding::from_json(const nlohmann::json& j) {
    ContextEncoding e;
    const std::string k = j.at("encoding").get<std::string>();
    e.columns = j.at("columns").get<int>();
    if (k == "onehot") {
        e.kind = Kind::onehot;
        e.classes = j.at("classes").get<std::vector<std::int64_t>>();
        if (e.classes.size() < 2 || e.columns != 1) throw Error("a one-hot context needs one column and two labels");
    } else if (k == "standardized") {
        e.kind = Kind::standardized;
        e.mean = j.at("mean").get<std::vector<double>>();
        e.std = j.at("std").get<std::vector<double>>();
        if (int(e.mean.size()) != e.columns || int(e.std.size()) != e.columns)
            throw Error("the context standardization has the wrong size");
    } else if (k != "none") {
        throw Error("unknown context encoding '" + k + "'");
    }
    return e;
}

Points read_context(const std::string& arg) {
    const h5::DatasetRef ref = h5::parse_ref(arg);
    if (ref.file != "-" && !ref.dataset.empty() && h5::looks_like_hdf5(ref.file)) {
        auto f = h5::File::open_read(ref.file);
        const auto a = f.read<double>(ref.dataset);
        if (a.rank() != 1 && a.rank() != 2)
            throw Error(arg + ": a context is [N] or [N,C], found a " + std::to_string(a.rank()) + "-d array");
        const Eigen::Index n = Eigen::Index(a.shape[0]), c = a.rank() == 1 ? 1 : Eigen::Index(a.shape[1]);
        if (n == 0 || c == 0) throw Error(arg + ": the context is empty");
        Points x(n, c);
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index j = 0; j < c; ++j) x(i, j) = a.data[std::size_t(i * c + j)];
        return x;
    }
    io::PointSets sets = io::read_point_sets(arg);
    if (sets.size() != 1) throw Error(arg + ": expected one table of context rows, found " + std::to_string(sets.size()));
    return std::move(sets.items[0].points);
}

Points repeat_context(const std::string& values, std::int64_t n) {
    std::vector<double> v;
    std::stringstream ss(values);
    std::string item;
    while (std::getline(ss, item, ',')) {
        std::size_t used = 0;
        double d = 0;
        try {
            d = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || !std::isfinite(d))
            throw UsageError("'" + values + "' is not a comma-separated list of finite numbers");
        v.push_back(d);
    }
    if (v.empty()) throw UsageError("the context value is empty");
    Points x(n, static_cast<Eigen::Index>(v.size()));
    for (std::int64_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < v.size(); ++j) x(i, Eigen::Index(j)) = v[j];
    return x;
}

}  // namespace orbit::flows
