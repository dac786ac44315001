#include "orbit/cli/config_keys.hpp"

#include <algorithm>
#include <vector>

namespace orbit::cli {
namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string unknown_config_key(const CLI::App& app, const std::string& item) {
    auto dot = item.rfind('.');
    if (dot != std::string::npos)
        return "unknown section '" + item.substr(0, dot) + "' (key '" + item.substr(dot + 1) +
               "'): options go at the top level, without sections";
    std::string dashed = item;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    std::string best;
    std::size_t best_distance = std::string::npos;
    for (const CLI::Option* opt : app.get_options()) {
        if (!opt->get_configurable()) continue;
        for (const std::string& name : opt->get_lnames()) {
            std::size_t d = edit_distance(dashed, name);
            if (d < best_distance) {
                best_distance = d;
                best = name;
            }
        }
    }
    std::string message = "unknown key '" + item + "'";
    if (dashed == best) return message + " (write it with dashes: '" + best + "')";
    if (!best.empty() && best_distance <= std::max<std::size_t>(2, dashed.size() / 3))
        return message + " (did you mean '" + best + "'?)";
    return message + " (keys are the long option names of --help)";
}

}  // namespace orbit::cli
