#pragma once
// Internal: Sinkhorn between point sets over the ranks of an MPI run.
//
// Every rank holds both point sets (N*D and M*D numbers: small next to the
// N*M pairs) and the same potentials. A pass over the pairs is split: for
// the f-update (side 0) each rank sums the rows of its share against all
// columns, for the g-update (side 1) the columns of its share against all
// rows, with the kernel the single-process solve would use (blocked SIMD,
// OpenMP inside the rank); the shares' sums are then exchanged with one
// allgatherv per pass. Shares start at multiples of the kernels' output block,
// so every sum is formed in the same order as in one process: the potentials,
// and with them every result, have the same bits for any number of ranks.
// The solver itself (detail::solve, solve_partial) runs unchanged on every
// rank, which keeps balanced, unbalanced, partial transport, divergences,
// epsilon scaling and over-relaxation distributed alike.
#include <functional>
#include <memory>

#include "orbit/ot/kernels.hpp"
#include "orbit/ot/sinkhorn.hpp"

namespace orbit::ot::detail {

// Builds the kernel of one process for points x, y (the precision and device
// choice of the caller).
using KernelMaker = std::function<std::unique_ptr<CostKernel>(const Points& x, const Points& y)>;

// make(x, y), unless `distributed` is set and the run has several ranks with
// at least one output block each on both sides: then a kernel whose passes
// are split over the ranks as described above. x and y must outlive it.
// Every rank must call this, and then the solver, with the same inputs.
std::unique_ptr<CostKernel> distributed_point_kernel(const Points& x, const Points& y, const CostSpec& c,
                                                     bool distributed, const KernelMaker& make);

}  // namespace orbit::ot::detail
