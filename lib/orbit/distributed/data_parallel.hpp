#pragma once
// Data-parallel training steps that give the bits of one process.
//
// A trainer that cuts each global batch into fixed shards (by batch size,
// never by thread or rank count), records each shard on its own tape and adds
// the shards' gradients into the parameters in shard order gets the same bits
// for any -j. Over R ranks the same holds: each rank records the shards of
// its share, the shards' gradient contributions travel by allgatherv (as
// doubles: float32 gradients exactly), and every rank adds all of them in
// shard order, then takes the same optimizer step. So the model depends on
// the global batch and the seed, not on R (nor on -j inside a rank).
//
// Tape is any tape with add_param_grads() (adds its gradients into the
// parameters' .grad); Param has Eigen matrices .value and .grad.
#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "orbit/distributed/communicator.hpp"

namespace orbit::distributed {

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
    const int shards = static_cast<int>(tapes.size());
    const std::int64_t stride = shards > 0 ? std::int64_t(values.size()) / shards : 0;
    std::int64_t width = stride;
    for (const Param* p : params) width += p->value.size();
    const Share mine = share(shards, rank(), size());
    collectively([&] {
        for (std::int64_t k = mine.begin; k < mine.end; ++k) record(int(k));
    });
    // Each owned shard's contribution, added onto zero as in one process.
    std::vector<double> local(std::size_t(mine.size() * width));
    for (std::int64_t k = mine.begin; k < mine.end; ++k) {
        for (Param* p : params) p->zero_grad();
        tapes[std::size_t(k)].add_param_grads();
        double* out = local.data() + (k - mine.begin) * width;
        for (const Param* p : params)
            for (Eigen::Index t = 0; t < p->grad.size(); ++t) *out++ = double(p->grad.data()[t]);
        for (std::int64_t v = 0; v < stride; ++v) *out++ = values[std::size_t(k * stride + v)];
    }
    std::vector<std::int64_t> counts;
    for (int r = 0; r < size(); ++r) counts.push_back(share(shards, r, size()).size() * width);
    std::vector<double> all(std::size_t(shards * width));
    allgatherv(local.data(), all.data(), counts);
    for (Param* p : params) p->zero_grad();
    double total = 0;
    for (int k = 0; k < shards; ++k) {
        const double* in = all.data() + std::int64_t(k) * width;
        for (Param* p : params) {
            using T = typename std::decay_t<decltype(p->grad)>::Scalar;
            for (Eigen::Index t = 0; t < p->grad.size(); ++t) p->grad.data()[t] += T(in[t]);
            in += p->grad.size();
        }
        for (std::int64_t v = 0; v < stride; ++v) values[std::size_t(k * stride + v)] = in[v];
        if (stride > 0) total += in[0];
    }
    return total;
}

}  // namespace orbit::distributed
