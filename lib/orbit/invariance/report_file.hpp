#pragma once
// The invariance report file (kind "report") that orbit-eval-invariance
// writes, its reader, and the error-against-magnitude plot.
//
// /elements/transform [K,4,4], /elements/magnitude [K] (its attribute
// "meaning" names the magnitude), /errors/{abs_max,abs_mean,rel} [B,K],
// /errors/consistent [B,K] (labels only), /per_element/{abs_max,abs_mean,rel_max} [K],
// /lie/<generator> [B]; the summary JSON (EvalReport::json) as the root attribute "summary".
#include <string>

#include "orbit/invariance/evaluate.hpp"
#include "orbit/io/h5.hpp"

namespace orbit::invariance {

void write_report(h5::File& file, const EvalReport& r);

// Reads a file written by write_report: the element transforms and magnitudes,
// the [B,K] error matrices, the per-cloud Lie derivatives and the summary values.
EvalReport read_report(const h5::File& file);

// Error against rotation angle (or the group's magnitude): per-element max and mean absolute error.
void plot_report(const std::string& path, const EvalReport& r);

}  // namespace orbit::invariance
