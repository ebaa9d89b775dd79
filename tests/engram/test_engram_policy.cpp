// The DRAM tier's replacement policies: LRU and W-TinyLFU keep their
// invariants (never over capacity, a key admitted is resident, slots are
// unique), LRU evicts in recency order, capacity 0 holds nothing, and on a
// Zipf(1.0) trace — the shape of n-gram traffic — W-TinyLFU hits clearly
// more often than LRU. That last one is a property of the algorithms on a
// fixed seeded trace, not a timing.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <unordered_map>

#include "tier/flat_map.h"
#include "tier/policy.h"
#include "tier/replay.h"

using namespace eg::tier;

namespace {

// n_accesses draws of Zipf(s) over n_keys ranks, each rank scrambled to a
// key so that hot keys are not small numbers.
std::vector<uint64_t> zipf_trace(uint64_t n_keys, double s, uint64_t n_accesses, uint64_t seed) {
    std::vector<double> cdf(n_keys);
    double sum = 0;
    for (uint64_t i = 0; i < n_keys; ++i) {
        sum += 1.0 / std::pow((double)(i + 1), s);
        cdf[i] = sum;
    }
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, sum);
    std::vector<uint64_t> keys(n_accesses);
    for (auto& k : keys) {
        const uint64_t rank = (uint64_t)(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
        k = mix64(rank + 12345);
    }
    return keys;
}

// The most hits any cache of `cap` keys can get on trace[i..], holding
// `cached` (sorted): every choice tried (keep or decline a missed key, and
// which key to drop). For traces of a dozen accesses over a few keys.
uint64_t best_hits(const std::vector<uint64_t>& trace, size_t i, std::vector<uint64_t> cached, size_t cap) {
    if (i == trace.size()) return 0;
    const uint64_t k = trace[i];
    if (std::binary_search(cached.begin(), cached.end(), k)) return 1 + best_hits(trace, i + 1, cached, cap);
    uint64_t best = best_hits(trace, i + 1, cached, cap);  // decline
    if (cap == 0) return best;
    const auto with = [&](std::vector<uint64_t> c) {
        c.insert(std::upper_bound(c.begin(), c.end(), k), k);
        return best_hits(trace, i + 1, std::move(c), cap);
    };
    if (cached.size() < cap) return std::max(best, with(cached));
    for (size_t v = 0; v < cached.size(); ++v) {
        std::vector<uint64_t> c = cached;
        c.erase(c.begin() + (long)v);
        best = std::max(best, with(std::move(c)));
    }
    return best;
}

}  // namespace

class TestEngramPolicy : public QObject {
    Q_OBJECT

private slots:
    void parse_names() {
        QCOMPARE(parse_policy("lru"), std::optional<PolicyKind>(PolicyKind::Lru));
        QCOMPARE(parse_policy("W-TinyLFU"), std::optional<PolicyKind>(PolicyKind::WTinyLfu));
        QCOMPARE(parse_policy("wtinylfu"), std::optional<PolicyKind>(PolicyKind::WTinyLfu));
        QVERIFY(!parse_policy("fifo"));
        QCOMPARE(parse_policy(policy_name(PolicyKind::WTinyLfu)), std::optional<PolicyKind>(PolicyKind::WTinyLfu));
        QCOMPARE(parse_policy(policy_name(PolicyKind::Lru)), std::optional<PolicyKind>(PolicyKind::Lru));
    }

    void lru_evicts_least_recent() {
        auto p = make_policy(PolicyKind::Lru, 3);
        std::optional<uint64_t> ev;
        for (uint64_t k : {10, 20, 30}) {
            QVERIFY(!p->touch(k));
            QVERIFY(p->admit(k, &ev));
            QVERIFY(!ev);
        }
        QCOMPARE(p->size(), 3u);
        QVERIFY(p->touch(10));  // order now 10, 30, 20
        QVERIFY(!p->touch(40));
        QVERIFY(p->admit(40, &ev));
        QCOMPARE(ev, std::optional<uint64_t>(20));
        QVERIFY(!p->contains(20));
        QVERIFY(p->contains(10) && p->contains(30) && p->contains(40));
        QVERIFY(p->admit(50, &ev));
        QCOMPARE(ev, std::optional<uint64_t>(30));
        QCOMPARE(p->size(), 3u);
    }

    void capacity_zero_holds_nothing() {
        for (PolicyKind k : {PolicyKind::Lru, PolicyKind::WTinyLfu}) {
            auto p = make_policy(k, 0);
            std::optional<uint64_t> ev;
            for (uint64_t key = 0; key < 100; ++key) {
                QVERIFY(!p->touch(key % 7));
                QVERIFY(!p->admit(key % 7, &ev));
                QVERIFY(!ev);
                p->seed(key, 5);
            }
            QCOMPARE(p->size(), 0u);
            QCOMPARE(p->capacity(), 0u);
            QVERIFY(!p->contains(3));
            QCOMPARE(p->slot_of(3), int64_t(-1));
        }
    }

