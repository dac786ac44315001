#pragma once
// Data-parallel training steps that give the bits of one process.
//
// A trainer that cuts each global batch into fixed shards (by batch size,
// never by thread or rank count), records each shard on its own tape and adds
// the shards' gradients into the parameters in shard order gets the same bits
// for any -j. Over R ranks the same holds: each rank records the shards of
// its share, the shards' gradient contributions travel by allgatherv (in the
// gradients' own precision, so exactly) and every rank adds all of them in
// shard order, then takes the same optimizer step. So the model depends on
// the global batch and the seed, not on R (nor on -j inside a rank).
//
// Tape is any tape with add_param_grads() (adds its gradients into the
// parameters' .grad); Param has Eigen matrices .value and .grad.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "orbit/core/parallel.hpp"
#include "orbit/distributed/communicator.hpp"

namespace orbit::distributed {

namespace detail {

// After every rank recorded the shards of its share `mine`: the shards'
// gradient contributions and scalars travel by allgatherv, and every rank adds
// them in shard order onto zero. Returns the sum of the shards' first values.
template <class Tape, class Param>
double exchange_shards(std::vector<Tape>& tapes, const std::vector<Param*>& params, std::vector<double>& values,
                       const Share& mine) {
    // Gradients travel in their own precision (float32 ones as floats: half
    // the bytes of doubles, and exact); the shards' scalars as doubles, apart.
    using G = typename std::decay_t<decltype(std::declval<Param&>().grad)>::Scalar;
    static_assert(std::is_same_v<G, float> || std::is_same_v<G, double>, "exchange_shards: float or double gradients");
    const int shards = static_cast<int>(tapes.size());
    const std::int64_t stride = shards > 0 ? std::int64_t(values.size()) / shards : 0;
    std::int64_t width = 0;
    for (const Param* p : params) width += p->value.size();
    // Each owned shard's contribution, added onto zero as in one process.
    std::vector<G> all(std::size_t(shards * width));
    G* local = all.data() + mine.begin * width;  // in place: this rank's share sits at its offset
    for (std::int64_t k = mine.begin; k < mine.end; ++k) {
        for (Param* p : params) p->zero_grad();
        tapes[std::size_t(k)].add_param_grads();
        G* out = all.data() + k * width;
        for (const Param* p : params) out = std::copy(p->grad.data(), p->grad.data() + p->grad.size(), out);
    }
    std::vector<std::int64_t> counts, value_counts;
    for (int r = 0; r < size(); ++r) {
        const std::int64_t n = share(shards, r, size()).size();
        counts.push_back(n * width);
        value_counts.push_back(n * stride);
    }
    allgatherv(local, all.data(), counts);
    if (stride > 0) allgatherv(values.data() + mine.begin * stride, values.data(), value_counts);
    for (Param* p : params) p->zero_grad();
    double total = 0;
    for (int k = 0; k < shards; ++k) {
        const G* in = all.data() + std::int64_t(k) * width;
        for (Param* p : params) {
            G* g = p->grad.data();
            for (Eigen::Index t = 0; t < p->grad.size(); ++t) g[t] += in[t];
            in += p->grad.size();
        }
        if (stride > 0) total += values[std::size_t(k * stride)];
    }
    return total;
}

}  // namespace detail

// record(k) records shard k on tapes[k] (its backward pass done, parameter
// gradients not yet added) and fills values[k * stride .. (k+1) * stride)
// with the shard's scalars (its loss terms), stride = values.size() /
// tapes.size(). On return, every rank's parameters hold the sum of all
// shards' gradients added in shard order onto zero, and values holds every
// shard's scalars; returns the sum of the shards' first values, in shard order.
// An exception in record() on any rank is thrown on every rank (agree()).
template <class Tape, class Param>
double sum_shards(std::vector<Tape>& tapes, const std::vector<Param*>& params, std::vector<double>& values,
                  const std::function<void(int)>& record) {
    const Share mine = share(std::int64_t(tapes.size()), rank(), size());
    collectively([&] {
        for (std::int64_t k = mine.begin; k < mine.end; ++k) record(int(k));
    });
    return detail::exchange_shards(tapes, params, values, mine);
}

// The step of trainers that record one tape per item of a batch on threads
// (record(k) safe to call concurrently for different k; it fills values[k],
// a struct of doubles such as a trainer's loss terms) and add the tapes'
// gradients in item order. One process: parallel_for over the items, then
// each tape's add_param_grads() in order, exactly as such a trainer does by
// itself. Several ranks: each records the items of its share on its threads
// and sum_shards' exchange follows, so the gradients and values are the same
// on every rank for any P. An exception in record() is thrown (the lowest
// item's; on every rank).
template <class Tape, class Param, class Values>
void record_shards(std::vector<Tape>& tapes, const std::vector<Param*>& params, std::vector<Values>& values,
                   const std::function<void(std::int64_t)>& record) {
    static_assert(std::is_trivially_copyable_v<Values> && sizeof(Values) % sizeof(double) == 0,
                  "record_shards: Values must be a plain struct of doubles");
    const std::int64_t n = std::int64_t(tapes.size());
    const Share mine = share(n, rank(), size());
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
    collectively([&] {
        parallel_for(mine.size(), [&](std::int64_t i) {
            try {
                record(mine.begin + i);
            } catch (...) {
                errors[std::size_t(mine.begin + i)] = std::current_exception();
            }
        });
        for (const auto& e : errors)
            if (e) std::rethrow_exception(e);
    });
    if (!several()) {
        for (auto& t : tapes) t.add_param_grads();
        return;
    }
    constexpr std::size_t kWords = sizeof(Values) / sizeof(double);
    std::vector<double> flat(values.size() * kWords);
    if (!flat.empty()) std::memcpy(flat.data(), values.data(), flat.size() * sizeof(double));
    detail::exchange_shards(tapes, params, flat, mine);
    if (!flat.empty()) std::memcpy(values.data(), flat.data(), flat.size() * sizeof(double));
}

}  // namespace orbit::distributed
