// The cache simulator: replays a trace of row keys through a policy of a
// given capacity and counts hits, so that LRU and W-TinyLFU can be compared
// on rows hashed from real text (engram-cli engram-replay) without any I/O.
#pragma once

#include <cstdint>
#include <vector>

#include "policy.h"

namespace eg::engram {

struct ReplayResult {
    uint64_t accesses = 0;
    uint64_t hits = 0;
    double hit_rate = 0;  // hits / accesses, 0 for an empty trace
};

// Every key is touched; a miss is offered for admission, as the store does.
ReplayResult replay(PolicyKind kind, uint64_t capacity_rows, const std::vector<uint64_t>& keys);

}  // namespace eg::engram
