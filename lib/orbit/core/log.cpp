#include "orbit/core/log.hpp"

#include <cstdio>
#include <mutex>

namespace orbit::log {
namespace {
Level g_level = Level::normal;
std::string g_program = "orbit";
std::mutex g_mutex;

void emit(const std::string& prefix, const std::string& message) {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fprintf(stderr, "%s: %s%s\n", g_program.c_str(), prefix.c_str(), message.c_str());
}
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }
void set_program(const std::string& name) { g_program = name; }
const std::string& program() { return g_program; }

void info(const std::string& message) {
    if (g_level >= Level::normal) emit("", message);
}
void detail(const std::string& message) {
    if (g_level >= Level::verbose) emit("", message);
}
void warn(const std::string& message) {
    if (g_level >= Level::normal) emit("warning: ", message);
}

}  // namespace orbit::log
