#include "orbit/flows/interpolant.hpp"

#include "orbit/core/error.hpp"

namespace orbit::flows {

InterpolantBase parse_interpolant_base(const std::string& name) {
    if (name == "source") return InterpolantBase::source;
    if (name == "gaussian") return InterpolantBase::gaussian;
    throw UsageError("unknown interpolant base '" + name + "' (expected source or gaussian)");
}

std::string interpolant_base_name(InterpolantBase b) { return b == InterpolantBase::source ? "source" : "gaussian"; }

template <class T>
void stochastic_interpolant(const nn::Mat<T>& x0, const nn::Mat<T>& x1, const nn::Mat<T>& z,
                            const Eigen::Matrix<T, Eigen::Dynamic, 1>& t, double sigma, nn::Mat<T>& it,
                            nn::Mat<T>& dit) {
    require(x0.rows() == x1.rows() && x0.cols() == x1.cols() && t.size() == x0.rows(),
            "interpolant: the base, data and time batches differ in shape");
    const auto a = t.array();
    it = (x1.array().colwise() * a + x0.array().colwise() * (T(1) - a)).matrix();
    dit = x1 - x0;
    if (sigma > 0) {
        require(z.rows() == x0.rows() && z.cols() == x0.cols(), "interpolant: the latent noise has the wrong shape");
        const T s = T(sigma);
        it += (z.array().colwise() * (s * a * (T(1) - a))).matrix();
        dit += (z.array().colwise() * (s * (T(1) - T(2) * a))).matrix();
    }
}

template void stochastic_interpolant(const nn::Mat<float>&, const nn::Mat<float>&, const nn::Mat<float>&,
                                     const Eigen::Matrix<float, Eigen::Dynamic, 1>&, double, nn::Mat<float>&,
                                     nn::Mat<float>&);
template void stochastic_interpolant(const nn::Mat<double>&, const nn::Mat<double>&, const nn::Mat<double>&,
                                     const Eigen::Matrix<double, Eigen::Dynamic, 1>&, double, nn::Mat<double>&,
                                     nn::Mat<double>&);

}  // namespace orbit::flows
