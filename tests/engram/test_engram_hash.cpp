// Engram's n-gram hashing against the NumPy reference (hash_reference.py,
// itself checked against engram_demo_v1.py's NgramHashMapping by
// check_against_demo.py): 10,000 random sequences made by the same SplitMix64
// on both sides, digests of every row in hash_golden.json. Layer 1 of the
// golden config has multipliers above 2^63, so the int64 wrap and NumPy's
// floor modulo of negative mixes are exercised, not only the easy case.
#include <QtTest>

#include <fstream>

#include <nlohmann/json.hpp>

#include "forge.h"
#include "hash.h"
#include "test_env.h"

using namespace eg;
using namespace eg::engram;

namespace {

struct SplitMix64 {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

nlohmann::json golden() {
    std::ifstream in(eg_test::fixture("reference/engram/hash_golden.json"));
    if (!in) qFatal("hash_golden.json is missing");
    return nlohmann::json::parse(in);
}

// The golden's configuration as an in-memory Config (no tensors: hashing
// needs only the keys).
Config config_of(const nlohmann::json& g) {
    Config c;
    c.max_ngram = g["max_ngram"];
    c.head_count = g["heads"];
    c.key_length = 1;
    c.pad_id = g["pad_id"];
    c.n_compressed = g["n_compressed"];
    const int n_layers = g["n_layers"];
    for (int l = 0; l < n_layers; ++l) {
        c.layer_ids.push_back(l);
        for (const auto& m : g["multipliers"][(size_t)l]) c.multipliers.push_back(std::stoull(m.get<std::string>()));
        c.layers.push_back({});
    }
    c.primes = g["primes"].get<std::vector<uint64_t>>();
    c.offsets = g["offsets"].get<std::vector<uint64_t>>();
    return c;
}

std::vector<int32_t> next_sequence(SplitMix64& r, int64_t n_compressed) {
    const int64_t n = 1 + (int64_t)(r.next() % 64);
    std::vector<int32_t> s((size_t)n);
    for (auto& x : s) x = (int32_t)(r.next() % (uint64_t)n_compressed);
    return s;
}

std::string join(const uint64_t* v, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += std::to_string(v[i]);
    }
    return s;
}

}  // namespace

class TestEngramHash : public QObject {
    Q_OBJECT

private slots:
    // The golden's primes are what our find_primes() gives for its sizes.
    void primesAsTheReference() {
        const auto g = golden();
        QCOMPARE(find_primes(g["rows_per_head"], g["n_layers"], g["max_ngram"], g["heads"]),
                 g["primes"].get<std::vector<uint64_t>>());
    }

    // Full rows of the first sequences: a failure here is readable.
    void firstSequencesRowByRow() {
        const auto g = golden();
        const Config c = config_of(g);
        const Hasher h(c);
        const int64_t hpl = c.heads_per_layer();
        for (const auto& ex : g["first"]) {
            const auto seq = ex["compressed"].get<std::vector<int32_t>>();
            for (size_t l = 0; l < c.layers.size(); ++l) {
                std::vector<uint64_t> got(seq.size() * (size_t)hpl);
                h.rows((int)l, seq.data(), 0, (int64_t)seq.size(), got.data());
                for (size_t t = 0; t < seq.size(); ++t) {
                    const auto want = ex["rows"][l][t].get<std::vector<uint64_t>>();
                    const std::vector<uint64_t> row(got.begin() + (std::ptrdiff_t)(t * hpl),
                                                    got.begin() + (std::ptrdiff_t)((t + 1) * hpl));
                    if (row != want)
                        QFAIL(qPrintable(QString("layer %1 position %2: got %3, want %4")
                                             .arg(l).arg(t)
                                             .arg(QString::fromStdString(join(row.data(), row.size())))
                                             .arg(QString::fromStdString(join(want.data(), want.size())))));
                }
            }
        }
    }

