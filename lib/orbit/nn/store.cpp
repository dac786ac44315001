#include "orbit/nn/store.hpp"

#include <cmath>

#include "orbit/core/error.hpp"

namespace orbit::nn {

void refuse_architecture_options(const std::vector<std::string>& given, const std::string& resume) {
    if (!given.empty()) throw UsageError(given.front() + " cannot change when resuming (the architecture comes from " + resume + ")");
}

namespace {

template <class T>
void write_mat(h5::File& file, const std::string& path, const Mat<T>& m) {
    h5::Array<T> a;
    a.shape = {static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())};
    a.data.resize(static_cast<std::size_t>(m.size()));
    for (Eigen::Index i = 0; i < m.size(); ++i) a.data[static_cast<std::size_t>(i)] = m.data()[i];
    file.write(path, a);
}

template <class T>
void read_mat(const h5::File& file, const std::string& path, Mat<T>& m) {
    if (!file.exists(path))
        throw Error(file.name() + ": model dataset " + path + " is missing (the file is not a model of this kind)");
    auto a = file.read<double>(path, 2);
    if (static_cast<Eigen::Index>(a.shape[0]) != m.rows() || static_cast<Eigen::Index>(a.shape[1]) != m.cols())
        throw Error(file.name() + ": model dataset " + path + " has shape " + shape_string(a.shape) + ", expected [" +
                    std::to_string(m.rows()) + "," + std::to_string(m.cols()) + "]");
    for (Eigen::Index i = 0; i < m.size(); ++i) {
        const double v = a.data[static_cast<std::size_t>(i)];
        if (!std::isfinite(v)) throw Error(file.name() + ": model dataset " + path + " holds NaN or inf");
        m.data()[i] = T(v);
    }
}

}  // namespace

template <class T>
void save_params(h5::File& file, const std::string& group, const ParamList<T>& params) {
    for (auto* p : params) write_mat(file, group + "/" + p->name, p->value);
}

template <class T>
void load_params(const h5::File& file, const std::string& group, const ParamList<T>& params) {
    for (auto* p : params) read_mat(file, group + "/" + p->name, p->value);
}

template <class T>
void save_mats(h5::File& file, const std::string& group, const std::vector<Mat<T>>& mats) {
    for (std::size_t i = 0; i < mats.size(); ++i) write_mat(file, group + "/" + std::to_string(i), mats[i]);
}

template <class T>
void load_mats(const h5::File& file, const std::string& group, std::vector<Mat<T>>& mats) {
    for (std::size_t i = 0; i < mats.size(); ++i) read_mat(file, group + "/" + std::to_string(i), mats[i]);
}

template void save_params<float>(h5::File&, const std::string&, const ParamList<float>&);
template void save_params<double>(h5::File&, const std::string&, const ParamList<double>&);
template void load_params<float>(const h5::File&, const std::string&, const ParamList<float>&);
template void load_params<double>(const h5::File&, const std::string&, const ParamList<double>&);
template void save_mats<float>(h5::File&, const std::string&, const std::vector<Mat<float>>&);
template void save_mats<double>(h5::File&, const std::string&, const std::vector<Mat<double>>&);
template void load_mats<float>(const h5::File&, const std::string&, std::vector<Mat<float>>&);
template void load_mats<double>(const h5::File&, const std::string&, std::vector<Mat<double>>&);

}  // namespace orbit::nn
