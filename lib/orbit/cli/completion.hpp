#pragma once
// Shell completion scripts made from a tool's option declarations, the same
// declarations that give --help and the man page, so completions never drift.
//
//   orbit-<tool> --help-completion bash   a bash completion function
//   orbit-<tool> --help-completion zsh    a zsh #compdef file
//
// Option names complete after '-'; options whose values are one of a declared
// set (CLI::IsMember, enum options) complete those values; options that take
// a file, and positional arguments, complete file names.
#include <CLI/CLI.hpp>
#include <string>

namespace orbit::cli {

std::string bash_completion(const CLI::App& app, const std::string& program);
std::string zsh_completion(const CLI::App& app, const std::string& program);

}  // namespace orbit::cli
