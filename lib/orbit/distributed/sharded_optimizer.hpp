#pragma once
// Data-parallel steps whose optimizer work is split over the ranks (the first
// stage of ZeRO, Rajbhandari et al. 2020), with the bits of one process.
//
// The parameters are seen as one flat vector (FlatParams), cut into one
// contiguous slice per rank at multiples of kNormBlock elements; the cut
// depends on the parameter count and P only, not on the batch's shards. A
// step then runs as:
//
//   1. each rank records the shards of its share (as sum_shards does) and
//      adds each shard's parameter gradients straight into its send buffer,
//      cut by slice;
//   2. one alltoallv gives every rank, for its slice only, every shard's
//      contribution; it adds them in shard order onto zero, element by
//      element, so each element is the sum one process forms (a reduce-
//      scatter by hand: MPI_Reduce_scatter's order of addition is not
//      specified). Where all ranks share one node, the send buffers are
//      shared-memory segments instead (SharedSegments) and every rank reads
//      its slices straight from the others' buffers after one barrier: no
//      copy through the kernel, the same additions in the same order;
//   3. the gradient norm for clipping is summed over fixed blocks of
//      kNormBlock elements (block_squares): each rank sums the blocks of its
//      slice and every rank adds all block sums in block order, so the norm
//      has the same bits for any P (one process uses the same blocks). The
//      block sums travel in one allgatherv with the shards' values and each
//      rank's error flag: a failed record() is told to every rank there,
//      not by a collective of its own;
//   4. each rank clips and takes the Adam step on its slice only (Adam is
//      element-wise) and an allgatherv of the new values gives every rank
//      the whole model (on one node: each rank writes its slice to its
//      segment, and after a barrier copies the others' slices from theirs).
//
// The shared segments are double buffered (each call writes the half the
// previous call did not), so the barrier inside each call is all the
// ordering they need: a rank can only write a half again once every rank
// has passed the next call's barrier, that is, has finished reading it.
//
// So a step costs three collectives (gradients, values with block sums,
// parameters); each is a point where the ranks wait for each other.
//
// Only what a slice needs is computed per rank: the shard sum, the clipping
// and the Adam update are 1/P of one process's work instead of all of it,
// and the gradients travel once, cut by slice, instead of whole to everyone.
// Each rank keeps the full-size moments but brings only its slice's up to
// date; gather_state() completes them on every rank (before a checkpoint).
//
// Opt is an optimizer with params() (a list of Param*, each with Eigen
// matrices .value and .grad), step(lr, begin, end) over a flat slice and
// m(), v() (its moments, one matrix per parameter): nn::Adam.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/distributed/communicator.hpp"

