#include "orbit/invariance/report_file.hpp"

#include <algorithm>

#include "orbit/core/error.hpp"
#include "orbit/io/plot.hpp"

namespace orbit::invariance {

void write_report(h5::File& f, const EvalReport& r) {
    const std::size_t B = static_cast<std::size_t>(r.abs_max.rows()), K = r.elements.size();
    h5::Array<double> tr{{K, 4, 4}, {}}, mag{{K}, {}};
    for (std::size_t k = 0; k < K; ++k) {
        for (int a = 0; a < 4; ++a)
            for (int c = 0; c < 4; ++c) tr.data.push_back(r.elements[k].t(a, c));
        mag.data.push_back(r.magnitude[k]);
    }
    f.write("/elements/transform", tr);
    f.write("/elements/magnitude", mag);
    f.set_attr("/elements/magnitude", "meaning", r.magnitude_name);
    auto mat = [&](const std::string& path, const Matrix& m) {
        h5::Array<double> a{{B, K}, {}};
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t k = 0; k < K; ++k) a.data.push_back(m(static_cast<Eigen::Index>(b), static_cast<Eigen::Index>(k)));
        f.write(path, a);
    };
    mat("/errors/abs_max", r.abs_max);
    mat("/errors/abs_mean", r.abs_mean);
    mat("/errors/rel", r.rel);
    if (r.consistent.size() > 0) mat("/errors/consistent", r.consistent);
    if (r.explanation_inv.size() > 0) {
        mat("/explanation/invariance", r.explanation_inv);
        mat("/explanation/equivariance", r.explanation_equiv);
    }
    h5::Array<double> pmax{{K}, {}}, pmean{{K}, {}}, prel{{K}, {}};
    for (std::size_t k = 0; k < K; ++k) {
        const auto kk = static_cast<Eigen::Index>(k);
        pmax.data.push_back(r.abs_max.col(kk).maxCoeff());
        pmean.data.push_back(r.abs_mean.col(kk).mean());
        prel.data.push_back(r.rel.col(kk).maxCoeff());
    }
    f.write("/per_element/abs_max", pmax);
    f.write("/per_element/abs_mean", pmean);
    f.write("/per_element/rel_max", prel);
    for (auto& s : r.lie) f.write("/lie/" + s.name, h5::Array<double>{{s.per_cloud.size()}, s.per_cloud});
    f.set_attr_json("/", "summary", r.json());
}

void plot_report(const std::string& path, const EvalReport& r) {
    const std::size_t K = r.elements.size();
    plot::Series smax, smean;
    smax.label = "max |error| over clouds";
    smean.label = "mean |error|";
    smax.points = smean.points = true;
    // A log axis cannot show exact zeros: they are drawn at 1e-18 (below float64 round-off).
    const double floor = 1e-18;
    for (std::size_t k = 0; k < K; ++k) {
        const auto kk = static_cast<Eigen::Index>(k);
        smax.x.push_back(r.magnitude[k]);
        smax.y.push_back(std::max(floor, r.abs_max.col(kk).maxCoeff()));
        smean.x.push_back(r.magnitude[k]);
        smean.y.push_back(std::max(floor, r.abs_mean.col(kk).mean()));
    }
    plot::Axes ax;
    ax.title = "invariance error, " + r.group + ", " + r.output_type + " outputs";
    ax.xlabel = r.magnitude_name;
    ax.ylabel = "absolute error";
    ax.log_y = true;
    plot::line_chart(path, ax, {smax, smean});
}

EvalReport read_report(const h5::File& f) {
    EvalReport r;
    const h5::Array<double> tr = f.read<double>("/elements/transform", 3), mag = f.read<double>("/elements/magnitude", 1);
    const std::size_t K = mag.size();
    if (tr.shape != std::vector<std::size_t>{K, 4, 4}) throw Error(f.name() + ": /elements/transform is not [K,4,4]");
    r.elements.resize(K);
    for (std::size_t k = 0; k < K; ++k)
        for (int a = 0; a < 4; ++a)
            for (int c = 0; c < 4; ++c) r.elements[k].t(a, c) = tr.data[k * 16 + static_cast<std::size_t>(a * 4 + c)];
    r.magnitude = mag.data;
    r.magnitude_name = f.attr_string("/elements/magnitude", "meaning");
    auto mat = [&](const std::string& path) {
        const h5::Array<double> a = f.read<double>(path, 2);
        if (a.shape[1] != K) throw Error(f.name() + ":" + path + ": expected one column per element");
        Matrix m(static_cast<Eigen::Index>(a.shape[0]), static_cast<Eigen::Index>(K));
        for (std::size_t b = 0; b < a.shape[0]; ++b)
            for (std::size_t k = 0; k < K; ++k) m(static_cast<Eigen::Index>(b), static_cast<Eigen::Index>(k)) = a.data[b * K + k];
        return m;
    };
    r.abs_max = mat("/errors/abs_max");
    r.abs_mean = mat("/errors/abs_mean");
    r.rel = mat("/errors/rel");
    if (f.exists("/errors/consistent")) r.consistent = mat("/errors/consistent");
    if (f.exists("/explanation/invariance")) {
        r.explanation_inv = mat("/explanation/invariance");
        r.explanation_equiv = mat("/explanation/equivariance");
        r.explanation_invariance = r.explanation_inv.mean();
        r.explanation_equivariance = r.explanation_equiv.mean();
    }
    for (auto& d : f.exists("/lie") ? f.list_datasets("/lie") : std::vector<h5::DatasetInfo>{}) {
        LieStat s;
        s.name = d.path.substr(std::string("/lie/").size());
        s.per_cloud = f.read<double>(d.path, 1).data;
        r.lie.push_back(std::move(s));
    }
    const nlohmann::json j = f.attr_json("/", "summary");
    r.group = j.at("group").get<std::string>();
    r.model = j.at("model").get<std::string>();
    r.output_type = j.at("output_type").get<std::string>();
    r.output_shape = j.at("output_shape").get<std::vector<std::size_t>>();
    r.evaluations = j.at("evaluations").get<std::int64_t>();
    r.max_abs = j.at("max_abs_error").get<double>();
    r.mean_abs = j.at("mean_abs_error").get<double>();
    r.max_rel = j.at("max_rel_error").get<double>();
    r.mean_rel = j.at("mean_rel_error").get<double>();
    r.consistency = j.contains("consistency") ? j["consistency"].get<double>() : -1.0;
    r.normalized_variance = j.at("normalized_variance").is_null() ? -1.0 : j["normalized_variance"].get<double>();
    for (auto& s : r.lie) {
        s.mean = j.at("lie_derivative").at(s.name).at("mean").get<double>();
        s.max = j.at("lie_derivative").at(s.name).at("max").get<double>();
    }
    r.tolerance = j.at("tolerance").get<double>();
    r.atol = j.at("atol").get<double>();
    r.failures = j.at("failing_pairs").get<std::int64_t>();
    r.passed = j.at("passed").get<bool>();
    return r;
}

}  // namespace orbit::invariance
