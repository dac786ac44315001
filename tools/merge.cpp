// orbit-merge: join the outputs of --shard K/N runs back into one file.
#include "orbit/cli/app.hpp"
#include "orbit/core/timer.hpp"
#include "orbit/core/log.hpp"
#include "orbit/io/merge.hpp"

using namespace orbit;

int main(int argc, char** argv) {
    cli::App app("merge", "join the outputs of --shard K/N runs into one file", R"(
Checks that the slices belong together (same number of slices and items, each slice once, the same datasets), then concatenates the per-item
datasets in slice order, whatever the order of the arguments. Datasets that are not per item must agree and are copied once; histories are
kept.)",
                 cli::Uses::output);
    std::vector<std::string> inputs;
    app.cli().add_option("shards", inputs, "Shard files written with --shard K/N")->required()->check(CLI::ExistingFile);
    app.require_output();
    app.add_examples(R"(
orbit-merge part-*.h5 -o all.h5
    join the slices of a job array
)");
    return app.run(argc, argv, [&] {
        Timer timer;
        h5::File probe = h5::File::open_read(inputs.front());
        std::string kind = probe.has_attr("/", "orbit_kind") ? probe.attr_string("/", "orbit_kind") : "pointset";
        probe.close();
        io::Output out(app.common().output, kind);
        io::MergeSummary s = io::merge_shards(inputs, out);
        out.commit();
        app.summary() = {{"shards", s.shards}, {"items", s.items}, {"datasets", s.datasets}, {"seconds", timer.seconds()}};
        log::info("merged " + std::to_string(s.shards) + " slices, " + std::to_string(s.items) + " items");
    });
}
