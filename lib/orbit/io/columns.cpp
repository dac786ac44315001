#include "orbit/io/columns.hpp"

#include <algorithm>

#include "orbit/core/error.hpp"

namespace orbit::io {
namespace {

// An index in 0..cols-1 from "K" or "-K"; false when the text is not a whole number.
bool column_index(const std::string& t, std::size_t cols, long long& out) {
    if (t.empty() || t.find_first_not_of("-0123456789") != std::string::npos || t.find('-', 1) != std::string::npos ||
        t == "-" || t.size() > 12)
        return false;
    out = std::stoll(t);
    if (out < 0) out += static_cast<long long>(cols);
    return true;
}

std::string trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

std::vector<std::size_t> parse_columns(const std::string& spec, std::size_t cols, const std::vector<std::string>& names) {
    std::vector<std::size_t> out;
    const auto bad = [&](const std::string& what) {
        return UsageError("columns '" + spec + "': " + what + " (the table has " + std::to_string(cols) + " columns, 0.." +
                          std::to_string(cols - 1) + ")");
    };
    std::size_t start = 0;
    while (start <= spec.size()) {
        std::size_t comma = spec.find(',', start);
        if (comma == std::string::npos) comma = spec.size();
        const std::string item = trimmed(spec.substr(start, comma - start));
        start = comma + 1;
        if (item.empty()) throw bad("an empty entry");
        long long k;
        if (const auto colon = item.find(':'); colon != std::string::npos) {
            const std::string a = trimmed(item.substr(0, colon)), b = trimmed(item.substr(colon + 1));
            long long lo = 0, hi = static_cast<long long>(cols);
            if ((!a.empty() && !column_index(a, cols, lo)) || (!b.empty() && !column_index(b, cols, hi)))
                throw bad("expected a range A:B of column numbers, found '" + item + "'");
            if (lo < 0 || hi > static_cast<long long>(cols) || lo >= hi) throw bad("the range '" + item + "' holds no column of the table");
            for (long long c = lo; c < hi; ++c) out.push_back(static_cast<std::size_t>(c));
        } else if (column_index(item, cols, k)) {
            if (k < 0 || k >= static_cast<long long>(cols)) throw bad("column " + item + " is outside the table");
            out.push_back(static_cast<std::size_t>(k));
        } else {
            auto it = std::find(names.begin(), names.end(), item);
            if (it == names.end())
                throw bad(names.empty() ? "'" + item + "' is not a column number, and the table has no header of names"
                                        : "no column is named '" + item + "'");
            out.push_back(static_cast<std::size_t>(it - names.begin()));
        }
        if (comma == spec.size()) break;
    }
    return out;
}

void select_columns(PointSets& sets, std::vector<std::string>& names, const std::vector<std::size_t>& keep,
                    const std::vector<std::size_t>& label) {
    const std::size_t cols = static_cast<std::size_t>(sets[0].points.cols());
    if (keep.empty()) throw UsageError("no columns selected");
    for (std::size_t l : label)
        if (std::find(keep.begin(), keep.end(), l) != keep.end())
            throw UsageError("column " + std::to_string(l) + " is both a data column and the label column");
    for (auto& p : sets.items) {
        Points kept(p.points.rows(), static_cast<Eigen::Index>(keep.size()));
        for (std::size_t j = 0; j < keep.size(); ++j) kept.col(static_cast<Eigen::Index>(j)) = p.points.col(static_cast<Eigen::Index>(keep[j]));
        if (!label.empty()) {
            p.labels.resize(p.points.rows(), 1);
            p.labels.col(0) = p.points.col(static_cast<Eigen::Index>(label[0]));
        }
        bool same = keep.size() == cols;
        for (std::size_t j = 0; same && j < keep.size(); ++j) same = keep[j] == j;
        if (!same) p.normals.resize(0, 0);
        p.points = std::move(kept);
    }
    if (!label.empty()) {
        sets.labels = PointSets::Labels::per_point;
        sets.label_shape.clear();
    }
    if (names.size() == cols) {
        std::vector<std::string> n;
        for (std::size_t k : keep) n.push_back(names[k]);
        names = std::move(n);
    } else {
        names.clear();
    }
}

}  // namespace orbit::io