namespace orbit::distributed {

// Flat elements per block of the gradient norm; slices start at multiples of it.
constexpr std::int64_t kNormBlock = 256;

// A parameter list as one flat vector: parameter i's elements, in storage
// order (data()), are the flat elements [offset(i), offset(i) + its size).
template <class Param>
class FlatParams {
public:
    explicit FlatParams(std::vector<Param*> params) : params_(std::move(params)) {
        offsets_.push_back(0);
        for (const Param* p : params_) offsets_.push_back(offsets_.back() + std::int64_t(p->value.size()));
    }
    std::int64_t width() const { return offsets_.back(); }
    const std::vector<Param*>& params() const { return params_; }
    std::int64_t offset(std::size_t i) const { return offsets_[i]; }
    // f(i, first, count, at) for each parameter i with elements in flat
    // [begin, end): its elements [first, first + count) are flat [at, at + count).
    template <class F>
    void pieces(std::int64_t begin, std::int64_t end, F&& f) const {
        for (std::size_t i = 0; i < params_.size(); ++i) {
            const std::int64_t lo = std::max(begin, offsets_[i]), hi = std::min(end, offsets_[i + 1]);
            if (lo < hi) f(i, lo - offsets_[i], hi - lo, lo);
        }
    }

private:
    std::vector<Param*> params_;
    std::vector<std::int64_t> offsets_;
};

// Sums of squares of the gradient over the blocks of flat [begin, end)
// (begin a multiple of kNormBlock; end one too, or the width): out[b] for
// the b-th block from begin. Each block sums in double over 8 lanes (element
// j of the block into lane j % 8, so the compiler may vectorize without
// reordering) and adds the lanes in a fixed tree: the bits of a block's sum
// do not depend on where its elements lie in the parameters or on P.
template <class Param>
void block_squares(const FlatParams<Param>& flat, std::int64_t begin, std::int64_t end, double* out) {
    using G = typename std::decay_t<decltype(std::declval<Param&>().grad)>::Scalar;
    require(begin % kNormBlock == 0 && begin <= end, "block_squares: a slice starts at a block boundary");
    G block[kNormBlock];
    std::fill(block, block + kNormBlock, G(0));  // a short last block: zeros add nothing
    std::int64_t b0 = begin;                     // the flat index of the block being filled
    auto close_block = [&] {
        double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (std::int64_t j = 0; j < kNormBlock; j += 8)
            for (int l = 0; l < 8; ++l) lane[l] += double(block[j + l]) * double(block[j + l]);
        *out++ = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        std::fill(block, block + kNormBlock, G(0));
        b0 += kNormBlock;
    };
    // One walk over the slice's pieces (a walk per block would scan the whole
    // parameter list once per block: most of the time of a large model's norm).
    flat.pieces(begin, end, [&](std::size_t i, std::int64_t first, std::int64_t count, std::int64_t at) {
        const G* g = flat.params()[i]->grad.data() + first;
        while (count > 0) {
            const std::int64_t off = at - b0, take = std::min(count, kNormBlock - off);
            std::copy(g, g + take, block + off);
            g += take, at += take, count -= take;
            if (at - b0 == kNormBlock) close_block();
        }
    });
    if (b0 < end) close_block();
}

// The blocks of flat [0, end) that cover [0, end).
inline std::int64_t norm_blocks(std::int64_t end) { return (end + kNormBlock - 1) / kNormBlock; }

// The global L2 norm of the gradients of one process's parameters, by the
// blocks of block_squares added in block order (what ShardedOptimizer
// computes over P ranks, for any P).
template <class Param>
double blocked_grad_norm(const std::vector<Param*>& params) {
    const FlatParams<Param> flat(params);
    std::vector<double> sq(std::size_t(norm_blocks(flat.width())));
    block_squares(flat, 0, flat.width(), sq.data());
    double total = 0;
    for (double s : sq) total += s;
    return std::sqrt(total);
}

template <class Opt>
class ShardedOptimizer {
    using Param = std::remove_pointer_t<typename std::decay_t<decltype(std::declval<Opt&>().params())>::value_type>;
    using T = typename std::decay_t<decltype(std::declval<Param&>().grad)>::Scalar;

public:
    // A collective under mpirun (it decides, with every rank, whether the ranks share memory).
    explicit ShardedOptimizer(Opt& opt)
        : opt_(opt), flat_(opt.params()), shared_(several() && SharedSegments::available()) {
        for (int r = 0; r < size(); ++r) slices_.push_back(share(flat_.width(), r, size(), kNormBlock));
        for (std::size_t i = 0; i < flat_.params().size(); ++i) index_[flat_.params()[i]] = i;
    }
    // Whether the exchanges go through shared memory (all ranks on one node).
    bool shared_memory() const { return shared_; }
    // This rank's slice of the flat parameters.
    const Share& mine() const { return slices_[std::size_t(rank())]; }
    const FlatParams<Param>& flat() const { return flat_; }

