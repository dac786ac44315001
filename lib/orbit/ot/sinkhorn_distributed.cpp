#include "orbit/ot/sinkhorn_distributed.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "orbit/distributed/communicator.hpp"

namespace orbit::ot::detail {
namespace {

using Index = Eigen::Index;
namespace mp = orbit::distributed;

// Shares aligned to the point kernels' output block keep each output's summation order.
constexpr Index kShareAlign = kOutputBlock;

class RowColumnSplitKernel final : public CostKernel {
public:
    RowColumnSplitKernel(const Points& x, const Points& y, const CostSpec& c, const KernelMaker& make)
        : x_(x), y_(y), n_(x.rows()), m_(y.rows()), c_(c) {
        const int P = mp::size(), r = mp::rank();
        for (int side = 0; side < 2; ++side) {
            const Index n = side == 0 ? x.rows() : y.rows();
            for (int q = 0; q < P; ++q) counts_[side].push_back(mp::share(n, q, P, kShareAlign).size());
            share_[side] = mp::share(n, r, P, kShareAlign);
        }
        mp::collectively([&] {
            // One kernel over all pairs whose passes can be restricted to a
            // share (the CPU point kernels): one copy of the points per rank.
            whole_ = make(x, y);
            if (whole_->part_passes()) return;
            // Otherwise (the GPU's kernel): rows of this rank's share against
            // all of y, all of x against its columns.
            whole_.reset();
            row_ = make(x.middleRows(share_[0].begin, share_[0].size()), y);
            col_ = make(x, y.middleRows(share_[1].begin, share_[1].size()));
        });
        name_ = whole_ ? whole_->name() : row_->name();
    }

    Index n() const override { return n_; }
    Index m() const override { return m_; }
    std::string name() const override { return name_; }
    bool owns_points() const override { return whole_ && whole_->owns_points(); }

    // diameter^p of the union's bounding box, as the point kernels compute it.
    double max_cost() const override {
        if (whole_) return whole_->max_cost();
        double diam2 = 0;
        for (Index d = 0; d < x_.cols(); ++d) {
            const double lo = std::min(x_.col(d).minCoeff(), y_.col(d).minCoeff());
            const double hi = std::max(x_.col(d).maxCoeff(), y_.col(d).maxCoeff());
            diam2 += (hi - lo) * (hi - lo);
        }
        return (c_.half ? 0.5 : 1.0) * (c_.p == 1 ? std::sqrt(diam2) : diam2);
    }

    // The costs of one output, in the point kernels' arithmetic (for the
    // exact redo of outputs the fast pass cannot resolve, and for plans).
    void costs(int side, Index k, double* out) const override {
        if (whole_) return whole_->costs(side, k, out);
        const Points& A = side == 0 ? x_ : y_;
        const Points& B = side == 0 ? y_ : x_;
        const Index nb = B.rows();
        for (Index l = 0; l < nb; ++l) out[l] = 0;
        for (Index d = 0; d < A.cols(); ++d) {
            const double a = A(k, d);
            for (Index l = 0; l < nb; ++l) out[l] += (a - B(l, d)) * (a - B(l, d));
        }
        const double scale = c_.half ? 0.5 : 1.0;
        for (Index l = 0; l < nb; ++l) out[l] = scale * (c_.p == 1 ? std::sqrt(out[l]) : out[l]);
    }

    void sums(int side, const double* h, const double* shift, double inv_eps, double* s, double* w) const override {
        const mp::Share& mine = share_[side];
        if (whole_) {  // this rank's outputs in place, then everyone's
            mp::collectively([&] { whole_->sums_part(side, mine.begin, mine.end, h, shift, inv_eps, s, w); });
            mp::allgatherv(s + mine.begin, s, counts_[side]);
            if (w) mp::allgatherv(w + mine.begin, w, counts_[side]);
            return;
        }
        std::vector<double> ls(std::size_t(mine.size())), lw(w ? std::size_t(mine.size()) : 0);
        mp::collectively([&] {
            const CostKernel& K = side == 0 ? *row_ : *col_;
            K.sums(side, h, shift + mine.begin, inv_eps, ls.data(), w ? lw.data() : nullptr);
        });
        mp::allgatherv(ls.data(), s, counts_[side]);
        if (w) mp::allgatherv(lw.data(), w, counts_[side]);
    }

    bool lse(int side, const double* h, const double* shift, double inv_eps, double* out) const override {
        if (whole_) return false;  // the CPU kernels take the shifted fast pass
        const mp::Share& mine = share_[side];
        std::vector<double> local(std::size_t(mine.size()));
        bool ok = false;
        mp::collectively([&] {
            const CostKernel& K = side == 0 ? *row_ : *col_;
            ok = K.lse(side, h, shift + mine.begin, inv_eps, local.data());
        });
        if (!ok) return false;  // the same kernel type on every rank: all agree
        mp::allgatherv(local.data(), out, counts_[side]);
        return true;
    }

private:
    // Read only without whole_ (the caller may release the points otherwise).
    const Points& x_;
    const Points& y_;
    Index n_, m_;
    CostSpec c_;
    mp::Share share_[2];
    std::vector<std::int64_t> counts_[2];
    std::unique_ptr<CostKernel> whole_, row_, col_;
    std::string name_;
};

}  // namespace

std::unique_ptr<CostKernel> distributed_point_kernel(const Points& x, const Points& y, const CostSpec& c,
                                                     bool distributed, const KernelMaker& make) {
    const int P = mp::size();
    const bool split = distributed && P > 1 && (x.rows() + kShareAlign - 1) / kShareAlign >= P &&
                       (y.rows() + kShareAlign - 1) / kShareAlign >= P;
    if (!split) return make(x, y);
    return std::make_unique<RowColumnSplitKernel>(x, y, c, make);
}

}  // namespace orbit::ot::detail