    // Every row of 10,000 sequences, compared through per-sequence digests.
    void tenThousandSequences() {
        const auto g = golden();
        const Config c = config_of(g);
        const Hasher h(c);
        const int64_t hpl = c.heads_per_layer();
        const auto digests = g["digests"].get<std::vector<std::string>>();
        QCOMPARE((int)digests.size(), g["n_sequences"].get<int>());
        SplitMix64 r{g["seq_seed"].get<uint64_t>()};
        std::vector<uint64_t> rows;
        int64_t negative_mixes = 0;
        for (size_t s = 0; s < digests.size(); ++s) {
            const auto seq = next_sequence(r, c.n_compressed);
            uint64_t d = 0xCBF29CE484222325ull;
            for (size_t l = 0; l < c.layers.size(); ++l) {
                rows.resize(seq.size() * (size_t)hpl);
                h.rows((int)l, seq.data(), 0, (int64_t)seq.size(), rows.data());
                for (uint64_t v : rows) d = (d ^ v) * 0x100000001B3ull;
                // Count bigram mixes that are negative as int64 (the case a
                // C-style remainder would get wrong).
                const uint64_t* m = c.multipliers.data() + l * (size_t)c.max_ngram;
                for (size_t t = 0; t < seq.size(); ++t) {
                    const uint64_t prev = t ? (uint64_t)seq[t - 1] : (uint64_t)c.pad_id;
                    negative_mixes += (int64_t)(((uint64_t)seq[t] * m[0]) ^ (prev * m[1])) < 0;
                }
            }
            char hex[17];
            std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)d);
            if (digests[s] != hex) {
                rows.resize(seq.size() * (size_t)hpl);
                h.rows(1, seq.data(), 0, (int64_t)seq.size(), rows.data());
                QFAIL(qPrintable(QString("sequence %1 (length %2, first id %3): digest %4, want %5; layer 1 position 0 "
                                         "rows: %6")
                                     .arg(s).arg(seq.size()).arg(seq[0]).arg(hex)
                                     .arg(QString::fromStdString(digests[s]))
                                     .arg(QString::fromStdString(join(rows.data(), (size_t)hpl)))));
            }
        }
        QVERIFY2(negative_mixes > 1000, "the golden must exercise negative int64 mixes");
    }

    // Rows at a position depend only on the tokens up to it: hashing a
    // prefix (decode) gives the rows the full sequence (prefill) gives.
    void prefixGivesSameRows() {
        const auto g = golden();
        const Config c = config_of(g);
        const Hasher h(c);
        const int64_t hpl = c.heads_per_layer();
        const std::vector<int32_t> seq = {5, 999, 0, 7, 7, 123, 456, 1, 2, 3};
        std::vector<uint64_t> full(seq.size() * (size_t)hpl), one((size_t)hpl);
        h.rows(1, seq.data(), 0, (int64_t)seq.size(), full.data());
        for (size_t t = 0; t < seq.size(); ++t) {
            const std::vector<int32_t> prefix(seq.begin(), seq.begin() + (std::ptrdiff_t)t + 1);
            h.rows_at(1, prefix.data(), (int64_t)t, one.data());
            QVERIFY(std::equal(one.begin(), one.end(), full.begin() + (std::ptrdiff_t)(t * hpl)));
        }
        // Position 0 sees pad before it: a sequence starting with pad_id
        // differs from one starting with something else only at n-grams that
        // include position 0.
        for (int64_t j = 0; j < hpl; ++j) {
            QVERIFY(full[(size_t)j] >= c.offsets[(size_t)(hpl + j)]);
            QVERIFY(full[(size_t)j] < c.offsets[(size_t)(hpl + j)] + c.primes[(size_t)(hpl + j)]);
        }
    }

    void dedupRows() {
        const std::vector<uint64_t> rows = {9, 3, 9, 100, 3, 0};
        std::vector<uint32_t> index;
        const auto u = dedup_rows(rows.data(), rows.size(), &index);
        QCOMPARE(u, (std::vector<uint64_t>{0, 3, 9, 100}));
        QCOMPARE(index, (std::vector<uint32_t>{2, 1, 2, 3, 1, 0}));
        QVERIFY(dedup_rows(nullptr, 0, &index).empty());
        QVERIFY(index.empty());
    }
};

QTEST_APPLESS_MAIN(TestEngramHash)
#include "test_engram_hash.moc"
