#pragma once
// Internal: the Sinkhorn driver shared by the public entry points.
#include <memory>
#include <vector>

#include "orbit/ot/kernels.hpp"
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::ot::detail {

void validate(const SinkhornOptions& opt);
// NaN and -inf are refused; +inf entries are forbidden pairs, but every row
// and column needs one finite entry.
void check_forbidden_pairs(const Matrix& cost);
// eps values to visit: eps_start, eps_start*scaling, ... (> eps), then eps.
std::vector<double> eps_schedule(const SinkhornOptions& opt, double max_cost);
// Log-domain Sinkhorn on any cost kernel.
SinkhornResult solve(const CostKernel& K, const Vector& a, const Vector& b, const SinkhornOptions& opt);
// Kernel mode with absorption on a stored cost matrix.
SinkhornResult solve_kernel_mode(const Matrix& cost, const Vector& a, const Vector& b, const SinkhornOptions& opt);
// Plan totals, objectives and the reported marginal error at r.f, r.g.
void finish(const CostKernel& K, const Vector& a, const Vector& b, const SinkhornOptions& opt, double eps,
            SinkhornResult& r);
void extract_plan(const CostKernel& K, const Vector& a, const Vector& b, const SinkhornOptions& opt, double eps,
                  SinkhornResult& r);
// The result of an exact plan P for `cost` with potentials f, g and dual
// objective `dual`: cost = primal = <C,P>, marginals, the plan as opt.plan asks.
SinkhornResult exact_result(const Matrix& P, const Matrix& cost, Vector f, Vector g, double dual,
                            const SinkhornOptions& opt);
// Zero-weight points carry no mass: the passes' clamped exponentials leave
// ~1e-308 per pair there, which log terms would turn into inf. Zeroes
// rows[i] and wrows[i] where a_i <= 0, cols[j] where b_j <= 0.
void clear_unweighted(const Vector& a, const Vector& b, Vector& rows, Vector& wrows, Vector& cols);
// The GPU version of point_kernel; nullptr when CUDA is not built or no device
// is present (an error instead when `required`).
std::unique_ptr<CostKernel> cuda_point_kernel(const Points& x, const Points& y, int p, bool half, bool required);

}  // namespace orbit::ot::detail