    struct Summed {
        double total = 0;  // the sum of the shards' first values, in shard order
        double norm = 0;   // the gradient norm before clipping (0 when max_norm <= 0: not computed)
    };
    // As distributed::sum_shards (record(k) records shard k on tapes[k] and
    // fills its values; values ends up holding every shard's values; an
    // exception in record() is thrown on every rank, the lowest rank's),
    // except that on return only this rank's slice of the parameters' grad
    // holds the sum of all shards' gradients (the rest is left as it was),
    // clipped as clip_grad_norm(max_norm) would when max_norm > 0. Tape has
    // for_param_grads(f) (nn::Tape).
    template <class Tape>
    Summed sum_shards(std::vector<Tape>& tapes, std::vector<double>& values, const std::function<void(int)>& record,
                      double max_norm = 0);

    // Scales this rank's slice of the gradients so that the global L2 norm
    // (blocked, the same bits on every rank and for any P) is at most
    // max_norm, as nn::clip_grad_norm does; returns the norm before. For
    // gradients summed otherwise (sum_shards clips in its own exchange).
    double clip_grad_norm(double max_norm);

    // The optimizer's step on this rank's slice, then every rank gets the new
    // values of every slice.
    void step(double lr) {
        opt_.step(lr, mine().begin, mine().end);
        gather_slices([&](std::size_t i) { return flat_.params()[i]->value.data(); });
    }

    // Brings every slice of the moments onto every rank, so that the
    // optimizer's state is that of one process (before it is saved).
    void gather_state() {
        gather_slices([&](std::size_t i) { return opt_.m()[i].data(); });
        gather_slices([&](std::size_t i) { return opt_.v()[i].data(); });
    }

private:
    Opt& opt_;
    FlatParams<Param> flat_;
    std::vector<Share> slices_;
    std::unordered_map<const Param*, std::size_t> index_;
    std::vector<T> send_, recv_, gathered_;  // kept between steps: no allocation per step
    std::vector<const T*> own_grads_;        // [own shard][parameter]: the tape's gradient, or null
    bool shared_ = false;                    // exchanges through shared segments (one node)
    SharedSegments grad_segments_, value_segments_;
    std::uint64_t grad_calls_ = 0, value_calls_ = 0;  // their halves alternate by call

    // Where rank q's send buffer puts its shards' gradients for each rank d:
    // at[d] (elements), at[P] the buffer's length; d = q takes none.
    std::vector<std::int64_t> send_layout(int q, std::int64_t shards) const {
        const Share theirs = share(shards, q, size());
        std::vector<std::int64_t> at{0};
        for (int d = 0; d < size(); ++d)
            at.push_back(at.back() + (d == q ? 0 : theirs.size() * slices_[std::size_t(d)].size()));
        return at;
    }

