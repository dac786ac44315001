#pragma once
// A registration to look at: orbit-register --aligned OUT.ply writes the
// source clouds moved by their transforms and the reference clouds, in two
// colours, as one binary PLY that MeshLab and CloudCompare open.
//
// Vertices: for each pair in order, its moved source (colour kSourceColor,
// orange) then its reference (kReferenceColor, blue). Every vertex carries
// the int property `pair`, the pair's index in the batch (0 for a single
// pair, the global index under --shard), so a viewer can pick one pair out
// (CloudCompare shows it as a scalar field).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "orbit/core/types.hpp"
#include "orbit/registration/result_file.hpp"

namespace orbit::registration {

inline constexpr std::array<std::uint8_t, 3> kSourceColor{255, 128, 0};
inline constexpr std::array<std::uint8_t, 3> kReferenceColor{0, 112, 255};

// Throws Error unless `path` ends in .ply (checked before any work).
void check_aligned_path(const std::string& path);
// Writes the picture above for pairs [run.first_pair, run.first_pair + run.results.size()).
void write_aligned_ply(const std::string& path, const std::vector<Points>& sources, const std::vector<Points>& references,
                       const Run& run);

}  // namespace orbit::registration
