#include "orbit/io/formats/text.hpp"

#include <cctype>
#include <cmath>

#include "orbit/core/error.hpp"
#include "orbit/io/formats/bytes.hpp"

namespace orbit::io::formats {

void split_ws(std::string_view line, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0, n = line.size();
    while (i < n) {
        while (i < n && is_space(line[i])) ++i;
        if (i >= n) break;
        std::size_t j = i;
        while (j < n && !is_space(line[j])) ++j;
        out.push_back(line.substr(i, j - i));
        i = j;
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (is_space(s.back()) || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

std::string quote(std::string_view s) {
    std::string t(s.substr(0, 40));
    for (char& c : t)
        if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    return "'" + t + (s.size() > 40 ? "...'" : "'");
}

std::string at_line(const std::string& path, std::size_t line) { return path + ", line " + std::to_string(line) + ": "; }

double finite_number(std::string_view tok, const std::string& path, std::size_t line) {
    double v;
    if (!parse_double(tok, v)) throw Error(at_line(path, line) + "expected a number, found " + quote(tok));
    if (!std::isfinite(v))
        throw Error(at_line(path, line) + "value is " + (std::isnan(v) ? "NaN" : "infinite") + " (" + quote(tok) + ")");
    return v;
}

void write_text_rows(const std::string& path, const std::string& head, const Points& table, const Points& more, char sep,
                     const std::string& tail) {
    if (table.size() == 0) throw Error("cannot write '" + path + "': the table is empty");
    const bool with_more = more.rows() == table.rows() && more.cols() > 0;
    const Eigen::Index rows = table.rows(), cols = table.cols(), extra = with_more ? more.cols() : 0;
    write_atomic(path, [&](const Put& put) {
        put(head.data(), head.size());
        Chunks chunks(put);
        for (Eigen::Index i = 0; i < rows; ++i) {
            char* o = chunks.reserve(static_cast<std::size_t>(cols + extra) * 25 + 1);
            for (Eigen::Index j = 0; j < cols + extra; ++j) {
                if (j) *o++ = sep;
                // Shortest text that reads back to the same double.
                o = std::to_chars(o, o + 25, j < cols ? table(i, j) : more(i, j - cols)).ptr;
            }
            *o++ = '\n';
            chunks.commit(o);
        }
        chunks.flush();
        put(tail.data(), tail.size());
    });
}

}  // namespace orbit::io::formats
