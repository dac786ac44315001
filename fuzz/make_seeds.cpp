// Writes the seed corpora of the fuzz targets with orbit's own writers (and,
// for the formats orbit only reads, small files in the layouts its readers
// document): make_seeds DIR creates DIR/<target>/ for every target.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "orbit/io/formats.hpp"
#include "orbit/io/h5.hpp"
#include "orbit/io/output.hpp"
#include "orbit/io/pointset.hpp"

namespace fs = std::filesystem;
namespace fmt = orbit::io::formats;
using orbit::Points;

namespace {

Points cloud(int n, int d) {
    Points p(n, d);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < d; ++j) p(i, j) = 0.25 * ((i * 7 + j * 3) % 11) - 1.0 + 0.01 * j;
    return p;
}

void text(const fs::path& path, const std::string& body) { std::ofstream(path, std::ios::binary) << body; }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const fs::path root = argv[1];
    for (const char* t : {"ply", "off", "pcd", "npy", "csv", "xyz", "hdf5", "hdf5_image"}) fs::create_directories(root / t);

    fmt::Shape mesh;
    mesh.vertices = cloud(8, 3);
    mesh.normals = cloud(8, 3);
    mesh.faces.resize(4, 3);
    mesh.faces << 0, 1, 2, 2, 3, 0, 4, 5, 6, 6, 7, 4;
    fmt::Shape points;
    points.vertices = cloud(16, 3);
    fmt::write_ply((root / "ply/mesh.ply").string(), mesh);
    fmt::write_ply((root / "ply/points.ply").string(), points);
    text(root / "ply/ascii.ply",
         "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
         "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n");

    text(root / "off/cube.off", "OFF\n8 6 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n1 0 1\n1 1 1\n0 1 1\n"
                                "4 0 1 2 3\n4 4 5 6 7\n4 0 1 5 4\n4 2 3 7 6\n4 0 3 7 4\n4 1 2 6 5\n");
    text(root / "off/colour.off", "COFF\n3 1 0\n0 0 0 255 0 0 255\n1 0 0 0 255 0 255\n0 1 0 0 0 255 255\n3 0 1 2\n");

    text(root / "pcd/ascii.pcd", "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n"
                                 "WIDTH 3\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 3\nDATA ascii\n0 0 0\n1 0 0\n0 1 0\n");
    {
        std::string bin = "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n"
                          "WIDTH 2\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA binary\n";
        const float v[6] = {0, 0, 0, 1, 2, 3};
        bin.append(reinterpret_cast<const char*>(v), sizeof v);
        text(root / "pcd/binary.pcd", bin);
    }

    fmt::write_npy((root / "npy/cloud.npy").string(), cloud(32, 3));
    {
        const Points b = cloud(12, 3);
        fmt::write_npy((root / "npy/batch.npy").string(), b.data(), {2, 6, 3});
    }
    fmt::write_csv((root / "csv/named.csv").string(), cloud(10, 4), {"x", "y", "z", "w"});
    fmt::write_csv((root / "csv/plain.csv").string(), cloud(5, 3));
    text(root / "xyz/cloud.xyz", "0 0 0\n1 0 0\n0 1 0\n0.5 0.5 1e-3\n");
    text(root / "xyz/normals.xyz", "0 0 0 0 0 1\n1 0 0 0 0 1\n");

    // HDF5: an orbit point set with normals and faces, a batch, and a file of
    // other kinds of objects (strings, attributes, groups).
    for (const char* t : {"hdf5", "hdf5_image"}) {
        {
            orbit::io::Output out((root / t / "mesh.h5").string(), "pointset");
            out.file().write_matrix("/points", mesh.vertices);
            out.file().write_matrix("/normals", mesh.normals);
            orbit::h5::Array<std::int64_t> faces{{4, 3}, std::vector<std::int64_t>(mesh.faces.data(), mesh.faces.data() + 12)};
            out.file().write("/faces", faces);
            out.add_history_lines({"seed line one", "seed line two"});
            out.commit();
        }
        {
            orbit::io::Output out((root / t / "batch.h5").string(), "pointset");
            const Points b = cloud(24, 3);
            orbit::h5::Array<double> batch{{2, 12, 3}, std::vector<double>(b.data(), b.data() + b.size())};
            out.file().write("/points", batch, true);
            out.commit();
        }
        {
            orbit::io::Output out((root / t / "misc.h5").string(), "report");
            out.file().write_strings("/names/labels", {"a", "bb", "ccc"});
            out.file().write_matrix("/data", cloud(6, 2));
            out.file().set_attr("/data", "unit", "m");
            out.file().set_attr("/data", "scale", 2.5);
            out.file().set_attr("/", "count", std::int64_t(6));
            out.file().set_attr_json("/", "options", {{"k", 3}});
            out.commit();
        }
    }
    return 0;
}
