#include "orbit/invariance/evaluate.hpp"

#include <Eigen/LU>
#include <algorithm>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/core/log.hpp"

namespace orbit::invariance {
namespace {

std::vector<double> block_of(const h5::Array<double>& y, std::size_t item, std::size_t per) {
    return std::vector<double>(y.data.begin() + static_cast<long>(item * per),
                               y.data.begin() + static_cast<long>((item + 1) * per));
}

double label_of(const std::vector<double>& v) {
    if (v.size() == 1) return std::round(v[0]);
    return static_cast<double>(std::max_element(v.begin(), v.end()) - v.begin());
}

double norm2(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x * x;
    return std::sqrt(s);
}

// Cosine of two attribution vectors; 1 when both are zero (nothing attributed either way).
double cosine(const std::vector<double>& a, const std::vector<double>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    if (aa == 0 && bb == 0) return 1.0;
    if (aa == 0 || bb == 0) return 0.0;
    return ab / std::sqrt(aa * bb);
}

std::vector<std::int64_t> invert_perm(const std::vector<std::int64_t>& p) {
    std::vector<std::int64_t> q(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) q[static_cast<std::size_t>(p[i])] = static_cast<std::int64_t>(i);
    return q;
}

// The model's outputs for B clouds, M inputs per cloud: the cloud itself,
// its K moved copies, then the +h and -h steps along each of the G generators.
struct Outputs {
    h5::Array<double> y;
    std::size_t B = 0, K = 0, G = 0, M = 0, per = 0;  // per: values of one output
    std::vector<double> block(std::size_t cloud, std::size_t input) const { return block_of(y, cloud * M + input, per); }
};

std::vector<Points> model_inputs(const std::vector<Points>& clouds, const std::vector<Element>& elements,
                                 const std::vector<Transform>& lie_plus, const std::vector<Transform>& lie_minus,
                                 std::size_t M) {
    std::vector<Points> inputs;
    inputs.reserve(clouds.size() * M);
    for (std::size_t b = 0; b < clouds.size(); ++b) {
        inputs.push_back(clouds[b]);
        for (auto& e : elements) inputs.push_back(act(e, clouds[b], b));
        for (std::size_t q = 0; q < lie_plus.size(); ++q) {
            Element ep, em;
            ep.t = lie_plus[q];
            em.t = lie_minus[q];
            inputs.push_back(act(ep, clouds[b], b));
            inputs.push_back(act(em, clouds[b], b));
        }
    }
    return inputs;
}

// The model's shape against the inputs; per-point outputs need a row per point.
void check_outputs(Outputs& out, EvalReport& r, const std::vector<Points>& clouds, bool per_point) {
    const auto& y = out.y;
    if (y.rank() == 0 || y.shape[0] != out.B * out.M)
        throw Error("model returned shape " + shape_string(y.shape) + " for " + std::to_string(out.B * out.M) + " clouds");
    r.output_shape.assign(y.shape.begin() + 1, y.shape.end());
    out.per = y.data.size() / (out.B * out.M);
    if (out.per == 0) throw Error("model output is empty (shape " + shape_string(y.shape) + ")");
    if (per_point)
        for (std::size_t b = 0; b < out.B; ++b)
            if (r.output_shape.empty() || r.output_shape[0] != static_cast<std::size_t>(clouds[b].rows()))
                throw Error("per-point outputs: the model's per-cloud output " + shape_string(r.output_shape) +
                            " has no row per point (cloud " + std::to_string(b) + " has " +
                            std::to_string(clouds[b].rows()) + " points)");
}

// Compares f(g x) with rho(g) f(x) for every cloud and element: the error
// matrices, failures, label consistency and explanation cosines of r. Returns
// the aligned outputs rho(g)^-1 f(g x) (f(x) first, per cloud) for the
// normalized variance.
std::vector<std::vector<double>> compare_elements(const Outputs& out, EvalReport& r, const std::vector<Points>& clouds,
                                                  const EvalOptions& opt, bool per_point) {
    const std::size_t B = out.B, K = out.K, per = out.per;
    r.abs_max.setZero(B, K);
    r.abs_mean.setZero(B, K);
    r.rel.setZero(B, K);
    if (opt.type == OutputType::labels) r.consistent.setZero(B, K);
    if (opt.type == OutputType::explanation) {
        r.explanation_inv.setZero(B, K);
        r.explanation_equiv.setZero(B, K);
    }
    double mean_norm = 0;
    for (std::size_t b = 0; b < B; ++b) mean_norm += norm2(out.block(b, 0)) / static_cast<double>(B);

    std::vector<std::vector<double>> aligned(B * (K + 1));
    for (std::size_t b = 0; b < B; ++b) {
        const std::vector<double> y0 = out.block(b, 0);
        aligned[b * (K + 1)] = y0;
        for (std::size_t k = 0; k < K; ++k) {
            const Element& e = r.elements[k];
            std::vector<std::int64_t> perm;
            const bool perm_used = per_point && e.permute;
            if (perm_used) perm = e.permutation(b, clouds[b].rows());
            std::vector<double> expected = y0;
            move_output(opt.type, e.t, perm_used ? &perm : nullptr, expected, r.output_shape);
            const std::vector<double> yk = out.block(b, 1 + k);
            double amax = 0, asum = 0, d2 = 0;
            for (std::size_t j = 0; j < per; ++j) {
                const double d = std::abs(yk[j] - expected[j]);
                amax = std::max(amax, d);
                asum += d;
                d2 += d * d;
            }
            const double en = norm2(expected);
            const double denom = en > 0 ? en : mean_norm;
            if (std::sqrt(d2) > opt.tolerance * en + opt.atol) r.failures++;
            r.abs_max(b, k) = amax;
            r.abs_mean(b, k) = asum / static_cast<double>(per);
            r.rel(b, k) = denom > 0 ? std::sqrt(d2) / denom : std::sqrt(d2);
            if (opt.type == OutputType::labels) r.consistent(b, k) = label_of(yk) == label_of(y0) ? 1.0 : 0.0;
            if (opt.type == OutputType::explanation) {
                // Crabbe and van der Schaar: Inv = cos(e(g x), e(x)), Equiv = cos(e(g x), rho'(g) e(x)).
                r.explanation_inv(b, k) = cosine(yk, y0);
                r.explanation_equiv(b, k) = cosine(yk, expected);
            }
            std::vector<double> al = yk;
            if (opt.type != OutputType::invariant && opt.type != OutputType::labels) {
                std::vector<std::int64_t> inv;
                if (perm_used) inv = invert_perm(perm);
                move_output(opt.type, e.t.inverse(), perm_used ? &inv : nullptr, al, r.output_shape);
            } else if (perm_used) {
                std::vector<std::int64_t> inv = invert_perm(perm);
                move_output(opt.type, Transform::Identity(), &inv, al, r.output_shape);
            }
            aligned[b * (K + 1) + 1 + k] = std::move(al);
        }
    }
    return aligned;
}

// The variance of the aligned outputs over the group over their variance
// across clouds; -1 when the clouds' outputs do not spread (fewer than 2
// clouds, or copies of one shape).
double normalized_variance(const std::vector<std::vector<double>>& aligned, std::size_t B, std::size_t K,
                           std::size_t per, const EvalOptions& opt) {
    double var_t = 0, var_s = 0;
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t j = 0; j < per; ++j) {
            double m = 0, m2 = 0;
            for (std::size_t k = 0; k <= K; ++k) {
                const double v = aligned[b * (K + 1) + k][j];
                m += v;
                m2 += v * v;
            }
            m /= static_cast<double>(K + 1);
            var_t += std::max(0.0, m2 / static_cast<double>(K + 1) - m * m);
        }
    var_t /= static_cast<double>(B * per);
    if (B < 2) return -1;
    double sq = 0;  // mean square of the outputs, to tell "identical clouds" from real spread
    for (std::size_t j = 0; j < per; ++j) {
        double m = 0, m2 = 0;
        for (std::size_t b = 0; b < B; ++b) {
            const double v = aligned[b * (K + 1)][j];
            m += v;
            m2 += v * v;
        }
        m /= static_cast<double>(B);
        var_s += std::max(0.0, m2 / static_cast<double>(B) - m * m);
        sq += m2 / static_cast<double>(B);
    }
    var_s /= static_cast<double>(per);
    sq /= static_cast<double>(per);
    // Outputs that vary across clouds no more than the verdict's tolerance
    // allows (copies of one shape, in any pose) leave the ratio undefined:
    // it would divide rounding noise by rounding noise.
    const double spread_floor = opt.tolerance * std::sqrt(sq) + opt.atol;
    return var_s > spread_floor * spread_floor ? var_t / var_s : -1;
}

// Central differences (f(exp(h X) x) moved back - f(exp(-h X) x) moved back) / 2h per generator.
std::vector<LieStat> lie_derivatives(const Outputs& out, const std::vector<Generator>& gens, const std::vector<Transform>& lie_plus,
                                     const std::vector<Transform>& lie_minus, double h, const EvalOptions& opt,
                                     const std::vector<std::size_t>& output_shape) {
    std::vector<LieStat> lie;
    for (std::size_t q = 0; q < out.G; ++q) {
        LieStat s;
        s.name = gens[q].name;
        for (std::size_t b = 0; b < out.B; ++b) {
            std::vector<double> yp = out.block(b, 1 + out.K + 2 * q);
            std::vector<double> ym = out.block(b, 2 + out.K + 2 * q);
            move_output(opt.type, lie_minus[q], nullptr, yp, output_shape);
            move_output(opt.type, lie_plus[q], nullptr, ym, output_shape);
            double n2 = 0;
            for (std::size_t j = 0; j < out.per; ++j) {
                const double d = (yp[j] - ym[j]) / (2 * h);
                n2 += d * d;
            }
            s.per_cloud.push_back(std::sqrt(n2));
        }
        s.mean = Eigen::Map<const Vector>(s.per_cloud.data(), static_cast<Eigen::Index>(out.B)).mean();
        s.max = *std::max_element(s.per_cloud.begin(), s.per_cloud.end());
        lie.push_back(std::move(s));
    }
    return lie;
}

// The breakdown axis: how large each element is (rotation angle, translation, log scale or its index).
void breakdown_axis(const Group& g, EvalReport& r) {
    if (g.rotates()) r.magnitude_name = "rotation angle (deg)";
    else if (g.has(Factor::T3)) r.magnitude_name = "translation";
    else if (g.has(Factor::scaling)) r.magnitude_name = "log scale";
    else r.magnitude_name = "element";
    for (std::size_t k = 0; k < r.elements.size(); ++k) {
        const Element& e = r.elements[k];
        r.magnitude.push_back(g.rotates() ? e.angle_deg
                              : g.has(Factor::T3) ? e.translation
                              : g.has(Factor::scaling) ? e.log_scale
                                                       : static_cast<double>(k));
    }
}

}  // namespace

