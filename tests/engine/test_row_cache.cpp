// The host side of the VRAM row cache (runtime/row_cache.h): what a GPU
// backend believes its slots hold must be what it wrote there. Checked
// against a shadow "device" (a vector of slots written with each miss's
// row) over random Zipf-like batches: every slot a batch reads holds its row.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "runtime/row_cache.h"

using namespace eg;

class TestRowCache : public QObject {
    Q_OBJECT

private slots:
    void hitsMissesAndSharedRowsOfOneBatch() {
        RowSlotCache c(4);
        const uint64_t a[] = {7, 9, 7, 11};
        int32_t s[4];
        std::vector<RowSlotCache::Miss> miss;
        QVERIFY(c.assign(a, 4, s, &miss).ok());
        QCOMPARE(miss.size(), size_t(3));  // 7, 9, 11 once each
        QCOMPARE(s[0], s[2]);              // the same row, the same slot
        QVERIFY(s[0] != s[1] && s[1] != s[3] && s[0] != s[3]);
        QCOMPARE(c.misses(), uint64_t(3));
        QCOMPARE(c.hits(), uint64_t(0));

        const uint64_t b[] = {9, 12};
        int32_t t[2];
        QVERIFY(c.assign(b, 2, t, &miss).ok());
        QCOMPARE(t[0], s[1]);              // 9 stays where it was
        QCOMPARE(miss.size(), size_t(1));
        QCOMPARE(miss[0].row, uint64_t(12));
        QCOMPARE(c.hits(), uint64_t(1));
        QCOMPARE(c.size(), 4u);

        // Full: the least recently used row (7, then 11) goes first.
        const uint64_t d[] = {13};
        QVERIFY(c.assign(d, 1, t, &miss).ok());
        QCOMPARE(miss[0].slot, s[0]);
        QVERIFY(!c.holds(7));
        QVERIFY(c.holds(9) && c.holds(11) && c.holds(12) && c.holds(13));
    }

    void aBatchNeverEvictsItsOwnRows() {
        RowSlotCache c(3);
        const uint64_t a[] = {1, 2, 3};
        int32_t s[4];
        std::vector<RowSlotCache::Miss> miss;
        QVERIFY(c.assign(a, 3, s, &miss).ok());
        // 3 is used again by this batch, then 4 and 5 arrive: 4 may evict 1
        // or 2 but never a row of this batch (3, then 4 itself).
        const uint64_t b[] = {3, 4, 5};
        QVERIFY(c.assign(b, 3, s, &miss).ok());
        QVERIFY(c.holds(3) && c.holds(4) && c.holds(5));
        QCOMPARE(std::set<int32_t>(s, s + 3).size(), size_t(3));

        // Four distinct rows do not fit three slots: refused, and what is
        // held stays true (the rows this batch added are dropped again).
        const uint64_t e[] = {3, 6, 7, 8};
        auto st = c.assign(e, 4, s, &miss);
        QVERIFY(!st.ok());
        QVERIFY2(st.message().find("3 slots") != std::string::npos, st.message().c_str());
        QVERIFY(miss.empty());
        QVERIFY(!c.holds(6) && !c.holds(7) && !c.holds(8));
        QVERIFY(c.holds(3));
        QVERIFY(c.size() <= 3);
        // Still usable afterwards.
        const uint64_t f[] = {6, 7};
        QVERIFY(c.assign(f, 2, s, &miss).ok());
        QVERIFY(c.holds(6) && c.holds(7));
    }

    // The invariant a GPU backend relies on, over many random batches of a
    // skewed stream: after writing each miss's row into its slot, every slot
    // a batch was given holds that batch's row.
    void slotsAlwaysHoldTheRowsTheyAreSaidToHold() {
        const uint32_t cap = 257;
        RowSlotCache c(cap);
        std::vector<uint64_t> device(cap, UINT64_MAX);  // what each slot holds
        std::mt19937_64 rng(42);
        std::uniform_real_distribution<double> u(0, 1);
        std::vector<RowSlotCache::Miss> miss;
        uint64_t lookups = 0;
        for (int batch = 0; batch < 3000; ++batch) {
            const size_t n = 1 + rng() % 96;
            std::vector<uint64_t> ids(n);
            for (auto& r : ids) r = (uint64_t)std::floor(std::pow(20000.0, u(rng)));  // ~1/x popularity
            std::vector<int32_t> slot(n, -1);
            QVERIFY(c.assign(ids.data(), n, slot.data(), &miss).ok());
            std::set<uint64_t> missed;
            for (const auto& m : miss) {
                QVERIFY(m.slot >= 0 && (uint32_t)m.slot < cap);
                QVERIFY(missed.insert(m.row).second);  // once each
                device[(size_t)m.slot] = m.row;
            }
            for (size_t i = 0; i < n; ++i) QCOMPARE(device[(size_t)slot[i]], ids[i]);
            QVERIFY(c.size() <= cap);
            lookups += std::set<uint64_t>(ids.begin(), ids.end()).size();
        }
        QCOMPARE(c.hits() + c.misses(), lookups);
        // The head of a skewed stream stays: a real share of hits.
        QVERIFY2((double)c.hits() / (double)lookups > 0.3, qPrintable(QString::number(c.hits())));
        c.clear();
        QCOMPARE(c.size(), 0u);
        QVERIFY(!c.holds(1));
    }
};

QTEST_APPLESS_MAIN(TestRowCache)
#include "test_row_cache.moc"
