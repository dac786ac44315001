#pragma once
// The file layout of a transport run (orbit_kind "plan"; "report" for sliced
// distances), written in one place and read back by the same definitions.
//
// One problem:  /f [N], /g [M]; root attributes cost, primal, dual, mass,
//   iterations, marginal_error, converged, finite, eps, storage, overrelax
//   (and divergence); the plan as /plan [N,M] or a CSR group /plan/{data,
//   indices, indptr} with attributes format = "csr" and shape.
// A batch: /f, /g concatenated with /f_offsets, /g_offsets; per-problem
//   /cost, /dual, /marginal_error, /iterations, /converged (/divergence);
//   plans as /plan/0, /plan/1, ...
// Sliced distances: /sliced [B].
// Gradients (when computed): /grad_x [N,D], /grad_y [M,D], /grad_a [N],
//   /grad_b [M] (batches: rows concatenated, as /f and /g).
// Always: the root attribute seconds (the solve time).
//
// A barycenter (orbit_kind "pointset", readable as a point set): /points
// [N,D], /weights [N]; root attributes method, cost, iterations,
// marginal_error, converged, finite, eps and seconds.
#include <nlohmann/json.hpp>
#include <string>

#include "orbit/io/h5.hpp"
#include "orbit/ot/barycenter.hpp"
#include "orbit/ot/transport.hpp"

namespace orbit::ot {

// The orbit_kind of the file a run is written to.
std::string result_kind(const TransportRun& run);
// The scalars of one result, as written to the root attributes and to --json.
nlohmann::json result_json(const SinkhornResult& r);
// The --json summary of a run ("seconds", "problems", then the results).
nlohmann::json run_summary(const TransportRun& run, std::size_t problems, double seconds);
// One line for a person: the value(s), iterations, marginal error and time.
std::string run_line(const TransportRun& run, double seconds);
// Writes everything above into f.
void write_transport(h5::File& f, const TransportRun& run, double seconds);

// What a file holds, read back: results (potentials, scalars, plans),
// per-problem values and gradients. For batches only the per-problem arrays
// the layout stores are filled.
TransportRun read_transport(const h5::File& f);

std::string barycenter_method_name(BarycenterMethod m);
// The scalars of a barycenter run, as written to the root attributes and to --json.
nlohmann::json barycenter_json(const BarycenterResult& r, const BarycenterOptions& opt, double seconds);
std::string barycenter_line(const BarycenterResult& r, double seconds);
void write_barycenter(h5::File& f, const BarycenterResult& r, const BarycenterOptions& opt, double seconds);
// The barycenter and scalars back from a file written by write_barycenter.
BarycenterResult read_barycenter(const h5::File& f);

}  // namespace orbit::ot
