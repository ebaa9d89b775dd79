// LRU and W-TinyLFU over flat arrays: every resident key has a slot (its
// key, prev/next links and segment), lists are intrusive over slot indices,
// and a FlatMap finds a key's slot. About 17 bytes per slot plus the map's
// buckets, O(1) per access; arrays grow as slots are used, so a huge
// capacity costs nothing until it fills.
#include "tier/policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

#include "tier/flat_map.h"

namespace eg::tier {

std::optional<PolicyKind> parse_policy(const std::string& s) {
    std::string l;
    for (char c : s)
        if (c != '-' && c != '_') l += (char)std::tolower((unsigned char)c);
    if (l == "lru") return PolicyKind::Lru;
    if (l == "wtinylfu" || l == "tinylfu") return PolicyKind::WTinyLfu;
    return std::nullopt;
}

const char* policy_name(PolicyKind k) { return k == PolicyKind::Lru ? "lru" : "w-tinylfu"; }

namespace {

constexpr uint32_t kNil = UINT32_MAX;

// Slots and the intrusive lists threaded through them.
class Slots {
public:
    struct List {
        uint32_t head = kNil, tail = kNil;
        uint64_t size = 0;
    };

    uint64_t used() const { return key_.size(); }

    // Room for n slots at once, so that filling the cache on the decode path
    // allocates nothing (what a full cache holds anyway).
    void reserve(uint64_t n) {
        key_.reserve(n);
        prev_.reserve(n);
        next_.reserve(n);
        seg_.reserve(n);
        map_.reserve(n);
    }

    // A fresh slot for k (the caller checked that capacity allows it).
    uint32_t alloc(uint64_t k, uint8_t seg) {
        const uint32_t s = (uint32_t)key_.size();
        key_.push_back(k);
        prev_.push_back(kNil);
        next_.push_back(kNil);
        seg_.push_back(seg);
        map_.insert(k, s);
        return s;
    }
    // Gives slot s (unlinked by the caller) to key k; returns its old key.
    uint64_t reassign(uint32_t s, uint64_t k, uint8_t seg) {
        const uint64_t old = key_[s];
        map_.erase(old);
        key_[s] = k;
        seg_[s] = seg;
        map_.insert(k, s);
        return old;
    }

    const uint32_t* find(uint64_t k) const { return map_.find(k); }
    uint64_t key(uint32_t s) const { return key_[s]; }
    uint8_t seg(uint32_t s) const { return seg_[s]; }
    void set_seg(uint32_t s, uint8_t g) { seg_[s] = g; }

    void push_front(List& l, uint32_t s) {
        prev_[s] = kNil;
        next_[s] = l.head;
        if (l.head != kNil) prev_[l.head] = s;
        l.head = s;
        if (l.tail == kNil) l.tail = s;
        ++l.size;
    }
    void unlink(List& l, uint32_t s) {
        if (prev_[s] != kNil) next_[prev_[s]] = next_[s];
        else l.head = next_[s];
        if (next_[s] != kNil) prev_[next_[s]] = prev_[s];
        else l.tail = prev_[s];
        prev_[s] = next_[s] = kNil;
        --l.size;
    }
    void to_front(List& l, uint32_t s) {
        if (l.head == s) return;
        unlink(l, s);
        push_front(l, s);
    }

private:
    std::vector<uint64_t> key_;
    std::vector<uint32_t> prev_, next_;
    std::vector<uint8_t> seg_;
    FlatMap<uint32_t> map_;
};

uint64_t cap_slots(uint64_t capacity) { return std::min<uint64_t>(capacity, kNil - 1); }

class LruPolicy final : public CachePolicy {
public:
    explicit LruPolicy(uint64_t capacity) : cap_(cap_slots(capacity)) { slots_.reserve(cap_); }

    bool touch(uint64_t key) override {
        const uint32_t* s = slots_.find(key);
        if (!s) return false;
        slots_.to_front(list_, *s);
        return true;
    }
    bool admit(uint64_t key, std::optional<uint64_t>* evicted) override {
        if (evicted) evicted->reset();
        if (cap_ == 0) return false;
        if (slots_.find(key)) return true;
        if (list_.size < cap_) {
            slots_.push_front(list_, slots_.alloc(key, 0));
            return true;
        }
        const uint32_t s = list_.tail;
        slots_.unlink(list_, s);
        const uint64_t old = slots_.reassign(s, key, 0);
        if (evicted) *evicted = old;
        slots_.push_front(list_, s);
        return true;
    }
    bool contains(uint64_t key) const override { return slots_.find(key) != nullptr; }
    uint64_t size() const override { return list_.size; }
    uint64_t capacity() const override { return cap_; }
    void seed(uint64_t, uint32_t) override {}  // LRU keeps no frequencies
    int64_t slot_of(uint64_t key) const override {
        const uint32_t* s = slots_.find(key);
        return s ? (int64_t)*s : -1;
    }

private:
    uint64_t cap_;
    Slots slots_;
    Slots::List list_;
};

// Count-min sketch of recent access frequency: 4 rows of 4-bit counters
// (16 per 64-bit word), width a power of two >= capacity (at most 2^26, 128
// MB, for caches of tens of millions of rows); every counter is halved after
// 10 x capacity accesses so that old popularity fades.
class FrequencySketch {
public:
    explicit FrequencySketch(uint64_t capacity) {
        width_ = 64;
        while (width_ < capacity && width_ < (1ULL << 26)) width_ <<= 1;
        words_.assign(kDepth * width_ / 16, 0);
        sample_ = std::max<uint64_t>(10 * capacity, 10);
    }