EvalReport evaluate(Model& model, const Group& g, const std::vector<Points>& clouds, const EvalOptions& opt) {
    if (clouds.empty()) throw Error("evaluate: no clouds");
    if (!opt.exhaustive && opt.samples < 1) throw UsageError("evaluate: at least 1 sample per cloud is needed, found " + std::to_string(opt.samples));
    if (!(opt.lie_step > 0)) throw UsageError("evaluate: the Lie derivative step must be positive");
    EvalReport r;
    r.group = g.name;
    r.model = model.describe();
    r.output_type = output_type_name(opt.type);
    r.tolerance = opt.tolerance;
    r.atol = opt.atol;
    if (opt.exhaustive) {
        r.elements = enumerate(g);
    } else {
        for (int k = 0; k < opt.samples; ++k) r.elements.push_back(sample(g, opt.seed, static_cast<std::uint64_t>(k)));
    }
    const std::vector<Generator> gens = opt.lie && opt.type != OutputType::labels ? generators(g) : std::vector<Generator>{};
    Outputs out;
    out.B = clouds.size();
    out.K = r.elements.size();
    out.G = gens.size();
    out.M = 1 + out.K + 2 * out.G;
    const double h = opt.lie_step;
    std::vector<Transform> lie_plus(out.G), lie_minus(out.G);
    for (std::size_t q = 0; q < out.G; ++q) {
        lie_plus[q] = gens[q].exp(h);
        lie_minus[q] = gens[q].exp(-h);
    }
    {
        const std::vector<Points> inputs = model_inputs(clouds, r.elements, lie_plus, lie_minus, out.M);
        out.y = model.evaluate(inputs);
        r.evaluations = static_cast<std::int64_t>(inputs.size());
    }
    // Attributions belong to the points, so they follow the permutations.
    const bool per_point = opt.per_point || opt.type == OutputType::explanation;
    check_outputs(out, r, clouds, per_point);

    const std::vector<std::vector<double>> aligned = compare_elements(out, r, clouds, opt, per_point);
    r.max_abs = r.abs_max.maxCoeff();
    r.mean_abs = r.abs_mean.mean();
    r.max_rel = r.rel.maxCoeff();
    r.mean_rel = r.rel.mean();
    if (opt.type == OutputType::labels) r.consistency = r.consistent.mean();
    if (opt.type == OutputType::explanation) {
        r.explanation_invariance = r.explanation_inv.mean();
        r.explanation_equivariance = r.explanation_equiv.mean();
    }
    if (const double nv = normalized_variance(aligned, out.B, out.K, out.per, opt); nv >= 0) r.normalized_variance = nv;
    r.lie = lie_derivatives(out, gens, lie_plus, lie_minus, h, opt, r.output_shape);
    breakdown_axis(g, r);
    r.passed = opt.type == OutputType::labels ? r.consistency >= 1.0 : r.failures == 0;
    return r;
}

