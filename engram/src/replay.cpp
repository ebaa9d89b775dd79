#include "replay.h"

namespace eg::engram {

ReplayResult replay(PolicyKind kind, uint64_t capacity_rows, const std::vector<uint64_t>& keys) {
    auto policy = make_policy(kind, capacity_rows);
    ReplayResult r;
    std::optional<uint64_t> evicted;
    for (uint64_t k : keys) {
        ++r.accesses;
        if (policy->touch(k)) ++r.hits;
        else policy->admit(k, &evicted);
    }
    r.hit_rate = r.accesses ? (double)r.hits / (double)r.accesses : 0.0;
    return r;
}

}  // namespace eg::engram