    uint32_t estimate(uint64_t key) const {
        uint64_t idx[kDepth];
        indices(key, idx);
        uint32_t m = 15;
        for (int i = 0; i < kDepth; ++i) m = std::min(m, get(idx[i]));
        return m;
    }

    // Conservative update: only the counters at the minimum grow.
    void increment(uint64_t key) {
        uint64_t idx[kDepth];
        indices(key, idx);
        uint32_t m = 15;
        for (int i = 0; i < kDepth; ++i) m = std::min(m, get(idx[i]));
        if (m < 15)
            for (int i = 0; i < kDepth; ++i)
                if (get(idx[i]) == m) set(idx[i], m + 1);
        if (++accesses_ >= sample_) halve();
    }

    void raise_to(uint64_t key, uint32_t v) {
        v = std::min<uint32_t>(v, 15);
        uint64_t idx[kDepth];
        indices(key, idx);
        for (int i = 0; i < kDepth; ++i)
            if (get(idx[i]) < v) set(idx[i], v);
    }

private:
    static constexpr int kDepth = 4;

    void indices(uint64_t key, uint64_t* idx) const {
        const uint64_t h = mix64(key ^ 0x9e3779b97f4a7c15ULL);
        const uint64_t h1 = h & 0xffffffffULL, h2 = (h >> 32) | 1;
        for (int i = 0; i < kDepth; ++i)
            idx[i] = (uint64_t)i * width_ + ((h1 + (uint64_t)i * h2 * 0x9e3779b1ULL) & (width_ - 1));
    }
    uint32_t get(uint64_t c) const { return (uint32_t)(words_[c >> 4] >> ((c & 15) * 4)) & 15; }
    void set(uint64_t c, uint32_t v) {
        const int sh = (int)(c & 15) * 4;
        words_[c >> 4] = (words_[c >> 4] & ~(15ULL << sh)) | ((uint64_t)v << sh);
    }
    void halve() {
        for (auto& w : words_) w = (w >> 1) & 0x7777777777777777ULL;
        accesses_ = 0;
    }

    uint64_t width_ = 0;
    uint64_t sample_ = 0;
    uint64_t accesses_ = 0;
    std::vector<uint64_t> words_;
};

// W-TinyLFU: an LRU window takes every new key; what falls out of it
// enters the main segmented LRU (probation 20%, protected 80%) only if the
// sketch says it is seen more often than the main area's victim. The
// window starts at 1% and is sized by hill climbing (as Caffeine does):
// after every sample of accesses the hit rate is compared with the last
// sample's, and the window keeps growing or shrinking while that helps and
// turns around when it does not. Recency-heavy text (a document's own
// n-grams) wants a large window, a Zipf head a small one.
class WTinyLfuPolicy final : public CachePolicy {
public:
    explicit WTinyLfuPolicy(uint64_t capacity) : cap_(cap_slots(capacity)), sketch_(cap_) {
        slots_.reserve(cap_);
        min_window_ = cap_ == 0 ? 0 : std::max<uint64_t>(1, cap_ / 100);
        max_window_ = std::max(min_window_, cap_ * 8 / 10);
        set_window(min_window_);
        sample_size_ = std::max<uint64_t>(cap_ / 32, 4096);  // ~30 moves while a cache turns over
        step_ = kStepShare * (double)cap_;  // the first move grows the window
    }

    bool touch(uint64_t key) override {
        if (cap_ == 0) return false;
        sketch_.increment(key);
        const uint32_t* p = slots_.find(key);
        climb(p != nullptr);
        if (!p) return false;
        const uint32_t s = *p;
        switch (slots_.seg(s)) {
            case kWindow: slots_.to_front(window_, s); break;
            case kProtected: slots_.to_front(protected_, s); break;
            default:  // probation: a second hit promotes
                slots_.unlink(probation_, s);
                slots_.set_seg(s, kProtected);
                slots_.push_front(protected_, s);
                while (protected_.size > protected_cap_) {  // the cap may have shrunk
                    const uint32_t d = protected_.tail;
                    slots_.unlink(protected_, d);
                    slots_.set_seg(d, kProbation);
                    slots_.push_front(probation_, d);
                }
        }
        return true;
    }

