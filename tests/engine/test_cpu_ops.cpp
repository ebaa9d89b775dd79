// The CPU operations' two implementations (portable reference and
// AVX2/FMA/F16C) give the same bits on fresh random data: attention in decode
// and prefill shapes, at lengths around the 16/32/64 boundaries its sums use,
// and SwiGLU over the whole range where exp under- and overflows. The flash
// attention (AVX-512 and AVX2) is held to float64 attention instead.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "cpu/ops.h"

using namespace eg;

class TestCpuOps : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !__builtin_cpu_supports("f16c"))
            QSKIP("this CPU has no AVX2/FMA/F16C: only the portable path exists here");
    }

    void attention_paths_agree_bitwise_data() {
        QTest::addColumn<int>("n_tok");
        QTest::addColumn<int>("pos0");
        QTest::addColumn<int>("head_dim");
        QTest::newRow("decode at 1") << 1 << 0 << 64;
        QTest::newRow("decode at 31") << 1 << 30 << 64;
        QTest::newRow("decode at 65 (double tail)") << 1 << 64 << 64;
        QTest::newRow("decode at 97 (double tail)") << 1 << 96 << 64;
        QTest::newRow("decode at 200") << 1 << 199 << 64;
        QTest::newRow("decode hd 128") << 1 << 70 << 128;
        QTest::newRow("prefill 2") << 2 << 0 << 64;
        QTest::newRow("prefill 37") << 37 << 0 << 64;
        QTest::newRow("prefill 40 after 90") << 40 << 90 << 64;
        QTest::newRow("prefill hd 128") << 17 << 3 << 128;
        QTest::newRow("hd 80 (reference path)") << 5 << 60 << 80;
    }
    void attention_paths_agree_bitwise() {
        QFETCH(int, n_tok);
        QFETCH(int, pos0);
        QFETCH(int, head_dim);
        const int n_head = 6, n_head_kv = 2, n_ctx = 256;
        std::mt19937 rng(n_tok * 1000 + pos0 + head_dim);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> q((size_t)n_tok * n_head * head_dim);
        for (auto& x : q) x = nd(rng) * 2.0f;
        std::vector<uint16_t> k((size_t)n_ctx * n_head_kv * head_dim), v(k.size());
        for (auto& x : k) x = fp32_to_fp16(nd(rng));
        for (auto& x : v) x = fp32_to_fp16(nd(rng));
        ThreadPool pool(2);
        std::vector<float> out_a(q.size()), out_b(q.size()), sc_a(2 * attention_scores_stride(n_ctx)),
            sc_b(sc_a.size());
        AttentionArgs a{q.data(), k.data(), v.data(), out_a.data(), sc_a.data(), n_tok, pos0,
                        n_head, n_head_kv, head_dim, n_ctx, attention_scores_stride(n_ctx)};
        AttentionArgs b = a;
        b.out = out_b.data();
        b.scores = sc_b.data();
        attention_generic(a, pool);
        attention_avx2(b, pool);
        for (size_t i = 0; i < q.size(); ++i)
            if (std::memcmp(&out_a[i], &out_b[i], 4) != 0)
                QFAIL(qPrintable(QString("element %1: reference %2, AVX2 %3").arg(i).arg(out_a[i], 0, 'g', 9).arg(out_b[i], 0, 'g', 9)));
        // And the result is attention: a one-position query returns its value row.
        if (pos0 == 0) {
            for (int d = 0; d < head_dim; ++d) QCOMPARE(out_a[d], fp16_to_fp32(v[d]));
        }
    }

    // The flash-style kernels against float64 attention of the same
    // F32 queries and F16 cache: decode (split across threads by position
    // past 256) and prefill, GQA groups of 1 to 4, head sizes 64, 80, 128.
    void flash_attention_matches_float64_data() {
        QTest::addColumn<QString>("isa");
        QTest::addColumn<int>("n_tok");
        QTest::addColumn<int>("pos0");
        QTest::addColumn<int>("head_dim");
        QTest::addColumn<int>("n_head");
        QTest::addColumn<int>("n_head_kv");
        for (const char* isa : {"avx512", "avx2"}) {
            QTest::addRow("%s: decode at 1", isa) << QString(isa) << 1 << 0 << 64 << 6 << 2;
            QTest::addRow("%s: decode at 17", isa) << QString(isa) << 1 << 16 << 64 << 9 << 3;
            QTest::addRow("%s: decode at 300 (split)", isa) << QString(isa) << 1 << 299 << 64 << 8 << 8;
            QTest::addRow("%s: decode at 4000 (split)", isa) << QString(isa) << 1 << 3999 << 128 << 32 << 8;
            QTest::addRow("%s: decode hd 80", isa) << QString(isa) << 1 << 700 << 80 << 4 << 1;
            QTest::addRow("%s: prefill 37", isa) << QString(isa) << 37 << 0 << 64 << 9 << 3;
            QTest::addRow("%s: prefill 40 after 90", isa) << QString(isa) << 40 << 90 << 128 << 8 << 2;
            QTest::addRow("%s: prefill 19 after 1000", isa) << QString(isa) << 19 << 1000 << 64 << 6 << 6;
        }
    }
    void flash_attention_matches_float64() {
        QFETCH(QString, isa);
        QFETCH(int, n_tok);
        QFETCH(int, pos0);
        QFETCH(int, head_dim);
        QFETCH(int, n_head);
        QFETCH(int, n_head_kv);
        const int n_ctx = 4096;
        std::mt19937 rng(n_tok * 7919 + pos0 + head_dim);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> q((size_t)n_tok * n_head * head_dim);
        for (auto& x : q) x = nd(rng) * 3.0f;  // peaked softmaxes as well as flat ones
        std::vector<uint16_t> k((size_t)n_ctx * n_head_kv * head_dim), v(k.size());
        for (auto& x : k) x = fp32_to_fp16(nd(rng));
        for (auto& x : v) x = fp32_to_fp16(nd(rng));
        std::vector<float> out(q.size(), NAN);
        AttentionArgs a{q.data(), k.data(), v.data(), out.data(), nullptr, n_tok, pos0,
                        n_head, n_head_kv, head_dim, n_ctx, attention_scores_stride(n_ctx)};
        for (int threads : {1, 2}) {
            ThreadPool pool(threads);
            std::fill(out.begin(), out.end(), NAN);
            if (!attention_flash(a, pool, isa.toUtf8().constData())) QSKIP("this CPU lacks the instruction set");
            const int G = n_head / n_head_kv, kvs = n_head_kv * head_dim;
            double worst = 0;
            for (int t = 0; t < n_tok; ++t)
                for (int h = 0; h < n_head; ++h) {
                    const float* qr = q.data() + ((size_t)t * n_head + h) * head_dim;
                    const int g = h / G, n_valid = pos0 + t + 1;
                    std::vector<double> s(n_valid);
                    double mx = -INFINITY;
                    for (int j = 0; j < n_valid; ++j) {
                        double d = 0;
                        for (int e = 0; e < head_dim; ++e) d += (double)qr[e] * fp16_to_fp32(k[(size_t)j * kvs + g * head_dim + e]);
                        s[j] = d / std::sqrt((double)head_dim);
                        mx = std::max(mx, s[j]);
                    }
                    double sum = 0;
                    for (double& x : s) sum += (x = std::exp(x - mx));
                    for (int e = 0; e < head_dim; ++e) {
                        double ref = 0;
                        for (int j = 0; j < n_valid; ++j) ref += s[j] / sum * fp16_to_fp32(v[(size_t)j * kvs + g * head_dim + e]);
                        const float got = out[((size_t)t * n_head + h) * head_dim + e];
                        worst = std::max(worst, std::fabs(got - ref));
                        // values are ~N(0, 1): a wrong mask, scale or merge moves outputs by tenths
                        if (!(std::fabs(got - ref) <= 2e-5))
                            QFAIL(qPrintable(QString("threads %1, token %2, head %3, dim %4: got %5, float64 %6")
                                                 .arg(threads).arg(t).arg(h).arg(e).arg(got, 0, 'g', 9).arg(ref, 0, 'g', 12)));
                    }
                }
            qInfo("threads %d: max |flash - float64| = %.3g", threads, worst);
        }
    }

    void swiglu_paths_agree_bitwise() {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> ud(-120.0f, 120.0f);
        const int n = 4096 + 5;  // a tail past the 16-wide blocks too
        std::vector<float> g(n), u(n), a(n), b(n);
        for (int i = 0; i < n; ++i) {
            g[i] = i % 3 ? ud(rng) : ud(rng) / 40.0f;  // many near 0, some where exp(-x) over/underflows
            u[i] = ud(rng) / 10.0f;
        }
        swiglu_generic(g.data(), u.data(), a.data(), n);
        swiglu_avx2(g.data(), u.data(), b.data(), n);
        for (int i = 0; i < n; ++i)
            if (std::memcmp(&a[i], &b[i], 4) != 0)
                QFAIL(qPrintable(QString("g = %1: reference %2, AVX2 %3").arg(g[i]).arg(a[i], 0, 'g', 9).arg(b[i], 0, 'g', 9)));
        // silu(x) * u within float rounding of the exact value where it is well-conditioned.
        for (int i = 0; i < n; ++i) {
            const double x = g[i], ref = x / (1.0 + std::exp(-x)) * u[i];
            QVERIFY(std::fabs(a[i] - ref) <= 1e-5 * std::fabs(ref) + 1e-30);
        }
    }
};

QTEST_APPLESS_MAIN(TestCpuOps)
#include "test_cpu_ops.moc"
