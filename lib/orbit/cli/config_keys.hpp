#pragma once
// Keys of --config files are long option names. A key that names no option is
// an error (a misspelled key would otherwise be ignored and the run would use
// the default): the message names the key and the closest option.
#include <CLI/CLI.hpp>
#include <string>

namespace orbit::cli {

// "unknown key 'metod' (did you mean 'method'?)" for the item CLI11 could not
// place ("metod", "max_iterations", "section.key").
std::string unknown_config_key(const CLI::App& app, const std::string& item);

}  // namespace orbit::cli