    bool admit(uint64_t key, std::optional<uint64_t>* evicted) override {
        if (evicted) evicted->reset();
        if (cap_ == 0) return false;
        if (slots_.find(key)) return true;
        const uint64_t resident = window_.size + probation_.size + protected_.size;
        if (resident < cap_) {
            slots_.push_front(window_, slots_.alloc(key, kWindow));
            if (window_.size > window_cap_) {
                // Main has room while the cache is not full.
                const uint32_t w = window_.tail;
                slots_.unlink(window_, w);
                slots_.set_seg(w, kProbation);
                slots_.push_front(probation_, w);
            }
            return true;
        }
        // Full. A window over its (climbing) capacity hands its LRU keys to
        // the main area without a contest; one under it keeps its LRU key and
        // the main area's victim leaves. Otherwise the window's LRU key
        // competes with the main area's victim.
        for (int i = 0; i < 2 && window_.size > window_cap_ && window_.tail != kNil; ++i) {
            const uint32_t t = window_.tail;
            slots_.unlink(window_, t);
            slots_.set_seg(t, kProbation);
            slots_.push_front(probation_, t);
        }
        uint32_t victim;
        const uint32_t w = window_.tail;
        const uint32_t m = probation_.size ? probation_.tail : protected_.tail;
        if (w == kNil || (window_.size < window_cap_ && m != kNil)) {
            victim = m;
        } else if (m == kNil || sketch_.estimate(slots_.key(w)) <= sketch_.estimate(slots_.key(m))) {
            victim = w;
        } else {
            victim = m;
            slots_.unlink(window_, w);
            slots_.set_seg(w, kProbation);
            slots_.push_front(probation_, w);
        }
        unlink_any(victim);
        const uint64_t old = slots_.reassign(victim, key, kWindow);
        if (evicted) *evicted = old;
        slots_.push_front(window_, victim);
        return true;
    }

    bool contains(uint64_t key) const override { return slots_.find(key) != nullptr; }
    uint64_t size() const override { return window_.size + probation_.size + protected_.size; }
    uint64_t capacity() const override { return cap_; }
    void seed(uint64_t key, uint32_t count) override {
        if (cap_ > 0) sketch_.raise_to(key, count);
    }
    int64_t slot_of(uint64_t key) const override {
        const uint32_t* s = slots_.find(key);
        return s ? (int64_t)*s : -1;
    }

private:
    enum : uint8_t { kWindow = 0, kProbation = 1, kProtected = 2 };
    static constexpr double kStepShare = 0.0625;   // first step: 6.25% of the capacity
    static constexpr double kStepDecay = 0.98;     // each later step a little smaller
    static constexpr double kRestartChange = 0.05; // a hit rate jump of 5 points: steps as large as at first

    void set_window(uint64_t w) {
        window_cap_ = std::clamp(w, min_window_, max_window_);
        main_cap_ = cap_ - window_cap_;
        protected_cap_ = main_cap_ * 8 / 10;
    }

    // Counts an access; after each sample moves the window by the step,
    // in the direction that raised the hit rate.
    void climb(bool hit) {
        ++sample_n_;
        sample_hits_ += hit ? 1 : 0;
        if (sample_n_ < sample_size_) return;
        const double rate = (double)sample_hits_ / (double)sample_n_;
        sample_n_ = sample_hits_ = 0;
        if (window_.size + probation_.size + protected_.size < cap_) {  // still filling: nothing to learn
            prev_rate_ = rate;
            return;
        }
        const double change = prev_rate_ < 0 ? 0 : rate - prev_rate_;
        prev_rate_ = rate;
        const double amount = change >= 0 ? step_ : -step_;
        step_ = std::abs(change) >= kRestartChange ? kStepShare * (double)cap_ * (amount >= 0 ? 1 : -1)
                                                   : kStepDecay * amount;
        const double next = (double)window_cap_ + amount;
        set_window(next <= 0 ? 0 : (uint64_t)std::llround(next));
    }

    void unlink_any(uint32_t s) {
        switch (slots_.seg(s)) {
            case kWindow: slots_.unlink(window_, s); break;
            case kProbation: slots_.unlink(probation_, s); break;
            default: slots_.unlink(protected_, s);
        }
    }

    uint64_t cap_;
    uint64_t window_cap_ = 0, main_cap_ = 0, protected_cap_ = 0;
    uint64_t min_window_ = 0, max_window_ = 0;
    uint64_t sample_size_ = 0, sample_n_ = 0, sample_hits_ = 0;
    double prev_rate_ = -1, step_ = 0;
    FrequencySketch sketch_;
    Slots slots_;
    Slots::List window_, probation_, protected_;
};

}  // namespace

std::unique_ptr<CachePolicy> make_policy(PolicyKind k, uint64_t capacity) {
    if (k == PolicyKind::Lru) return std::make_unique<LruPolicy>(capacity);
    return std::make_unique<WTinyLfuPolicy>(capacity);
}

}  // namespace eg::tier
