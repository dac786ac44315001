#pragma once
// Scanning the text formats (PLY ascii, OFF, XYZ, CSV, PCD headers): lines,
// tokens and numbers, with the line numbers errors name.
#include <charconv>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "orbit/core/types.hpp"

namespace orbit::io::formats {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Parses a whole token (a leading '+' allowed); false when it is not a number.
// Inline: the ascii readers call these once per value.
template <class T>
inline bool parse_number(std::string_view tok, T& v) {
    const char* b = tok.data();
    const char* e = b + tok.size();
    if (b != e && *b == '+') ++b;
    if (b == e) return false;
    auto r = std::from_chars(b, e, v);
    return r.ec == std::errc() && r.ptr == e;
}
inline bool parse_double(std::string_view tok, double& v) { return parse_number(tok, v); }
inline bool parse_int(std::string_view tok, long long& v) { return parse_number(tok, v); }

// Splits a line on whitespace.
void split_ws(std::string_view line, std::vector<std::string_view>& out);
std::string_view trim(std::string_view s);

// Iterates over lines, counting them (1-based) for messages.
struct Lines {
    const char* p;
    const char* end;
    std::size_t line = 0;
    Lines(const char* b, const char* e) : p(b), end(e) {}
    bool next(std::string_view& out) {
        if (p >= end) return false;
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* stop = nl ? nl : end;
        out = std::string_view(p, static_cast<std::size_t>(stop - p));
        if (!out.empty() && out.back() == '\r') out.remove_suffix(1);
        p = nl ? nl + 1 : end;
        ++line;
        return true;
    }
};

// Reads one token at a time from whitespace-separated text, counting lines.
struct Tokens {
    const char* p;
    const char* end;
    std::size_t line;
    bool next(std::string_view& tok) {
        while (p < end && (is_space(*p) || *p == '\n')) {
            if (*p == '\n') ++line;
            ++p;
        }
        if (p >= end) return false;
        const char* s = p;
        while (p < end && !is_space(*p) && *p != '\n') ++p;
        tok = std::string_view(s, static_cast<std::size_t>(p - s));
        return true;
    }
};

// A token for a message: at most 40 characters, unprintable ones as '?'.
std::string quote(std::string_view s);
// "PATH, line N: "
std::string at_line(const std::string& path, std::size_t line);
// A finite number, or an error naming the line.
double finite_number(std::string_view tok, const std::string& path, std::size_t line);

// Writes a text table atomically (CSV, XYZ, OFF, PCD ascii): `head`, then one
// line per row of `table` followed by the same row of `more` (when it has as
// many rows), values separated by `sep` in the shortest form that reads back to
// the same double, then `tail`.
void write_text_rows(const std::string& path, const std::string& head, const Points& table, const Points& more, char sep,
                     const std::string& tail = "");

}  // namespace orbit::io::formats