nlohmann::json EvalReport::json() const {
    nlohmann::json j;
    j["group"] = group;
    j["model"] = model;
    j["output_type"] = output_type;
    j["output_shape"] = output_shape;
    j["clouds"] = abs_max.rows();
    j["elements"] = elements.size();
    j["evaluations"] = evaluations;
    j["max_abs_error"] = max_abs;
    j["mean_abs_error"] = mean_abs;
    j["max_rel_error"] = max_rel;
    j["mean_rel_error"] = mean_rel;
    if (consistency >= 0) j["consistency"] = consistency;
    if (output_type == "explanation") {
        j["explanation_invariance"] = explanation_invariance;
        j["explanation_equivariance"] = explanation_equivariance;
    }
    j["normalized_variance"] = normalized_variance >= 0 ? nlohmann::json(normalized_variance) : nlohmann::json(nullptr);
    nlohmann::json lj = nlohmann::json::object();
    for (auto& s : lie) lj[s.name] = {{"mean", s.mean}, {"max", s.max}};
    j["lie_derivative"] = lj;
    j["tolerance"] = tolerance;
    j["atol"] = atol;
    j["failing_pairs"] = failures;
    const bool equi = output_type != "invariant" && output_type != "labels" && output_type != "explanation";
    j["verdict"] = passed ? (equi ? "equivariant" : "invariant") : (equi ? "not equivariant" : "not invariant");
    j["passed"] = passed;
    // The worst elements, for a quick look.
    nlohmann::json worst = nlohmann::json::array();
    std::vector<std::size_t> order(elements.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    const Vector per_elem = abs_max.colwise().maxCoeff();
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return per_elem[static_cast<Eigen::Index>(a)] > per_elem[static_cast<Eigen::Index>(b)]; });
    for (std::size_t i = 0; i < std::min<std::size_t>(3, order.size()); ++i) {
        const auto k = order[i];
        worst.push_back({{"element", elements[k].label}, {magnitude_name, magnitude[k]},
                         {"max_abs_error", per_elem[static_cast<Eigen::Index>(k)]}});
    }
    j["worst_elements"] = worst;
    return j;
}

}  // namespace orbit::invariance
