#pragma once
// The papers the tools cite under "References:" in --help and in their man
// pages, each written once and named by a key, so a tool lists its methods
// in one line: app.add_references(cli::references({"nsf", "realnvp"})).
#include <initializer_list>
#include <string>
#include <string_view>

namespace orbit::cli {

// "label: citation" lines, one per key, in the order given (the block
// App::add_references takes). An unknown key is a programming error:
// std::logic_error naming it.
std::string references(std::initializer_list<std::string_view> keys);

}  // namespace orbit::cli
