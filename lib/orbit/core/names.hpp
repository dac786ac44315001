#pragma once
// The spellings of an enum's values in one table, from which both its parser
// and its naming function read, so the two cannot disagree:
//
//   constexpr Spelling<Activation> kActivations[] = {{Activation::relu, "relu"}, {Activation::silu, "silu"},
//                                                    {Activation::silu, "swish"}};  // an alias: a later entry
//   Activation a = parse_spelling(kActivations, text, "unknown activation '" + text + "'");
//   spelling_of(kActivations, Activation::silu) == "silu"
#include <optional>
#include <string>
#include <string_view>

#include "orbit/core/error.hpp"

namespace orbit {

template <class E>
struct Spelling {
    E value;
    std::string_view name;
};

// The value spelled `text`, or nothing (the caller says what was expected).
template <class E, std::size_t N>
std::optional<E> find_spelling(const Spelling<E> (&table)[N], std::string_view text) {
    for (const Spelling<E>& s : table)
        if (s.name == text) return s.value;
    return std::nullopt;
}

// The value spelled `text`; UsageError(message) when the table has no such spelling.
template <class E, std::size_t N>
E parse_spelling(const Spelling<E> (&table)[N], std::string_view text, const std::string& message) {
    if (auto v = find_spelling(table, text)) return *v;
    throw UsageError(message);
}

// The first spelling of `value`; `fallback` for a value the table lacks.
template <class E, std::size_t N>
std::string spelling_of(const Spelling<E> (&table)[N], E value, std::string_view fallback = "?") {
    for (const Spelling<E>& s : table)
        if (s.value == value) return std::string(s.name);
    return std::string(fallback);
}

}  // namespace orbit
