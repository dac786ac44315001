#pragma once
// Stable ordering of values that hold fixed-size Eigen members (transforms).
//
// std::stable_sort's scratch buffer is allocated without the alignment those
// members need (a crash with AVX-512 builds), so these sort indices instead.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace orbit {

// `values` by decreasing key(value); equal keys keep their given order.
template <class T, class Key>
std::vector<T> stable_sorted_descending(const std::vector<T>& values, Key key) {
    std::vector<std::size_t> order(values.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(values[a]) > key(values[b]); });
    std::vector<T> sorted;
    sorted.reserve(values.size());
    for (std::size_t k : order) sorted.push_back(values[k]);
    return sorted;
}

}  // namespace orbit
