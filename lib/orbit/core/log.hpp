#pragma once
// Leveled messages on stderr. The command-line shell sets the level from
// -q/--quiet and -v/--verbose; library code only calls the functions.
#include <string>

namespace orbit::log {

enum class Level { quiet = 0, normal = 1, verbose = 2 };

void set_level(Level level);
Level level();
// Prefix printed before every message, such as "orbit-register".
void set_program(const std::string& name);
const std::string& program();

void info(const std::string& message);     // shown unless --quiet
void detail(const std::string& message);   // shown with --verbose only
void warn(const std::string& message);     // shown unless --quiet, prefixed "warning:"

}  // namespace orbit::log
