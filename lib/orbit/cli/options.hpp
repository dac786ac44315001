#pragma once
// Option groups and value checks declared once for every tool.
//
// The library reports what is wrong with a value ("expected K/N such as 2/8,
// found 'x'"); these helpers attach the option's name, so every message reads
// "orbit-<tool>: error: --shard: expected ..." and exits 2 during parsing,
// before any work starts.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orbit/core/error.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/pointset.hpp"

namespace orbit::cli {

// The long name of a CLI11 option list such as "-m,--method" ("--method").
std::string long_name(const std::string& names);

// Declares an option whose text becomes a value of T through `parse` (the
// library's own parser, so the accepted spellings live in one place). A parse
// error becomes a usage error naming the option; `name` shows the default.
template <class T>
CLI::Option* add_parsed(CLI::App& app, const std::string& names, T& target,
                        std::function<T(const std::string&)> parse, const std::string& description,
                        std::function<std::string(const T&)> name = {}) {
    const std::string flag = long_name(names);
    CLI::Option* opt = app.add_option_function<std::string>(
        names,
        [&target, parse, flag](const std::string& text) {
            try {
                target = parse(text);
            } catch (const CLI::Error&) {
                throw;
            } catch (const std::exception& e) {
                throw CLI::ValidationError(flag, e.what());
            }
        },
        description);
    opt->type_name("TEXT");
    if (name) opt->default_str(name(target));
    return opt;
}

// The values an option accepts, when it takes one of a fixed set (for shell
// completion): recorded by the table form of add_enum below.
void declare_choices(const CLI::Option* opt, std::vector<std::string> values);
const std::vector<std::string>* declared_choices(const CLI::Option* opt);

// One enum option: a string-to-enum parser from the library plus its naming
// function (the default is shown in --help and the man page).
template <class E>
CLI::Option* add_enum(CLI::App& app, const std::string& names, E& target, E (*parse)(const std::string&),
                      std::string (*name)(E), const std::string& description) {
    return add_parsed<E>(app, names, target, parse, description, [name](const E& e) { return name(e); });
}

// One enum option from a table of spellings, for choices that live in the tool.
template <class E>
CLI::Option* add_enum(CLI::App& app, const std::string& names, E& target,
                      const std::vector<std::pair<std::string, E>>& table, const std::string& description) {
    auto parse = [table](const std::string& text) {
        for (auto& [spelling, value] : table)
            if (spelling == text) return value;
        std::string all;
        for (auto& [spelling, value] : table) all += (all.empty() ? "" : ", ") + spelling;
        throw UsageError("expected one of " + all + ", found '" + text + "'");
    };
    auto name = [table](const E& e) {
        for (auto& [spelling, value] : table)
            if (value == e) return spelling;
        return std::string();
    };
    CLI::Option* opt = add_parsed<E>(app, names, target, parse, description, name);
    std::vector<std::string> spellings;
    for (auto& [spelling, value] : table) spellings.push_back(spelling);
    declare_choices(opt, spellings);
    return opt;
}

// Runs fn(); a usage error it throws about a value comes back naming the
// option ("--group: unknown factor 'x'"), for values that can only be parsed
// once other options are known.
template <class Fn>
auto for_option(const std::string& flag, Fn&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const UsageError& e) {
        throw UsageError(flag + ": " + e.what());
    }
}

// Number checks that refuse NaN and infinity and print their bounds briefly
// ("value 2 is not in [0, 1]"), with the same names in --help as CLI11's own.
CLI::Validator in_range(double lo, double hi, bool lo_open = false);
CLI::Validator above(double lo);          // finite and > lo
extern const CLI::Validator NonNegative;  // finite and >= 0
extern const CLI::Validator Positive;     // finite and > 0
// A check of one number by a predicate, failing with `what` ("must lie in
// (0,1), found 2"); CLI11 prefixes the option's name. For conditions the
// range checks above cannot say, such as "positive or inf".
CLI::Validator value_check(const char* what, bool (*ok)(double));
// A number as the user would write it: %g with up to 12 significant digits.
std::string format_number(double v);

// Throws Error("out of memory: WHAT needs X GiB, this machine has Y GiB")
// when `bytes` exceed the physical memory: checked before the work starts.
void check_fits_in_memory(double bytes, const std::string& what);

// A 4x4 transform as four JSON rows, for --json summaries.
nlohmann::json matrix_json(const Transform& t);

// Exactly `count` comma-separated finite numbers ("10,0,0"); throws UsageError
// describing the value.
std::vector<double> parse_numbers(const std::string& text, std::size_t count);
// A random-rotation bound: degrees in [0,360], or "uniform" (also "so3") for uniform on SO(3), returned as -1.
double parse_rotation_bound(const std::string& text);

// --shard K/N: a contiguous slice of a batch, for job arrays. The shard is
// always recorded on the output (shard_index, shard_count, shard_items,
// shard_total_items), so orbit-merge can join the slices.
class ShardOption {
public:
    // Declares --shard on `app`.
    void declare(CLI::App& app, const std::string& description);
    bool given() const { return shard_.has_value(); }
    // The shard asked for (1/1 without --shard).
    io::Shard shard() const { return shard_.value_or(io::Shard{}); }
    // The items [begin, end) of `total` this run processes; throws when the slice is empty.
    std::pair<std::int64_t, std::int64_t> items(std::int64_t total) const;
    // Records the slice of `total` items on the root of `file` when --shard was given.
    void record(h5::File& file, std::int64_t total) const;

private:
    std::optional<io::Shard> shard_;
};

// --ode, --steps, --rtol, --atol for tools that integrate a flow. `Ode` is a
// struct with fields method, steps, rtol and atol (flows::OdeOptions); the
// method's parser and names come from the library.
template <class Ode, class Method>
void add_ode_options(CLI::App& app, Ode& ode, Method (*parse)(const std::string&), std::string (*name)(Method),
                     const std::string& methods) {
    add_enum(app, "--ode", ode.method, parse, name, "Integrator for flow matching: " + methods);
    app.add_option("--steps", ode.steps, "Steps of the fixed-step integrators")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    app.add_option("--rtol", ode.rtol, "Relative tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--atol", ode.atol, "Absolute tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
}

// A picture to write: a .png, .svg or .pdf name (plot::check_path) in an
// existing folder, checked when the options are parsed, before any work.
extern const CLI::Validator PicturePath;

}  // namespace orbit::cli
