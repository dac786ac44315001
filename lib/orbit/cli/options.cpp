#include "orbit/cli/options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>

#include <unistd.h>

#include "orbit/core/error.hpp"
#include "orbit/io/plot.hpp"

namespace orbit::cli {
namespace {

// Parses a whole token as a double. Underflow (1e-400) is the nearest double,
// zero or subnormal; overflow is infinite. Returns false for text that is not a number.
bool to_double(const std::string& text, double& out) {
    if (text.empty()) return false;
    errno = 0;
    char* end = nullptr;
    out = std::strtod(text.c_str(), &end);
    return end == text.c_str() + text.size();
}

// The check shared by the number validators: an error message, or "" when `text` is a finite number in [lo, hi].
std::string check_number(const std::string& text, double lo, double hi, bool lo_open) {
    double v = 0;
    if (!to_double(text, v)) return "expected a number, found '" + text + "'";
    if (!std::isfinite(v)) return "expected a finite number, found '" + text + "'";
    const bool below = lo_open ? !(v > lo) : v < lo;
    if (below || v > hi) {
        if (hi == std::numeric_limits<double>::max())
            return "expected a number " + std::string(lo_open ? "> " : ">= ") + format_number(lo) + ", found " + text;
        return "expected a number in " + std::string(lo_open ? "(" : "[") + format_number(lo) + ", " +
               format_number(hi) + "], found " + text;
    }
    return {};
}

CLI::Validator number_validator(double lo, double hi, bool lo_open, const std::string& description) {
    CLI::Validator v([lo, hi, lo_open](std::string& text) { return check_number(text, lo, hi, lo_open); },
                     description);
    return v;
}

}  // namespace

CLI::Validator value_check(const char* what, bool (*ok)(double)) {
    auto check = [=](std::string& text) -> std::string {
        double v = 0;
        return !CLI::detail::lexical_cast(text, v) ? "expected a number, found " + text : ok(v) ? "" : what + (", found " + text);
    };
    return CLI::Validator(check, "", what);
}

std::string format_number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.12g", v);
    return buf;
}

CLI::Validator in_range(double lo, double hi, bool lo_open) {
    std::ostringstream d;
    if (lo_open) d << "in (" << lo << "," << hi << "]";
    else d << "FLOAT in [" << lo << " - " << hi << "]";  // as CLI::Range describes itself in --help
    return number_validator(lo, hi, lo_open, d.str());
}

void check_fits_in_memory(double bytes, const std::string& what) {
    const double pages = static_cast<double>(sysconf(_SC_PHYS_PAGES)), page = static_cast<double>(sysconf(_SC_PAGESIZE));
    const double have = pages * page;
    if (pages > 0 && page > 0 && bytes > have) {
        char buf[128];
        std::snprintf(buf, sizeof buf, " needs %.4g GiB, this machine has %.4g GiB", bytes / 1073741824.0, have / 1073741824.0);
        throw Error("out of memory: " + what + buf);
    }
}

CLI::Validator above(double lo) { return number_validator(lo, std::numeric_limits<double>::max(), true, ""); }

const CLI::Validator NonNegative = number_validator(0.0, std::numeric_limits<double>::max(), false, "NONNEGATIVE");
const CLI::Validator Positive = number_validator(0.0, std::numeric_limits<double>::max(), true, "POSITIVE");

std::string long_name(const std::string& names) {
    std::stringstream s(names);
    std::string item, best;
    while (std::getline(s, item, ','))
        if (best.empty() || item.rfind("--", 0) == 0) best = item;
    return best;
}

nlohmann::json matrix_json(const Transform& t) {
    nlohmann::json rows = nlohmann::json::array();
    for (int r = 0; r < 4; ++r) rows.push_back({t(r, 0), t(r, 1), t(r, 2), t(r, 3)});
    return rows;
}

double parse_rotation_bound(const std::string& text) {
    if (text == "uniform" || text == "so3") return -1;
    const double deg = parse_numbers(text, 1)[0];
    if (deg < 0 || deg > 360) throw UsageError("expected degrees in [0,360] or 'uniform', found '" + text + "'");
    return deg;
}

std::vector<double> parse_numbers(const std::string& text, std::size_t count) {
    std::vector<double> v;
    std::stringstream s(text);
    std::string item;
    const std::string expected = "expected " + std::to_string(count) + " comma-separated numbers";
    while (std::getline(s, item, ',')) {
        double x = 0;
        if (!to_double(item, x)) throw UsageError(expected + ", found '" + text + "'");
        if (!std::isfinite(x)) throw UsageError(expected + ", found the non-finite value '" + item + "'");
        v.push_back(x);
    }
    if (v.size() != count || (!text.empty() && text.back() == ','))
        throw UsageError(expected + ", found '" + text + "'");
    return v;
}

void ShardOption::declare(CLI::App& app, const std::string& description) {
    add_parsed<std::optional<io::Shard>>(
        app, "--shard", shard_, [](const std::string& text) { return std::optional(io::parse_shard(text)); },
        description);
}

std::pair<std::int64_t, std::int64_t> ShardOption::items(std::int64_t total) const {
    return io::shard_items(shard(), total);
}

void ShardOption::record(h5::File& file, std::int64_t total) const {
    if (shard_) io::write_shard_info(file, *shard_, total);
}

const CLI::Validator PicturePath(
    [](std::string& path) -> std::string {
        try {
            plot::check_path(path);
        } catch (const UsageError& e) {
            return e.what();
        }
        const auto dir = std::filesystem::path(path).parent_path();
        if (!dir.empty() && !std::filesystem::is_directory(dir)) return "'" + path + "': no folder " + dir.string();
        return {};
    },
    "PICTURE", "PicturePath");

namespace {
std::map<const CLI::Option*, std::vector<std::string>>& choice_table() {
    static std::map<const CLI::Option*, std::vector<std::string>> table;
    return table;
}
}  // namespace

void declare_choices(const CLI::Option* opt, std::vector<std::string> values) { choice_table()[opt] = std::move(values); }

const std::vector<std::string>* declared_choices(const CLI::Option* opt) {
    auto it = choice_table().find(opt);
    return it == choice_table().end() ? nullptr : &it->second;
}

}  // namespace orbit::cli
