#pragma once
// Option declarations the flow tools share (header only: included by the
// tools, which link CLI11 through the command-line shell).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "orbit/flows/ode.hpp"

namespace orbit::flows {

// --ode, --steps, --rtol, --atol into o (the method as a name in `method`; parse_ode_method after parsing).
inline void add_flow_ode_options(CLI::App& c, OdeOptions& o, std::string& method) {
    c.add_option("--ode", method, "Integrator for flow matching: euler, midpoint, rk4 or dopri5")
        ->check(CLI::IsMember({"euler", "midpoint", "rk4", "dopri5"}))->capture_default_str();
    c.add_option("--steps", o.steps, "Steps of the fixed-step integrators")->check(CLI::Range(1, 1000000))->capture_default_str();
    c.add_option("--rtol", o.rtol, "Relative tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
    c.add_option("--atol", o.atol, "Absolute tolerance of dopri5")->check(CLI::PositiveNumber)->capture_default_str();
}

// A picture to write: a .png or .svg name in an existing folder, checked when
// the options are parsed, before any work.
inline const CLI::Validator PicturePath(
    [](std::string& path) -> std::string {
        const std::filesystem::path p(path);
        const std::string ext = p.extension().string();
        if (ext != ".png" && ext != ".svg") return "'" + path + "': expected a .png or .svg name";
        const auto dir = p.parent_path();
        if (!dir.empty() && !std::filesystem::is_directory(dir)) return "'" + path + "': no folder " + dir.string();
        return {};
    },
    "PICTURE", "PicturePath");

}  // namespace orbit::flows
