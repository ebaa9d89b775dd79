#include "tier/replay.h"

#include <limits>
#include <queue>
#include <unordered_map>
#include <utility>

namespace eg::tier {

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

ReplayResult replay_optimal(uint64_t capacity_rows, const std::vector<uint64_t>& keys) {
    constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
    const size_t n = keys.size();
    // next[i]: where keys[i] is read again (kNever: not again).
    std::vector<uint64_t> next(n, kNever);
    {
        std::unordered_map<uint64_t, uint64_t> seen;
        seen.reserve(n / 4 + 16);
        for (size_t i = n; i-- > 0;) {
            auto [it, fresh] = seen.try_emplace(keys[i], kNever);
            next[i] = it->second;
            it->second = i;
        }
    }
    ReplayResult r;
    r.accesses = n;
    // The cached rows with the position of their next read; the heap holds
    // (next read, key) with stale entries skipped when they surface.
    std::unordered_map<uint64_t, uint64_t> cached;
    std::priority_queue<std::pair<uint64_t, uint64_t>> farthest;
    const auto keep = [&](uint64_t key, uint64_t at) {
        cached[key] = at;
        farthest.push({at, key});
    };
    for (size_t i = 0; i < n; ++i) {
        const uint64_t k = keys[i];
        if (auto it = cached.find(k); it != cached.end()) {
            ++r.hits;
            if (next[i] == kNever) cached.erase(it);  // never read again: its slot is free now
            else keep(k, next[i]);
            continue;
        }
        if (capacity_rows == 0 || next[i] == kNever) continue;  // not worth a slot
        if (cached.size() < capacity_rows) {
            keep(k, next[i]);
            continue;
        }
        // Full: the row read last of all goes, unless it is the new one.
        while (true) {
            const auto [at, key] = farthest.top();
            auto c = cached.find(key);
            if (c == cached.end() || c->second != at) {
                farthest.pop();  // stale
                continue;
            }
            if (at > next[i]) {
                farthest.pop();
                cached.erase(c);
                keep(k, next[i]);
            }
            break;
        }
    }
    r.hit_rate = r.accesses ? (double)r.hits / (double)r.accesses : 0.0;
    return r;
}

}  // namespace eg::tier
