#pragma once
// Error types shared by the library and the tools.
//
// Error       -> runtime or data problem, the tool exits with status 1.
// UsageError  -> the command line is wrong, the tool exits with status 2.
// Messages are one line and name the file, the dataset, what was expected
// and what was found, so a user can fix the input without a debugger.
#include <stdexcept>
#include <string>

namespace orbit {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

class UsageError : public Error {
public:
    explicit UsageError(const std::string& what) : Error(what) {}
};

// Throws Error(message) when cond is false. Cheap enough for input checks.
inline void require(bool cond, const std::string& message) {
    if (!cond) throw Error(message);
}

// Runs fn() and returns its result; a data error it throws comes back with
// "context: " in front (say, the input it was about). Usage errors pass unchanged.
template <class Fn>
auto with_context(const std::string& context, Fn&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const UsageError&) {
        throw;
    } catch (const Error& e) {
        throw Error(context + ": " + e.what());
    }
}

// Formats a shape such as [3,2048,3] for error messages.
template <class Container>
std::string shape_string(const Container& shape) {
    std::string s = "[";
    bool first = true;
    for (auto d : shape) {
        if (!first) s += ",";
        s += std::to_string(d);
        first = false;
    }
    return s + "]";
}

}  // namespace orbit