    // Every rank's slice of the matrices data(i) (one per parameter) onto every rank.
    template <class Data>
    void gather_slices(Data data);
    // Adds shard k's parameter gradients (tape) into the send buffer, cut by slice.
    template <class Tape>
    void add_to_send(const Tape& tape, std::int64_t k, const Share& own, const std::vector<std::int64_t>& base, T* send);
    // How many norm blocks rank r's slice holds (slices start at block boundaries).
    std::int64_t blocks_of(std::size_t r) const {
        const Share& s = slices_[r];
        return s.size() == 0 ? 0 : norm_blocks(s.end) - s.begin / kNormBlock;
    }
    // This rank's slice of the gradients: each element 0 + shard 0 + shard 1 + ...,
    // as one process adds the tapes onto zeroed gradients; own shards (own) are
    // read from their tapes (one without a gradient for a parameter is skipped,
    // as one process skips it), every other shard k from others[k], its
    // contribution to this rank's slice (received, or in its rank's segment).
    void sum_slice(const Share& own, const std::vector<const T*>& others);
    // Scales this rank's slice of the gradients so that their global norm is at most max_norm.
    void clip_mine(double norm, double max_norm);
};

template <class Opt>
template <class Tape>
void ShardedOptimizer<Opt>::add_to_send(const Tape& tape, std::int64_t k, const Share& own,
                                        const std::vector<std::int64_t>& base, T* send) {
    const std::size_t me = std::size_t(rank());
    tape.for_param_grads([&](const Param& p, const auto& grad) {
        static_assert(std::is_same_v<std::decay_t<decltype(grad)>, std::decay_t<decltype(p.grad)>>,
                      "sum_shards: a tape's gradients in the parameters' own layout");
        const auto found = index_.find(&p);
        require(found != index_.end(), "sum_shards: a tape's parameter is not the optimizer's");
        own_grads_[std::size_t(k - own.begin) * flat_.params().size() + found->second] = grad.data();
        const std::int64_t o = flat_.offset(found->second), n = grad.size();
        for (std::size_t d = 0; d < slices_.size(); ++d) {
            if (d == me) continue;  // this rank's own slice is read from the tape itself
            const Share& s = slices_[d];
            const std::int64_t lo = std::max(o, s.begin), hi = std::min(o + n, s.end);
            if (lo >= hi) continue;
            T* out = send + base[d] + (k - own.begin) * s.size() + (lo - s.begin);
            const T* in = grad.data() + (lo - o);
            std::copy(in, in + (hi - lo), out);
        }
    });
}

template <class Opt>
template <class Tape>
typename ShardedOptimizer<Opt>::Summed ShardedOptimizer<Opt>::sum_shards(std::vector<Tape>& tapes,
                                                                        std::vector<double>& values,
                                                                        const std::function<void(int)>& record,
                                                                        double max_norm) {
    const int P = size();
    const std::int64_t shards = std::int64_t(tapes.size());
    const std::int64_t stride = shards > 0 ? std::int64_t(values.size()) / shards : 0;
    const Share own = share(shards, rank(), P), me = mine();
    // Send buffer: for each other rank d in turn, slice d of each own shard's
    // gradient, in shard order (a parameter a tape has no gradient for: zeros).
    // On one node it is this rank's segment (the half of this call).
    std::vector<std::vector<std::int64_t>> layouts;  // every rank's send buffer, as send_layout gives it
    for (int q = 0; q < P; ++q) layouts.push_back(send_layout(q, shards));
    const std::vector<std::int64_t>& base = layouts[std::size_t(rank())];
    std::int64_t half = 0, offset = 0;  // shared: elements per half of a segment (the longest send buffer), this call's half
    T* send = nullptr;
    if (shared_) {
        for (const auto& l : layouts) half = std::max(half, l.back());
        grad_segments_.reserve(std::size_t(2 * half) * sizeof(T));
        offset = std::int64_t(grad_calls_++ % 2) * half;
        send = static_cast<T*>(grad_segments_.mine()) + offset;
        std::fill(send, send + base.back(), T(0));
    } else {
        send_.assign(std::size_t(base.back()), T(0));
        send = send_.data();
    }
    own_grads_.assign(std::size_t(own.size()) * flat_.params().size(), nullptr);
    // A failure is kept until the values' allgatherv, so that every rank still
    // takes part in the alltoallv (a failed rank sends what it has).
    std::exception_ptr failed;
    try {
        for (std::int64_t k = own.begin; k < own.end; ++k) record(int(k));
        for (std::int64_t k = own.begin; k < own.end; ++k) add_to_send(tapes[std::size_t(k)], k, own, base, send);
    } catch (...) {
        failed = std::current_exception();
    }
    // Every other shard's contribution to slice `me`: received in shard order, or in its rank's segment.
    std::vector<const T*> others(std::size_t(shards), nullptr);
    if (shared_) {
        grad_segments_.sync();
        for (int q = 0; q < P; ++q) {
            if (q == rank()) continue;
            const Share theirs = share(shards, q, P);
            const T* seg = static_cast<const T*>(grad_segments_.of(q)) + offset + layouts[std::size_t(q)][std::size_t(rank())];
            for (std::int64_t k = theirs.begin; k < theirs.end; ++k) others[std::size_t(k)] = seg + (k - theirs.begin) * me.size();
        }
        const double scale = sizeof(T) / 8.0;
        SharedSegments::count(scale * double(base.back()), scale * double((shards - own.size()) * me.size()));
    } else {
        std::vector<std::int64_t> send_counts, recv_counts;
        for (int d = 0; d < P; ++d) {
            send_counts.push_back(base[std::size_t(d) + 1] - base[std::size_t(d)]);
            recv_counts.push_back(d != rank() ? share(shards, d, P).size() * me.size() : 0);
        }
        recv_.resize(std::size_t((shards - own.size()) * me.size()));
        alltoallv(send, send_counts, recv_.data(), recv_counts);
        for (std::int64_t k = 0, r = 0; k < shards; ++k)
            if (k < own.begin || k >= own.end) others[std::size_t(k)] = recv_.data() + (r++) * me.size();
    }
    sum_slice(own, others);
    // One allgatherv: per rank, its shards' values, its error flag and (when
    // clipping) the block sums of its slice.
    const bool clip = max_norm > 0;
    std::vector<std::int64_t> counts, at{0};
    for (int d = 0; d < P; ++d) {
        counts.push_back(share(shards, d, P).size() * stride + 1 + (clip ? blocks_of(std::size_t(d)) : 0));
        at.push_back(at.back() + counts.back());
    }
    std::vector<double> all(std::size_t(at.back()));
    double* out = all.data() + at[std::size_t(rank())];
    std::copy(values.begin() + own.begin * stride, values.begin() + own.end * stride, out);
    out[own.size() * stride] = failed ? 1.0 : 0.0;
    if (clip) block_squares(flat_, me.begin, me.end, out + own.size() * stride + 1);
    allgatherv(out, all.data(), counts);
    double sq = 0;
    bool any_failed = false;
    for (int d = 0; d < P; ++d) {
        const Share theirs = share(shards, d, P);
        const double* in = all.data() + at[std::size_t(d)];
        std::copy(in, in + theirs.size() * stride, values.begin() + theirs.begin * stride);
        any_failed = any_failed || in[theirs.size() * stride] != 0.0;
        if (clip)  // rank order is block order: the blocks add in block order
            for (std::int64_t b = 0; b < blocks_of(std::size_t(d)); ++b) sq += in[theirs.size() * stride + 1 + b];
    }
    if (any_failed) agree(failed);  // every rank: throws the lowest failed rank's error
    Summed out_sum;
    for (std::int64_t k = 0; k < shards && stride > 0; ++k) out_sum.total += values[std::size_t(k * stride)];
    if (clip) {
        out_sum.norm = std::sqrt(sq);
        clip_mine(out_sum.norm, max_norm);
    }
    return out_sum;
}

template <class Opt>
void ShardedOptimizer<Opt>::sum_slice(const Share& own, const std::vector<const T*>& others) {
    const Share me = mine();
    const std::int64_t shards = std::int64_t(others.size());
    std::vector<const T*> from(static_cast<std::size_t>(shards), nullptr);
    flat_.pieces(me.begin, me.end, [&](std::size_t i, std::int64_t first, std::int64_t count, std::int64_t at) {
        for (std::int64_t k = 0; k < shards; ++k) {
            const bool local = k >= own.begin && k < own.end;
            const T* g = local ? own_grads_[std::size_t(k - own.begin) * flat_.params().size() + i] : nullptr;
            from[std::size_t(k)] = local ? (g ? g + first : nullptr) : others[std::size_t(k)] + (at - me.begin);
        }
        T* out = flat_.params()[i]->grad.data() + first;
        bool none = true;
        for (const T* f : from) {
            if (!f) continue;
            if (none)
                for (std::int64_t e = 0; e < count; ++e) out[e] = T(0) + f[e];  // 0 + a: what zeroed grads give (-0 -> +0)
            else
                for (std::int64_t e = 0; e < count; ++e) out[e] += f[e];
            none = false;
        }
        if (none) std::fill(out, out + count, T(0));
    });
}

template <class Opt>
double ShardedOptimizer<Opt>::clip_grad_norm(double max_norm) {
    std::vector<double> sq(std::size_t(norm_blocks(flat_.width())));
    std::vector<std::int64_t> counts;
    for (std::size_t r = 0; r < slices_.size(); ++r) counts.push_back(blocks_of(r));
    const Share me = mine();
    double* own = sq.data() + me.begin / kNormBlock;
    block_squares(flat_, me.begin, me.end, own);
    allgatherv(own, sq.data(), counts);
    double total = 0;
    for (double s : sq) total += s;
    const double norm = std::sqrt(total);
    clip_mine(norm, max_norm);
    return norm;
}

template <class Opt>
void ShardedOptimizer<Opt>::clip_mine(double norm, double max_norm) {
    if (!(max_norm > 0 && norm > max_norm)) return;
    const T f = T(max_norm / (norm + 1e-6));
    const Share me = mine();
    flat_.pieces(me.begin, me.end, [&](std::size_t i, std::int64_t first, std::int64_t count, std::int64_t) {
        T* g = flat_.params()[i]->grad.data() + first;
        for (std::int64_t e = 0; e < count; ++e) g[e] *= f;
    });
}

template <class Opt>
template <class Data>
void ShardedOptimizer<Opt>::gather_slices(Data data) {
    if (!several()) return;
    const Share me = mine();
    if (shared_) {  // this rank's slice into its segment; after the barrier, the others' from theirs
        std::int64_t half = 0;
        for (const Share& s : slices_) half = std::max(half, s.size());
        value_segments_.reserve(std::size_t(2 * half) * sizeof(T));
        const std::int64_t parity = std::int64_t(value_calls_++ % 2);
        T* out = static_cast<T*>(value_segments_.mine()) + parity * half;
        flat_.pieces(me.begin, me.end, [&](std::size_t i, std::int64_t first, std::int64_t count, std::int64_t at) {
            std::copy(data(i) + first, data(i) + first + count, out + (at - me.begin));
        });
        value_segments_.sync();
        for (std::size_t r = 0; r < slices_.size(); ++r) {
            if (int(r) == rank()) continue;
            const T* in = static_cast<const T*>(value_segments_.of(int(r))) + parity * half;
            flat_.pieces(slices_[r].begin, slices_[r].end,
                         [&](std::size_t i, std::int64_t first, std::int64_t count, std::int64_t at) {
                             std::copy(in + (at - slices_[r].begin), in + (at - slices_[r].begin) + count, data(i) + first);
                         });
        }
        const double scale = sizeof(T) / 8.0;
        SharedSegments::count(scale * double(me.size()), scale * double(flat_.width() - me.size()));
        return;
    }
    gathered_.resize(std::size_t(flat_.width()));
    flat_.pieces(me.begin, me.end, [&](std::size_t i, std::int64_t first, std::int64_t count, std::int64_t at) {
        const T* from = data(i) + first;
        std::copy(from, from + count, gathered_.data() + at);
    });
    std::vector<std::int64_t> counts;
    for (const Share& s : slices_) counts.push_back(s.size());
    allgatherv(gathered_.data() + me.begin, gathered_.data(), counts);  // in place
    for (std::size_t r = 0; r < slices_.size(); ++r) {
        if (int(r) == rank()) continue;
        flat_.pieces(slices_[r].begin, slices_[r].end,
                     [&](std::size_t i, std::int64_t first, std::int64_t count, std::int64_t at) {
                         std::copy(gathered_.data() + at, gathered_.data() + at + count, data(i) + first);
                     });
    }
}

}  // namespace orbit::distributed
