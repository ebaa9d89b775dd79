// The sampler as a user meets it: greedy is argmax, each filter keeps what it
// promises, penalties change choices, temperature shapes the distribution,
// and a seed reproduces the same tokens.
#include <QtTest>

#include <cmath>

#include "sampling/sampler.h"

using namespace eg;

namespace {
SamplerParams plain(float temp) {
    SamplerParams p;
    p.temperature = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}
}  // namespace

class TestSampler : public QObject {
    Q_OBJECT
private slots:
    void greedy_is_argmax() {
        Sampler s(plain(0.0f));
        const std::vector<float> l = {0.1f, 3.0f, -1.0f, 2.9f};
        QCOMPARE(s.sample(l.data(), 4, {}), 1);
        const std::vector<float> tie = {1.0f, 5.0f, 5.0f};
        QCOMPARE(s.sample(tie.data(), 3, {}), 1);  // first of equal logits
    }

    void temperature_shapes_distribution() {
        // p(1) / p(0) = e^(ln 2 / T): 2 at T = 1, 4 at T = 0.5.
        const std::vector<float> l = {0.0f, std::log(2.0f)};
        for (float temp : {1.0f, 0.5f}) {
            Sampler s(plain(temp));
            int ones = 0;
            const int n = 20000;
            for (int i = 0; i < n; ++i) ones += s.sample(l.data(), 2, {}) == 1;
            const double expect = temp == 1.0f ? 2.0 / 3.0 : 4.0 / 5.0;
            // 20000 draws: standard error ~0.0033; 0.02 is six of them.
            QVERIFY2(std::fabs(ones / double(n) - expect) < 0.02, qPrintable(QString::number(ones / double(n))));
        }
    }

    void filters_keep_what_they_promise() {
        const std::vector<float> l = {5.0f, 4.0f, 1.0f, 0.5f, -2.0f};
        SamplerParams k = plain(5.0f);  // hot: without filters anything goes
        k.top_k = 2;
        Sampler sk(k);
        for (int i = 0; i < 2000; ++i) QVERIFY(sk.sample(l.data(), 5, {}) <= 1);

        SamplerParams p = plain(5.0f);
        p.top_p = 0.5f;  // softmax(l) puts ~0.71 on token 0: only it survives
        Sampler sp(p);
        for (int i = 0; i < 2000; ++i) QCOMPARE(sp.sample(l.data(), 5, {}), 0);

        SamplerParams m = plain(5.0f);
        m.min_p = 0.3f;  // keeps tokens with p >= 0.3 * p(top): 0 and 1 (p1/p0 = e^-1 = 0.37)
        Sampler sm(m);
        bool saw1 = false;
        for (int i = 0; i < 2000; ++i) {
            const int t = sm.sample(l.data(), 5, {});
            QVERIFY(t <= 1);
            saw1 |= t == 1;
        }
        QVERIFY(saw1);
    }

    void penalties_change_the_choice() {
        const std::vector<float> l = {2.0f, 1.9f, 0.0f};
        SamplerParams r = plain(0.0f);
        r.repeat_penalty = 1.2f;  // 2.0 / 1.2 = 1.67 < 1.9
        Sampler s(r);
        QCOMPARE(s.sample(l.data(), 3, {}), 0);
        QCOMPARE(s.sample(l.data(), 3, {0}), 1);
        SamplerParams f = plain(0.0f);
        f.frequency_penalty = 0.06f;  // two repeats: 2.0 - 0.12 = 1.88 < 1.9
        Sampler sf(f);
        QCOMPARE(sf.sample(l.data(), 3, {0}), 0);
        QCOMPARE(sf.sample(l.data(), 3, {0, 0}), 1);
        SamplerParams pr = plain(0.0f);
        pr.presence_penalty = 0.5f;
        Sampler sp(pr);
        QCOMPARE(sp.sample(l.data(), 3, {0}), 1);
        // Only the last penalty_last_n tokens count.
        pr.penalty_last_n = 1;
        Sampler sl(pr);
        QCOMPARE(sl.sample(l.data(), 3, {0, 2}), 0);
    }

    // OpenAI's logit_bias: -100 bans a token, +100 all but forces one, and it
    // acts before the penalties; ids outside the vocabulary are ignored.
    void logit_bias_bans_and_forces_tokens() {
        const std::vector<float> l = {2.0f, 1.9f, 0.0f};
        SamplerParams ban = plain(0.0f);
        ban.logit_bias = {{0, -100.0f}, {7, 50.0f}};
        Sampler sb(ban);
        QCOMPARE(sb.sample(l.data(), 3, {}), 1);
        SamplerParams force = plain(1.0f);
        force.logit_bias = {{2, 100.0f}};
        Sampler sf(force);
        for (int i = 0; i < 50; ++i) QCOMPARE(sf.sample(l.data(), 3, {}), 2);
        SamplerParams both = plain(0.0f);
        both.logit_bias = {{1, 0.05f}};  // 1.95 beats 2.0 / 1.2 once 0 was seen
        both.repeat_penalty = 1.2f;
        Sampler s2(both);
        QCOMPARE(s2.sample(l.data(), 3, {}), 0);
        QCOMPARE(s2.sample(l.data(), 3, {0}), 1);
        QCOMPARE(l[0], 2.0f);  // the caller's logits are left alone
    }

    void same_seed_same_tokens() {
        std::vector<float> l(100);
        for (int i = 0; i < 100; ++i) l[i] = std::sin(i * 0.37f) * 3;
        auto draw = [&](uint64_t seed) {
            SamplerParams p = plain(1.0f);
            p.seed = seed;
            Sampler s(p);
            std::vector<int32_t> out;
            for (int i = 0; i < 50; ++i) out.push_back(s.sample(l.data(), 100, out));
            return out;
        };
        QCOMPARE(draw(42), draw(42));
        QVERIFY(draw(42) != draw(43));
    }
};

QTEST_APPLESS_MAIN(TestSampler)
#include "test_sampler.moc"
