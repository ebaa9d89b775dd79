// Blocks split across backends (issue 6): the path a GPU + CPU split takes,
// run in CI with two CPU backend instances as if one were the device. The
// activations cross between ranges once per step; each range keeps the KV
// cache of its own blocks; the output head sits on one of them. Whatever the
// split, the model must answer exactly as when it runs whole.
#include <QtTest>

#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

namespace {

struct Run {
    std::vector<float> logits;
    std::vector<int32_t> tokens;
};

Result<Run> greedy(const Model& m, SessionOptions so, const std::vector<int32_t>& prompt, int n) {
    auto s = Session::create(m, std::move(so));
    if (!s) return s.error();
    Session& ss = *s.value();
    if (auto st = ss.eval(prompt); !st) return st.error();
    Run r;
    r.logits.assign(ss.logits(), ss.logits() + ss.n_vocab());
    for (int i = 0; i < n; ++i) {
        const float* l = ss.logits();
        int32_t best = 0;
        for (int64_t j = 1; j < ss.n_vocab(); ++j)
            if (l[j] > l[best]) best = (int32_t)j;
        r.tokens.push_back(best);
        if (auto st = ss.eval(&best, 1); !st) return st.error();
    }
    return r;
}

SessionOptions split_at(std::vector<int64_t> cuts, int64_t n_layer, std::string head = "") {
    SessionOptions so{256, 32, 2};
    int64_t first = 0;
    cuts.push_back(n_layer);
    for (int64_t c : cuts) {
        so.split.push_back({"cpu", first, c});
        first = c;
    }
    so.output_device = std::move(head);
    return so;
}

}  // namespace

class TestSplit : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    std::vector<int32_t> prompt_;

private slots:
    void initTestCase() {
        auto m = Model::load(eg_test::default_model_path());
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        model_ = std::move(m.value());
        prompt_ = model_->tokenizer().encode(
            "<|im_start|>user\nName three rivers of Europe.<|im_end|>\n<|im_start|>assistant\n", false, true);
    }

    void any_split_answers_as_the_whole_model() {
        const int64_t L = model_->hparams().n_layer;
        auto whole = greedy(*model_, SessionOptions{256, 32, 2}, prompt_, 32);
        QVERIFY(whole.ok());
        const std::vector<std::vector<int64_t>> cuts = {{L / 2}, {1}, {L - 1}, {10, 20}, {5, 6, 7, 29}};
        for (const auto& c : cuts) {
            auto got = greedy(*model_, split_at(c, L), prompt_, 32);
            QVERIFY2(got.ok(), got.ok() ? "" : got.message().c_str());
            QCOMPARE(got->tokens, whole->tokens);
            QVERIFY(got->logits == whole->logits);  // bit for bit: the same kernels, one crossing per step
        }
    }

    void placement_and_memory_by_device() {
        const int64_t L = model_->hparams().n_layer;
        auto s = Session::create(*model_, split_at({12}, L));
        QVERIFY(s.ok());
        const auto p = s.value()->placement();
        QCOMPARE(p.size(), size_t(2));
        QCOMPARE(p[0].first, int64_t(0));
        QCOMPARE(p[0].last, int64_t(12));
        QCOMPARE(p[1].first, int64_t(12));
        QCOMPARE(p[1].last, L);
        const SessionMemory m = s.value()->memory();
        QCOMPARE(m.devices.size(), size_t(2));
        // KV splits by blocks: 12 of 30 blocks' worth on the first device.
        QCOMPARE(m.devices[0].kv_bytes * (uint64_t)(L - 12), m.devices[1].kv_bytes * 12);
        QCOMPARE(m.devices[0].kv_bytes + m.devices[1].kv_bytes, m.kv_bytes);
        // Whole: the same KV in one piece.
        auto w = Session::create(*model_, SessionOptions{256, 32, 2});
        QCOMPARE(w.value()->memory().kv_bytes, m.kv_bytes);
    }

    void bad_splits_are_refused_with_a_sentence() {
        const int64_t L = model_->hparams().n_layer;
        SessionOptions gap{256, 32, 2};
        gap.split = {{"cpu", 0, 10}, {"cpu", 11, L}};
        auto a = Session::create(*model_, gap);
        QVERIFY(!a.ok());
        QVERIFY2(a.message().find("cover") != std::string::npos, a.message().c_str());
        SessionOptions short_{256, 32, 2};
        short_.split = {{"cpu", 0, 10}};
        QVERIFY(!Session::create(*model_, short_).ok());
        SessionOptions dev{256, 32, 2};
        dev.split = {{"tpu", 0, L}};
        auto c = Session::create(*model_, dev);
        QVERIFY(!c.ok());
        QVERIFY2(c.message().find("tpu") != std::string::npos, c.message().c_str());
        SessionOptions head = split_at({10}, L, "cuda:0");
        QVERIFY(!Session::create(*model_, head).ok());
    }

    void cuda_range_without_cuda_says_why() {
        // With no GPU (CI), asking for one is an error sentence, not a crash
        // and not a silent CPU run.
        const int64_t L = model_->hparams().n_layer;
        SessionOptions so{256, 32, 2};
        so.split = {{"cpu", 0, L / 2}, {"cuda:7", L / 2, L}};
        auto s = Session::create(*model_, so);
        QVERIFY(!s.ok());
        QVERIFY2(s.message().find("cuda:7") != std::string::npos, s.message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestSplit)
#include "test_split.moc"
