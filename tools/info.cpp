// orbit-info: what an HDF5 file holds (orbit's own or foreign).
#include <iostream>

#include "orbit/cli/app.hpp"
#include "orbit/io/inspect.hpp"

int main(int argc, char** argv) {
    orbit::cli::App app("info", "describe an HDF5 file: kind, datasets, attributes, history", R"(
Prints the orbit kind and version, every dataset with its shape and type, the root attributes and the history of an orbit file, or the
datasets of any foreign HDF5 file.)",
                        orbit::cli::Uses::none);
    std::string input;
    app.cli().add_option("input", input, "HDF5 file, or '-' for stdin")->required()->check(orbit::cli::ExistingFileOrStream);
    app.add_examples(R"(
orbit-info bunny.h5 --json
    describe a point-set file as JSON
orbit-transform bunny.h5 --crop 0.7 -o - | orbit-info -
    describe a stream
)");
    return app.run(argc, argv, [&] {
        orbit::io::FileSummary s = orbit::io::inspect(input);
        if (app.common().json) app.summary() = s.json;
        else std::cout << s.text;
    });
}
