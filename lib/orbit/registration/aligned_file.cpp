#include "orbit/registration/aligned_file.hpp"

#include "orbit/core/error.hpp"
#include "orbit/geometry/rotation.hpp"
#include "orbit/io/formats.hpp"

namespace orbit::registration {

void check_aligned_path(const std::string& path) {
    if (io::formats::extension(path) != ".ply")
        throw UsageError("--aligned: expected a .ply file name, found '" + path + "'");
}

void write_aligned_ply(const std::string& path, const std::vector<Points>& sources, const std::vector<Points>& references,
                       const Run& run) {
    require(sources.size() == run.results.size() && references.size() == run.results.size(),
            "aligned clouds: one source and one reference per result expected");
    Eigen::Index total = 0;
    for (std::size_t i = 0; i < sources.size(); ++i) total += sources[i].rows() + references[i].rows();
    io::formats::Shape shape;
    shape.vertices.resize(total, 3);
    shape.colors.resize(total, 3);
    shape.label_name = "pair";
    Eigen::Index row = 0;
    auto put = [&](const Points& p, const std::array<std::uint8_t, 3>& color, std::int64_t pair) {
        shape.vertices.middleRows(row, p.rows()) = p;
        for (Eigen::Index k = 0; k < p.rows(); ++k, ++row) {
            for (int j = 0; j < 3; ++j) shape.colors(row, j) = color[static_cast<std::size_t>(j)];
            shape.labels.push_back(static_cast<std::int32_t>(pair));
        }
    };
    for (std::size_t i = 0; i < sources.size(); ++i) {
        const std::int64_t pair = run.first_pair + static_cast<std::int64_t>(i);
        put(geometry::apply(run.results[i].transform, sources[i]), kSourceColor, pair);
        put(references[i], kReferenceColor, pair);
    }
    io::formats::write_ply(path, shape);
}

}  // namespace orbit::registration
