#pragma once
// Binary values of the binary formats (PLY, NPY, PCD): element kinds, loads
// in either byte order, and gathering fields of fixed-size records.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace orbit::io::formats {

enum class Kind { i8, u8, i16, u16, i32, u32, i64, u64, f32, f64 };

inline std::size_t kind_size(Kind k) {
    switch (k) {
        case Kind::i8: case Kind::u8: return 1;
        case Kind::i16: case Kind::u16: return 2;
        case Kind::i32: case Kind::u32: case Kind::f32: return 4;
        default: return 8;
    }
}

inline bool is_float_kind(Kind k) { return k == Kind::f32 || k == Kind::f64; }
inline bool host_little() { return std::endian::native == std::endian::little; }

template <class T>
inline T load(const char* p, bool swap) {
    T v;
    if (swap) {
        char b[sizeof(T)];
        for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = p[sizeof(T) - 1 - i];
        std::memcpy(&v, b, sizeof(T));
    } else {
        std::memcpy(&v, p, sizeof(T));
    }
    return v;
}

inline double load_value(const char* p, Kind k, bool swap) {
    switch (k) {
        case Kind::i8: return static_cast<double>(static_cast<std::int8_t>(*p));
        case Kind::u8: return static_cast<double>(static_cast<std::uint8_t>(*p));
        case Kind::i16: return load<std::int16_t>(p, swap);
        case Kind::u16: return load<std::uint16_t>(p, swap);
        case Kind::i32: return load<std::int32_t>(p, swap);
        case Kind::u32: return load<std::uint32_t>(p, swap);
        case Kind::i64: return static_cast<double>(load<std::int64_t>(p, swap));
        case Kind::u64: return static_cast<double>(load<std::uint64_t>(p, swap));
        case Kind::f32: return load<float>(p, swap);
        case Kind::f64: return load<double>(p, swap);
    }
    return 0;
}

inline std::int64_t load_integer(const char* p, Kind k, bool swap) {
    switch (k) {
        case Kind::i8: return static_cast<std::int8_t>(*p);
        case Kind::u8: return static_cast<std::uint8_t>(*p);
        case Kind::i16: return load<std::int16_t>(p, swap);
        case Kind::u16: return load<std::uint16_t>(p, swap);
        case Kind::i32: return load<std::int32_t>(p, swap);
        case Kind::u32: return load<std::uint32_t>(p, swap);
        case Kind::i64: return load<std::int64_t>(p, swap);
        case Kind::u64: return static_cast<std::int64_t>(load<std::uint64_t>(p, swap));
        case Kind::f32: return static_cast<std::int64_t>(load<float>(p, swap));
        case Kind::f64: return static_cast<std::int64_t>(load<double>(p, swap));
    }
    return 0;
}

// Fields of fixed-size records: field j is `kinds[j]` at byte `offs[j]` of each record.
struct Fields {
    std::vector<std::size_t> offs;
    std::vector<Kind> kinds;
    std::size_t size() const { return offs.size(); }
    // Fields [first, first + count).
    Fields slice(std::size_t first, std::size_t count) const {
        return {{offs.begin() + first, offs.begin() + first + count}, {kinds.begin() + first, kinds.begin() + first + count}};
    }
};

// The common case (all float or all double): plain loads.
template <class T>
void gather_fields(const char* base, std::size_t stride, std::size_t count, const std::vector<std::size_t>& offs,
                   bool swap, double* out, std::size_t out_stride) {
    const std::size_t k = offs.size();
    for (std::size_t r = 0; r < count; ++r) {
        const char* rec = base + r * stride;
        double* o = out + r * out_stride;
        for (std::size_t j = 0; j < k; ++j) o[j] = static_cast<double>(load<T>(rec + offs[j], swap));
    }
}

// Gathers the fields of `count` records of `stride` bytes into rows of `out`
// (`out_stride` doubles apart), converted to double.
inline void gather(const char* base, std::size_t stride, std::size_t count, const Fields& f, bool swap, double* out,
                   std::size_t out_stride) {
    const auto& kinds = f.kinds;
    bool same = std::all_of(kinds.begin(), kinds.end(), [&](Kind k) { return k == kinds[0]; });
    if (same && kinds[0] == Kind::f32) return gather_fields<float>(base, stride, count, f.offs, swap, out, out_stride);
    if (same && kinds[0] == Kind::f64) return gather_fields<double>(base, stride, count, f.offs, swap, out, out_stride);
    for (std::size_t r = 0; r < count; ++r) {
        const char* rec = base + r * stride;
        for (std::size_t j = 0; j < f.size(); ++j) out[r * out_stride + j] = load_value(rec + f.offs[j], kinds[j], swap);
    }
}

}  // namespace orbit::io::formats
