#pragma once
// The command-line shell shared by every orbit tool.
//
// A tool declares its options once on cli() (CLI11); the same declaration
// feeds --help, the man page (--help-man) and --config files. run() parses,
// applies the common options, calls the tool body and turns exceptions into
// exit codes and one-line errors:
//   0 success, 1 runtime or data error, 2 usage error,
//   stderr: "orbit-<tool>: error: <what>".
// With --json the body's summary() is printed on stdout (on stderr when stdout
// carries an HDF5 stream).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orbit/core/random.hpp"

namespace orbit::cli {

// The shared options a tool declares: only those it uses (orbit-info takes no
// -o, --seed or -j). -q, -v, --json, --config and --version are always there.
enum class Uses : unsigned { none = 0, output = 1, threads = 2, seed = 4, all = 7 };
constexpr Uses operator|(Uses a, Uses b) { return Uses(unsigned(a) | unsigned(b)); }
constexpr bool has(Uses set, Uses one) { return (unsigned(set) & unsigned(one)) != 0; }

struct Common {
    std::string output;
    int threads = 0;
    std::uint64_t seed = 0;
    bool quiet = false;
    bool verbose = false;
    bool json = false;
};

class App {
public:
    // tool: the name without the "orbit-" prefix; summary: one line for the man page NAME section.
    // The description may be written over several lines: single line breaks
    // become spaces, a blank line separates paragraphs.
    App(const std::string& tool, const std::string& summary, const std::string& description = "",
        Uses uses = Uses::all);

    CLI::App& cli() { return app_; }
    const Common& common() const { return common_; }
    const std::string& program() const { return program_; }

    // Call this when the tool cannot run without -o/--output.
    void require_output();
    // What -o writes. By default HDF5 only: a name with another extension (x.ply,
    // ot.csv) is refused with exit 2 before any work. A tool that writes point
    // sets through io/formats declares so, and then -o takes every extension
    // orbit-convert writes (.ply .off .pcd .xyz .csv .npy ...).
    void writes_point_set_formats();
    bool point_set_output() const { return point_set_output_; }
    // Examples shown at the end of --help and in the man page.
    void add_example(const std::string& command, const std::string& explanation);
    // A method the tool implements and the paper it comes from, shown under
    // REFERENCES in --help and the man page: add_reference("FPFH", "Rusu et al., ...").
    void add_reference(const std::string& method, const std::string& citation);
    // Many at once from a text block: each line "METHOD: CITATION".
    void add_references(const std::string& block);
    // Many examples at once from a text block: a command on its own line, its
    // explanation on the next line(s), indented.
    void add_examples(const std::string& block);

    int run(int argc, char** argv, const std::function<void()>& body);

    nlohmann::json& summary() { return summary_; }
    // A deterministic random stream for work item `stream`, derived from --seed.
    Rng rng(std::uint64_t stream = 0) const { return Rng(common_.seed, stream); }

    std::string man_page() const;
    // The options as a Markdown table, the one docs/orbit-<tool>.md shows (--help-markdown).
    std::string markdown_options() const;

private:
    std::string tool_, program_, summary_line_, description_;
    CLI::App app_;
    CLI::Option* output_opt_ = nullptr;
    Common common_;
    bool point_set_output_ = false;
    nlohmann::json summary_ = nlohmann::json::object();
    std::vector<std::pair<std::string, std::string>> examples_, references_;
    void update_footer();
};

// Accepts "-", an existing file, or "FILE:/dataset" whose FILE exists.
extern const CLI::Validator ExistingFileOrStream;

}  // namespace orbit::cli
