#include "orbit/io/merge.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace orbit::io {
namespace {

struct ShardFile {
    h5::File file;
    std::int64_t index = 0, count = 0, items = 0, total = 0;
    std::int64_t ragged_rows = -1;  // offsets.back() when the file holds ragged point sets
};

template <class T>
void concat(std::vector<ShardFile>& shards, const std::string& path, const std::vector<std::int64_t>& axis0,
            Output& out) {
    h5::Array<T> all;
    for (std::size_t s = 0; s < shards.size(); ++s) {
        h5::Array<T> a = shards[s].file.read<T>(path);
        if (s == 0) {
            all.shape = a.shape;
            all.shape[0] = 0;
        }
        all.shape[0] += static_cast<std::size_t>(axis0[s]);
        all.data.insert(all.data.end(), a.data.begin(), a.data.end());
    }
    out.file().write(path, all);
}

template <class T>
void copy_identical(std::vector<ShardFile>& shards, const std::string& path, Output& out) {
    h5::Array<T> first = shards[0].file.read<T>(path);
    for (std::size_t s = 1; s < shards.size(); ++s) {
        h5::Array<T> a = shards[s].file.read<T>(path);
        if (a.shape != first.shape || a.data != first.data)
            throw Error(shards[s].file.name() + ":" + path + " differs from " + shards[0].file.name() +
                        " and is not a per-item dataset: these slices do not belong together");
    }
    out.file().write(path, first);
}

// Root attributes every output gets anew (Output::commit) or that describe one slice.
bool per_file(const std::string& object, const std::string& name) {
    static const std::set<std::string> names = {"orbit_format", "orbit_kind",  "orbit_version", "history",
                                                "shard_index",  "shard_count", "shard_items",   "shard_total_items"};
    return object == "/" && names.count(name) > 0;
}

// Copies one attribute with its stored type and shape.
void copy_attr(const h5::File& from, h5::File& to, const std::string& object, const std::string& name) {
    const std::string where = from.name() + ":" + object + ": attribute '" + name + "'";
    h5::Handle a(H5Aopen_by_name(from.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!a) throw Error(where + " cannot be opened");
    h5::Handle type(H5Aget_type(a.get()), H5Tclose), space(H5Aget_space(a.get()), H5Sclose);
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    std::vector<unsigned char> buf(H5Tget_size(type.get()) * static_cast<std::size_t>(std::max<hssize_t>(n, 1)));
    if (H5Aread(a.get(), type.get(), buf.data()) < 0) throw Error(where + " cannot be read");
    // Variable-length values (strings) were read into memory HDF5 allocated: hand it back on every
    // path (a no-op for fixed-size types).
    struct Reclaim {
        hid_t type, space;
        void* data;
        ~Reclaim() { H5Dvlen_reclaim(type, space, H5P_DEFAULT, data); }
    } reclaim{type.get(), space.get(), buf.data()};
    h5::Handle b(H5Acreate_by_name(to.id(), object.c_str(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                   H5P_DEFAULT, H5P_DEFAULT),
                 H5Aclose);
    if (!b || H5Awrite(b.get(), type.get(), buf.data()) < 0)
        throw Error(to.name() + ":" + object + ": cannot write attribute '" + name + "'");
}

// The attributes of `object` must be the same in every slice; they are copied once.
void carry_attrs(std::vector<ShardFile>& shards, const std::string& object, Output& out) {
    auto names = [&](const ShardFile& s) {
        std::vector<std::string> v;
        for (auto& a : s.file.attr_names(object))
            if (!per_file(object, a)) v.push_back(a);
        return v;
    };
    const std::vector<std::string> first = names(shards[0]);
    for (std::size_t s = 1; s < shards.size(); ++s) {
        const std::string here = shards[s].file.name() + ":" + object;
        if (names(shards[s]) != first)
            throw Error(here + " has other attributes than " + shards[0].file.name() +
                        ": these slices do not belong together");
        for (auto& a : first)
            if (shards[s].file.attr_any(object, a) != shards[0].file.attr_any(object, a))
                throw Error(here + ": attribute '" + a + "' differs from " + shards[0].file.name() +
                            ": these slices do not belong together");
    }
    for (auto& a : first) copy_attr(shards[0].file, out.file(), object, a);
}

template <class Fn>
void dispatch(h5::DType t, const std::string& where, Fn&& fn) {
    switch (t) {
        case h5::DType::f32: fn(float{}); break;
        case h5::DType::f64: fn(double{}); break;
        case h5::DType::i8: fn(std::int8_t{}); break;
        case h5::DType::u8: fn(std::uint8_t{}); break;
        case h5::DType::i16:
        case h5::DType::i32: fn(std::int32_t{}); break;
        case h5::DType::i64:
        case h5::DType::u16:
        case h5::DType::u32:
        case h5::DType::u64: fn(std::int64_t{}); break;
        default: throw Error(where + ": cannot merge a dataset of type " + h5::dtype_name(t));
    }
}

}  // namespace

MergeSummary merge_shards(const std::vector<std::string>& inputs, Output& output) {
    if (inputs.empty()) throw UsageError("no shard files given");
    std::vector<ShardFile> shards;
    for (auto& path : inputs) {
        ShardFile s;
        s.file = h5::File::open_read(path);
        for (const char* a : {"shard_index", "shard_count", "shard_items", "shard_total_items"})
            if (!s.file.has_attr("/", a))
                throw Error(path + ": not a shard (no '" + std::string(a) + "' attribute; was it written as one slice of a sharded run?)");
        s.index = s.file.attr_int("/", "shard_index");
        s.count = s.file.attr_int("/", "shard_count");
        s.items = s.file.attr_int("/", "shard_items");
        s.total = s.file.attr_int("/", "shard_total_items");
        if (s.file.exists("/offsets")) s.ragged_rows = s.file.read<std::int64_t>("/offsets", 1).data.back();
        shards.push_back(std::move(s));
    }
    std::sort(shards.begin(), shards.end(), [](auto& a, auto& b) { return a.index < b.index; });
    const std::int64_t count = shards[0].count, total = shards[0].total;
    std::set<std::int64_t> seen;
    std::int64_t items = 0;
    for (auto& s : shards) {
        if (s.count != count || s.total != total)
            throw Error(s.file.name() + " is slice " + std::to_string(s.index) + "/" + std::to_string(s.count) + " of " +
                        std::to_string(s.total) + " items, but " + shards[0].file.name() + " is of " +
                        std::to_string(count) + " slices of " + std::to_string(total) + " items");
        if (!seen.insert(s.index).second) throw Error("slice " + std::to_string(s.index) + " is given twice");
        items += s.items;
    }
    if (static_cast<std::int64_t>(seen.size()) != count) {
        std::string missing;
        for (std::int64_t k = 1; k <= count; ++k)
            if (!seen.count(k)) missing += (missing.empty() ? "" : ",") + std::to_string(k);
        throw Error("missing slices " + missing + " of " + std::to_string(count));
    }
    if (items != total) throw Error("the slices hold " + std::to_string(items) + " items, expected " + std::to_string(total));

    auto first = shards[0].file.list_datasets("/");
    for (auto& s : shards) {
        auto other = s.file.list_datasets("/");
        bool same = other.size() == first.size();
        for (std::size_t i = 0; same && i < first.size(); ++i) {
            same = other[i].path == first[i].path && other[i].dtype == first[i].dtype &&
                   other[i].shape.size() == first[i].shape.size() &&
                   std::equal(other[i].shape.begin() + (other[i].shape.empty() ? 0 : 1), other[i].shape.end(),
                              first[i].shape.begin() + (first[i].shape.empty() ? 0 : 1));
        }
        if (!same) throw Error(s.file.name() + " holds other datasets than " + shards[0].file.name());
    }

    for (auto& d : first) {
        std::vector<std::int64_t> axis0;
        bool per_item = !d.shape.empty() && d.path != "/offsets";
        for (auto& s : shards) {
            auto n = static_cast<std::int64_t>(s.file.info(d.path).shape.empty() ? -1 : s.file.info(d.path).shape[0]);
            bool matches = n == s.items || (s.ragged_rows >= 0 && n == s.ragged_rows);
            per_item = per_item && matches;
            axis0.push_back(n);
        }
        std::string where = shards[0].file.name() + ":" + d.path;
        dispatch(d.dtype, where, [&](auto tag) {
            using T = decltype(tag);
            if (per_item) concat<T>(shards, d.path, axis0, output);
            else if (d.path != "/offsets") copy_identical<T>(shards, d.path, output);
        });
    }
    if (shards[0].ragged_rows >= 0) {
        h5::Array<std::int64_t> off;
        off.data.push_back(0);
        for (auto& s : shards) {
            auto o = s.file.read<std::int64_t>("/offsets", 1);
            for (std::size_t i = 1; i < o.data.size(); ++i) off.data.push_back(off.data.back() + o.data[i] - o.data[i - 1]);
        }
        off.shape = {off.data.size()};
        output.file().write("/offsets", off);
    }
    // Attributes of the root, the groups and the datasets (how the slices were made, what flags mean).
    std::set<std::string> objects = {"/"};
    for (auto& d : first)
        for (auto slash = d.path.find('/', 1); slash != std::string::npos; slash = d.path.find('/', slash + 1))
            objects.insert(d.path.substr(0, slash));
    for (auto& d : first) objects.insert(d.path);
    for (auto& o : objects) carry_attrs(shards, o, output);
    // Histories: every distinct line, in shard order.
    std::vector<std::string> lines;
    std::set<std::string> have;
    for (auto& s : shards)
        for (auto& l : read_history(s.file))
            if (have.insert(l).second) lines.push_back(l);
    output.add_history_lines(lines);
    return {count, items, static_cast<std::int64_t>(first.size())};
}

}  // namespace orbit::io
