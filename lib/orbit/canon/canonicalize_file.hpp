#pragma once
// What orbit-canonicalize does with one input: canonicalize its clouds (a
// --shard slice of them) into an output file, and summarize the run.
#include <nlohmann/json.hpp>
#include <string>

#include "orbit/canon/files.hpp"
#include "orbit/io/output.hpp"

namespace orbit::canon {

// The clouds of `input` (FILE, FILE:/dataset, '-' or a foreign format) by
// `request`, written to `out` with the input's history. A dense HDF5 batch
// asking for one canonical pose takes the in-place fast path
// (canonicalize_dense); everything else goes through the point-set reader.
// `slice(total)` picks the clouds [begin, end) this run writes.
DenseWritten canonicalize_file(const std::string& input, const Request& request,
                               const std::function<std::pair<std::int64_t, std::int64_t>(std::int64_t)>& slice,
                               io::Output& out);

// The --json summary: the diagnostics (summarize), mode, group, first cloud,
// read and write seconds, and the mode's own values.
nlohmann::json summarize_run(const DenseWritten& written, const Request& request, const std::string& group, double write_s);

}  // namespace orbit::canon
