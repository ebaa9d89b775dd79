// The cache simulator: replays a trace of row keys through a policy of a
// given capacity and counts hits, so that LRU and W-TinyLFU can be compared
// on rows hashed from real text (engram-cli engram-replay) without any I/O,
// next to the best any cache of that size could do on the same trace.
#pragma once

#include <cstdint>
#include <vector>

#include "tier/policy.h"

namespace eg::tier {

struct ReplayResult {
    uint64_t accesses = 0;
    uint64_t hits = 0;
    double hit_rate = 0;  // hits / accesses, 0 for an empty trace
};

// Every key is touched; a miss is offered for admission, as the store does.
ReplayResult replay(PolicyKind kind, uint64_t capacity_rows, const std::vector<uint64_t>& keys);

// Belady's optimum: the hits of a cache that knows the whole trace. On a
// miss it keeps the rows used again soonest, the new one included (it may
// decline a row, as W-TinyLFU's admission may), so no policy of this
// capacity can hit more often. O(n log n) time, O(distinct keys) memory.
ReplayResult replay_optimal(uint64_t capacity_rows, const std::vector<uint64_t>& keys);

}  // namespace eg::tier
