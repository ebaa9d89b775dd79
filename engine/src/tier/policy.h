// Replacement policies for the DRAM tier. N-gram traffic is Zipf-shaped: a
// few rows are hit all the time, a long tail is seen once. Plain LRU lets the
// tail flush the head; W-TinyLFU (Einziger et al., 2017) keeps a count-min
// sketch of recent frequency and admits a new row into the main area only
// when it is seen more often than the row it would evict, with a small LRU
// window for bursts. Both are here so that their hit rates can be compared
// on real text (engram-cli engram-replay).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace eg::tier {

enum class PolicyKind { Lru, WTinyLfu };
std::optional<PolicyKind> parse_policy(const std::string& s);
const char* policy_name(PolicyKind k);

// Decides which keys are resident, capacity in entries. Not thread-safe:
// the store calls it under its lock.
class CachePolicy {
public:
    virtual ~CachePolicy() = default;
    // Records an access. Returns true when key is resident (a hit).
    virtual bool touch(uint64_t key) = 0;
    // After a miss: whether key should be inserted; if so and the cache is
    // full, *evicted is set to the key that leaves.
    virtual bool admit(uint64_t key, std::optional<uint64_t>* evicted) = 0;
    virtual bool contains(uint64_t key) const = 0;
    virtual uint64_t size() const = 0;
    virtual uint64_t capacity() const = 0;
    // Seeds the frequency estimate (hot-row statistics from an earlier run).
    virtual void seed(uint64_t key, uint32_t count) = 0;
    // Where a resident key sits: a slot in [0, capacity()), stable while the
    // key stays; a key admitted when the cache is full takes the slot of the
    // key it evicts (the store keeps row data at that slot). -1 if absent.
    virtual int64_t slot_of(uint64_t key) const = 0;
};

std::unique_ptr<CachePolicy> make_policy(PolicyKind k, uint64_t capacity);

}  // namespace eg::tier
