#pragma once
// Joining the outputs of `--shard K/N` runs back into one file.
//
// Each shard file records shard_index, shard_count, shard_items and
// shard_total_items on its root. Merging checks that the slices belong
// together (same count and total, every index exactly once, the same datasets
// with the same types and trailing shapes), then concatenates every per-item
// dataset (first axis = the shard's item count, or the ragged total when
// /offsets is present) in shard order. Datasets that are not per item must be
// identical in every shard and are copied once. So must the attributes of the
// root (other than the shard_* ones and those every output gets anew), of the
// groups and of the datasets. Histories are kept.
#include <string>
#include <vector>

#include "orbit/io/output.hpp"

namespace orbit::io {

struct MergeSummary {
    std::int64_t shards = 0, items = 0, datasets = 0;
};

MergeSummary merge_shards(const std::vector<std::string>& inputs, Output& output);

}  // namespace orbit::io