    // Random traffic against a model of the resident set built from the
    // policy's own eviction reports.
    void invariants_hold() {
        for (PolicyKind kind : {PolicyKind::Lru, PolicyKind::WTinyLfu}) {
            for (uint64_t cap : {1u, 2u, 7u, 100u, 250u}) {
                auto p = make_policy(kind, cap);
                std::set<uint64_t> resident;
                std::mt19937_64 rng(cap * 31 + (int)kind);
                for (int i = 0; i < 20000; ++i) {
                    const uint64_t key = rng() % 400;
                    const bool hit = p->touch(key);
                    QCOMPARE(hit, resident.count(key) == 1);
                    if (!hit) {
                        std::optional<uint64_t> ev;
                        QVERIFY(p->admit(key, &ev));
                        QVERIFY(p->contains(key));
                        if (ev) {
                            QVERIFY(*ev != key);
                            QCOMPARE(resident.erase(*ev), size_t(1));
                            QVERIFY(!p->contains(*ev));
                        }
                        resident.insert(key);
                        QVERIFY(p->slot_of(key) >= 0);
                    }
                    QVERIFY(p->size() <= cap);
                    QCOMPARE(p->size(), (uint64_t)resident.size());
                }
                // Slots of the resident keys are distinct and inside [0, cap).
                std::set<int64_t> used_slots;
                for (uint64_t key : resident) {
                    const int64_t s = p->slot_of(key);
                    QVERIFY(s >= 0 && s < (int64_t)cap);
                    used_slots.insert(s);
                }
                QCOMPARE(used_slots.size(), resident.size());
                QCOMPARE(p->size(), cap);  // 400 keys fill any of these capacities
            }
        }
    }

    // A key hit often survives a one-pass scan under W-TinyLFU, not under LRU.
    // (The scan is shorter than the sketch's ageing period, 10 x capacity:
    // a longer one rightly ages the old favourites out.)
    void frequent_key_survives_scan() {
        for (PolicyKind kind : {PolicyKind::Lru, PolicyKind::WTinyLfu}) {
            auto p = make_policy(kind, 100);
            std::optional<uint64_t> ev;
            for (uint64_t k = 0; k < 100; ++k)
                for (int rep = 0; rep < 5; ++rep)
                    if (!p->touch(1000 + k)) p->admit(1000 + k, &ev);
            for (uint64_t k = 0; k < 400; ++k)
                if (!p->touch(1000000 + k)) p->admit(1000000 + k, &ev);
            int survived = 0;
            for (uint64_t k = 0; k < 100; ++k) survived += p->contains(1000 + k);
            qInfo("%s: %d of 100 frequent keys survive a scan of 400", policy_name(kind), survived);
            if (kind == PolicyKind::Lru) QCOMPARE(survived, 0);
            else QVERIFY(survived >= 90);  // 99 fit in main; sketch collisions cost a few
        }
    }

    // Seeded frequencies (hot-row stats of an earlier run) decide admission.
    void seed_guides_admission() {
        auto p = make_policy(PolicyKind::WTinyLfu, 200);
        std::optional<uint64_t> ev;
        for (uint64_t k = 0; k < 200; ++k) p->seed(k, 12);
        for (uint64_t k = 0; k < 200; ++k) QVERIFY(p->admit(k, &ev));
        QCOMPARE(p->size(), 200u);
        for (uint64_t k = 500; k < 1500; ++k) p->admit(k, &ev);
        int kept = 0;
        for (uint64_t k = 0; k < 200; ++k) kept += p->contains(k);
        QVERIFY2(kept >= 190, qPrintable(QString("only %1 of 200 seeded keys kept").arg(kept)));
    }

