#include "orbit/cli/app.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <new>
#include <sstream>

#include "orbit/cli/completion.hpp"
#include "orbit/cli/config_keys.hpp"
#include "orbit/core/error.hpp"
#include "orbit/core/guard.hpp"
#include "orbit/core/log.hpp"
#include "orbit/core/parallel.hpp"
#include "orbit/core/version.hpp"
#include "orbit/io/formats.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/output.hpp"

namespace orbit::cli {
namespace {

std::string roff_escape(const std::string& s) {
    std::string out;
    bool line_start = true;
    for (char c : s) {
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else if (line_start && (c == '.' || c == '\'')) out += "\\&" + std::string(1, c);
        else out += c;
        line_start = c == '\n';
    }
    return out;
}

// "-o,--output FILE" as shown in the man page.
std::string option_synopsis(const CLI::Option* opt) {
    if (opt->get_positional()) return opt->get_name();
    std::string names;
    for (auto& s : opt->get_snames()) names += (names.empty() ? "-" : ", -") + s;
    for (auto& l : opt->get_lnames()) names += (names.empty() ? "--" : ", --") + l;
    if (opt->get_type_size() != 0 && !opt->get_type_name().empty()) names += " " + opt->get_type_name();
    return names;
}

// Joins the lines of a paragraph with spaces; a blank line separates paragraphs.
std::string reflow(const std::string& text) {
    std::string out;
    std::size_t start = text.find_first_not_of('\n'), end = text.find_last_not_of('\n');
    if (start == std::string::npos) return "";
    for (std::size_t i = start; i <= end; ++i) {
        if (text[i] != '\n') {
            out += text[i];
        } else if (i + 1 <= end && text[i + 1] == '\n') {
            out += "\n\n";
            while (i + 1 <= end && text[i + 1] == '\n') ++i;
        } else {
            out += ' ';
        }
    }
    return out;
}

std::vector<std::string> lines_of(const std::string& block) {
    std::vector<std::string> lines;
    std::istringstream in(block);
    for (std::string line; std::getline(in, line);)
        if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
    return lines;
}

}  // namespace

const CLI::Validator ExistingFileOrStream(
    [](std::string& value) -> std::string {
        if (value == "-") return {};
        auto ref = h5::parse_ref(value);
        if (ref.file == "-") return {};
        std::error_code ec;
        if (!std::filesystem::exists(ref.file, ec)) return "no such file: " + ref.file;
        if (std::filesystem::is_directory(ref.file, ec)) return "is a directory: " + ref.file;
        return {};
    },
    "FILE|-", "ExistingFileOrStream");

App::App(const std::string& tool, const std::string& summary, const std::string& description, Uses uses)
    : tool_(tool),
      program_("orbit-" + tool),
      summary_line_(summary),
      description_(reflow(description)),
      app_(summary + (description_.empty() ? "" : "\n\n" + description_), "orbit-" + tool) {
    app_.set_version_flag("--version", std::string("orbit-") + tool + " " + ORBIT_VERSION);
    app_.set_config("--config", "", "Read options from a TOML or INI file (keys are long option names)");
    app_.allow_config_extras(CLI::config_extras_mode::error);
    if (has(uses, Uses::output))
        output_opt_ = app_.add_option("-o,--output", common_.output, "Output file (HDF5); '-' writes to stdout");
    if (has(uses, Uses::threads))
        app_.add_option("-j,--threads", common_.threads, "Worker threads (0: all cores)")
            ->check(CLI::Range(0, 4096))
            ->capture_default_str();
    if (has(uses, Uses::seed))
        app_.add_option("--seed", common_.seed, "Seed of all random streams; same seed, same result")
            ->check(CLI::Validator(
                [](std::string& text) {
                    // CLI11 would wrap "-1" around to 2^64 - 1.
                    if (text.find_first_not_of("0123456789") != std::string::npos || text.empty())
                        return "expected a whole number >= 0, found '" + text + "'";
                    return std::string();
                },
                ""))
            ->capture_default_str();
    auto* q = app_.add_flag("-q,--quiet", common_.quiet, "No progress or messages on stderr (errors still shown)");
    app_.add_flag("-v,--verbose", common_.verbose, "More detail on stderr")->excludes(q);
    app_.add_flag("--json", common_.json, "Print a machine-readable summary as JSON");
    app_.get_formatter()->column_width(32);
}

void App::require_output() {
    if (!output_opt_) throw std::logic_error(program_ + " requires -o but does not declare it");
    output_opt_->required();
}

void App::writes_point_set_formats() {
    if (!output_opt_) throw std::logic_error(program_ + " writes point sets but does not declare -o");
    point_set_output_ = true;
    output_opt_->description(
        "Output file, format by extension: .h5/.hdf5 (orbit point set), .ply, .off, .pcd, .xyz, .csv, .npy; '-' writes "
        "HDF5 to stdout");
}

void App::add_example(const std::string& command, const std::string& explanation) {
    examples_.emplace_back(command, explanation);
    update_footer();
}

void App::add_reference(const std::string& method, const std::string& citation) {
    references_.emplace_back(method, citation);
    update_footer();
}

void App::add_references(const std::string& block) {
    for (const std::string& line : lines_of(block)) {
        const auto colon = line.find(": ");
        if (colon == std::string::npos) throw std::logic_error("reference without 'METHOD: ': " + line);
        references_.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    }
    update_footer();
}

void App::add_examples(const std::string& block) {
    for (const std::string& line : lines_of(block)) {
        const auto text = line.find_first_not_of(" \t");
        if (text == 0) examples_.emplace_back(line, "");
        else if (examples_.empty()) throw std::logic_error("example explanation without a command: " + line);
        else examples_.back().second += (examples_.back().second.empty() ? "" : " ") + line.substr(text);
    }
    update_footer();
}

void App::update_footer() {
    std::string footer;
    if (!examples_.empty()) footer = "Examples:";
    for (auto& [c, e] : examples_) footer += "\n  " + c + "\n      " + e;
    if (!references_.empty()) footer += std::string(footer.empty() ? "" : "\n\n") + "References:";
    for (auto& [m, c] : references_) footer += "\n  " + m + ": " + c;
    app_.footer(footer);
}

std::string App::man_page() const {
    std::ostringstream m;
    std::string upper = program_;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    m << ".TH " << roff_escape(upper) << " 1 \"\" \"orbit " << ORBIT_VERSION << "\" \"Orbit manual\"\n";
    m << ".SH NAME\n" << roff_escape(program_) << " \\- " << roff_escape(summary_line_) << "\n";
    m << ".SH SYNOPSIS\n.B " << roff_escape(program_) << "\n[OPTIONS]";
    for (const CLI::Option* opt : app_.get_options())
        if (opt->get_positional()) m << " " << roff_escape(opt->get_name());
    m << "\n";
    if (!description_.empty()) m << ".SH DESCRIPTION\n" << roff_escape(description_) << "\n";
    m << ".SH OPTIONS\n";
    auto emit = [&](const CLI::Option* opt) {
        m << ".TP\n.B " << roff_escape(option_synopsis(opt)) << "\n" << roff_escape(opt->get_description());
        std::string def = opt->get_default_str();
        if (!def.empty()) m << " (default: " << roff_escape(def) << ")";
        if (opt->get_required()) m << " (required)";
        m << "\n";
    };
    for (const CLI::Option* opt : app_.get_options())
        if (opt->get_positional()) emit(opt);
    for (const CLI::Option* opt : app_.get_options([](const CLI::Option* o) { return !o->get_positional(); })) {
        if (opt->get_group().empty()) continue;  // hidden
        emit(opt);
    }
    m << ".TP\n.B \\-h, \\-\\-help\nPrint this help and exit\n";
    if (!examples_.empty()) {
        m << ".SH EXAMPLES\n";
        for (auto& [c, e] : examples_) m << ".TP\n.B " << roff_escape(c) << "\n" << roff_escape(e) << "\n";
    }
    if (!references_.empty()) {
        m << ".SH REFERENCES\n";
        for (auto& [name, c] : references_) m << ".TP\n.B " << roff_escape(name) << "\n" << roff_escape(c) << "\n";
    }
    m << ".SH EXIT STATUS\n0 on success, 1 on a runtime or data error, 2 on a usage error.\n";
    m << ".SH SEE ALSO\nThe orbit data model: share/orbit/FORMAT.md.\n";
    return m.str();
}

std::string App::markdown_options() const {
    auto cell = [](std::string text) {
        std::string out;
        for (char c : text) {
            if (c == '|') out += "\\|";
            else if (c == '\n') out += ' ';
            else out += c;
        }
        return out;
    };
    std::ostringstream m;
    m << "| option | meaning | default |\n|---|---|---|\n";
    auto row = [&](const CLI::Option* opt) {
        std::string def = opt->get_default_str();
        m << "| `" << cell(option_synopsis(opt)) << "` | " << cell(opt->get_description())
          << (opt->get_required() ? " (required)" : "") << " | " << (def.empty() ? "" : "`" + cell(def) + "`") << " |\n";
    };
    for (const CLI::Option* opt : app_.get_options())
        if (opt->get_positional()) row(opt);
    for (const CLI::Option* opt : app_.get_options([](const CLI::Option* o) { return !o->get_positional(); }))
        if (!opt->get_group().empty()) row(opt);
    return m.str();
}

namespace {
// Every floating-point option refuses NaN and infinity before any work: none of
// them has a meaning for a value that is not a number.
void refuse_non_finite(CLI::App& app) {
    for (CLI::Option* opt : app.get_options()) {
        if (opt->get_type_name().rfind("FLOAT", 0) != 0) continue;
        opt->transform(CLI::Validator(
            [](std::string& text) {
                char* end = nullptr;
                const double v = std::strtod(text.c_str(), &end);
                if (!text.empty() && end == text.c_str() + text.size() && !std::isfinite(v))
                    return "expected a finite number, found '" + text + "'";
                return std::string();
            },
            ""));
    }
}
}  // namespace

int App::run(int argc, char** argv, const std::function<void()>& body) {
    log::set_program(program_);
    std::vector<std::string> args(argv + 1, argv + argc);
    io::set_invocation(program_, args);
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help-man") {
            std::cout << man_page();
            return 0;
        }
        if (args[i] == "--help-completion") {
            std::string shell = i + 1 < args.size() ? args[i + 1] : "";
            if (shell != "bash" && shell != "zsh") {
                std::fprintf(stderr, "%s: error: --help-completion: expected bash or zsh\n", program_.c_str());
                return 2;
            }
            std::cout << (shell == "bash" ? bash_completion(app_, program_) : zsh_completion(app_, program_));
            return 0;
        }
        if (args[i] == "--help-markdown") {
            std::cout << markdown_options();
            return 0;
        }
    }
    refuse_non_finite(app_);
    try {
        app_.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app_.help();
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app_.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::CallForVersion&) {
        std::cout << program_ << " " << ORBIT_VERSION << "\n";
        return 0;
    } catch (const CLI::ConfigError& e) {
        // CLI11 says "INI was not able to parse KEY" for a key that names no option.
        std::string msg = e.what();
        const std::string prefix = "INI was not able to parse ";
        if (msg.rfind(prefix, 0) == 0) msg = unknown_config_key(app_, msg.substr(prefix.size()));
        std::fprintf(stderr, "%s: error: --config: %s\n", program_.c_str(), msg.c_str());
        return 2;
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        for (auto& c : msg)
            if (c == '\n') c = ' ';
        std::fprintf(stderr, "%s: error: %s (see %s --help)\n", program_.c_str(), msg.c_str(), program_.c_str());
        return 2;
    }
    log::set_level(common_.quiet ? log::Level::quiet : common_.verbose ? log::Level::verbose : log::Level::normal);
    set_threads(common_.threads);
    auto fail = [&](const std::string& what, int code) {
        std::string msg = what;
        for (auto& c : msg)
            if (c == '\n') c = ' ';
        std::fprintf(stderr, "%s: error: %s\n", program_.c_str(), msg.c_str());
        return code;
    };
    try {
        // Crash, stuck-read and signal handling; the output path is checked
        // before any work (a device or fifo is written into, never replaced).
        guard::install(program_);
        if (!common_.output.empty()) {
            io::formats::check_output_extension(common_.output, point_set_output_);
            io::check_output(common_.output, !io::is_text_output(common_.output));
        }
        body();
    } catch (const UsageError& e) {
        return fail(e.what(), 2);
    } catch (const Error& e) {
        return fail(e.what(), 1);
    } catch (const std::bad_alloc&) {
        return fail("out of memory", 1);
    } catch (const std::exception& e) {
        return fail(e.what(), 1);
    }
    if (common_.json) {
        std::string text = summary_.dump(2) + "\n";
        std::FILE* out = io::stdout_is_data() ? stderr : stdout;
        std::fputs(text.c_str(), out);
        std::fflush(out);
    }
    return 0;
}

}  // namespace orbit::cli
