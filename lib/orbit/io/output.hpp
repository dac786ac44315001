#pragma once
// Atomic, self-describing output files.
//
// An Output is written under a temporary name in the destination folder and
// renamed into place by commit(). If the tool fails, throws, or is stopped by
// SIGINT/SIGTERM/SIGHUP, the temporary file is removed and nothing appears
// under the final name. The path "-" writes the whole file image to stdout on
// commit (refused when stdout is a terminal).
//
// commit() also stamps the orbit data-model attributes on the root group:
// orbit_format, orbit_kind, orbit_version and the history (inherited lines
// plus one line for this invocation).
#include <memory>
#include <string>
#include <vector>

#include "orbit/io/h5.hpp"

namespace orbit::io {

// A file written beside its final name and moved into place by commit().
// Until then it is removed by the destructor and also when the process gets
// SIGINT, SIGTERM or SIGHUP, so no reader ever sees a partial file. Used by
// Output (HDF5), the foreign-format writers and the plot writers alike.
class TempFile {
public:
    explicit TempFile(const std::string& final_path);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& name() const { return temp_; }
    const std::string& final_path() const { return final_; }
    // Renames onto the final path; a device or fifo gets the bytes copied into it.
    void commit();

private:
    std::string final_, temp_;
    int slot_ = -1;
    bool committed_ = false;
    bool stream_ = false;  // final_ is a device or fifo
};

// What an output path names. check_output() refuses, before any work, a path
// that cannot be written: a missing or read-only folder, a directory, a
// socket, and a terminal when `binary` (for "-": stdout is a terminal).
// Existing regular files are replaced atomically; a device or fifo is
// written into (never replaced, whoever runs the tool).
enum class OutputTarget { file, stream, standard_output };
OutputTarget check_output(const std::string& path, bool binary);
// True for extensions written as text (.csv .xyz .txt .pts .svg .json).
bool is_text_output(const std::string& path);

class Output {
public:
    Output(const std::string& path, const std::string& kind);
    ~Output();
    Output(const Output&) = delete;
    Output& operator=(const Output&) = delete;

    h5::File& file() { return file_; }
    const std::string& path() const { return path_; }

    // Carries the history of an input file into this output (call once per input).
    void inherit_history(const h5::File& input);
    void add_history_lines(const std::vector<std::string>& lines);

    void commit();

private:
    std::string path_, kind_;
    std::unique_ptr<TempFile> temp_;  // absent for "-"
    h5::File file_;
    std::vector<std::string> history_;
    bool committed_ = false;
};

// The invocation recorded in history lines; set once by the command-line shell.
void set_invocation(const std::string& program, const std::vector<std::string>& args);
std::string history_line();
// History lines stored in a file (empty when there are none).
std::vector<std::string> read_history(const h5::File& file);
// True once an Output to "-" exists: stdout then carries data, so summaries go to stderr.
bool stdout_is_data();

}  // namespace orbit::io