    void zipf_wtinylfu_beats_lru() {
        const uint64_t n_keys = 1000000;
        const auto trace = zipf_trace(n_keys, 1.0, 4000000, 42);
        for (double share : {0.05, 0.25}) {
            const uint64_t cap = (uint64_t)(share * n_keys);
            const auto lru = replay(PolicyKind::Lru, cap, trace);
            const auto lfu = replay(PolicyKind::WTinyLfu, cap, trace);
            const auto best = replay_optimal(cap, trace);
            qInfo("Zipf(1.0) over %llu keys, %llu accesses, capacity %.0f%%: LRU hit rate %.4f, W-TinyLFU %.4f, "
                  "the best possible %.4f",
                  (unsigned long long)n_keys, (unsigned long long)trace.size(), share * 100, lru.hit_rate,
                  lfu.hit_rate, best.hit_rate);
            QVERIFY(best.hits >= lfu.hits && best.hits >= lru.hits);
            QCOMPARE(lru.accesses, (uint64_t)trace.size());
            QVERIFY(lru.hits <= lru.accesses && lfu.hits <= lfu.accesses);
            // Measured 0.7547 vs 0.7165 at 5%: 13% fewer misses. A broken
            // sketch or admission falls to LRU's rate or below.
            const double lru_miss = 1 - lru.hit_rate, lfu_miss = 1 - lfu.hit_rate;
            if (share == 0.05) {
                QVERIFY2(lfu.hit_rate > lru.hit_rate + 0.025,
                         qPrintable(QString("W-TinyLFU %1 vs LRU %2").arg(lfu.hit_rate).arg(lru.hit_rate)));
                QVERIFY(lfu_miss < 0.9 * lru_miss);
            } else {
                QVERIFY(lfu.hit_rate > lru.hit_rate);
            }
        }
        const auto empty = replay(PolicyKind::WTinyLfu, 10, {});
        QCOMPARE(empty.accesses, 0u);
        QCOMPARE(empty.hit_rate, 0.0);
    }

    // Traffic where recency is everything — a working set that moves on
    // (one document, then the next): frequencies learned on the old set make
    // a 1% window reject the new one. The window grows by hill climbing
    // until the hit rate is near LRU's; on Zipf traffic (above) it stays small.
    void moving_working_set_grows_the_window() {
        const uint64_t cap = 10000, set = 8000, per_phase = 200000;
        std::vector<uint64_t> trace;
        std::mt19937_64 rng(7);
        for (uint64_t phase = 0; phase < 20; ++phase) {
            std::uniform_int_distribution<uint64_t> pick(0, set - 1);
            for (uint64_t i = 0; i < per_phase; ++i) trace.push_back(phase * 1000000 + pick(rng));
        }
        const auto lru = replay(PolicyKind::Lru, cap, trace);
        const auto lfu = replay(PolicyKind::WTinyLfu, cap, trace);
        qInfo("moving working set (%llu keys of %llu in the cache, %llu accesses per set): LRU %.4f, W-TinyLFU %.4f",
              (unsigned long long)set, (unsigned long long)cap, (unsigned long long)per_phase, lru.hit_rate,
              lfu.hit_rate);
        // Every set is first seen cold: LRU misses exactly its 8000 keys a phase.
        QVERIFY(lru.hit_rate > 0.95);
        // Measured: LRU 0.960, W-TinyLFU 0.921 (0.734 with the window fixed at 1%).
        QVERIFY2(lfu.hit_rate > lru.hit_rate - 0.05,
                 qPrintable(QString("W-TinyLFU %1 vs LRU %2").arg(lfu.hit_rate).arg(lru.hit_rate)));
        const auto best = replay_optimal(cap, trace);
        qInfo("  the best any cache of that size could do: %.4f", best.hit_rate);
        QVERIFY(best.hits >= lru.hits && best.hits >= lfu.hits);
    }

    // Belady's optimum is the optimum: on small traces it finds exactly the
    // most hits an exhaustive search over every keep/decline/evict choice
    // finds; on a cycle one longer than the cache, where LRU never hits, it
    // keeps what comes back first.
    void optimal_is_the_best_any_cache_does() {
        const auto cycle = replay_optimal(2, {1, 2, 3, 1, 2, 3, 1, 2, 3});
        QCOMPARE(cycle.accesses, 9u);
        QCOMPARE(cycle.hits, 4u);
        QCOMPARE(replay(PolicyKind::Lru, 2, {1, 2, 3, 1, 2, 3, 1, 2, 3}).hits, 0u);
        QCOMPARE(replay_optimal(0, {1, 1, 1}).hits, 0u);
        QCOMPARE(replay_optimal(5, {}).accesses, 0u);

        std::mt19937_64 rng(11);
        for (int t = 0; t < 300; ++t) {
            const size_t n = 4 + rng() % 9, n_keys = 2 + rng() % 4, cap = rng() % 4;
            std::vector<uint64_t> trace(n);
            for (auto& k : trace) k = rng() % n_keys;
            const uint64_t want = best_hits(trace, 0, {}, cap);
            const auto got = replay_optimal(cap, trace);
            QVERIFY2(got.hits == want, qPrintable(QString("trace %1, capacity %2: %3 hits, the best is %4")
                                                       .arg(t).arg(cap).arg(got.hits).arg(want)));
            QVERIFY(got.hits >= replay(PolicyKind::Lru, cap, trace).hits);
        }
    }
};

QTEST_GUILESS_MAIN(TestEngramPolicy)
#include "test_engram_policy.moc"
