// Each architecture family through our shared decoder against exact math:
// tiny random-weight qwen2, qwen3 and llama3 (rope_freqs) models made by
// tests/reference/arch/make_arch_models.py, with the full logits and greedy
// continuations of a float64 forward of the same weights in arch_exact.json
// (tests/reference/model/make_exact_reference.py arch). Proves the per-family
// parts the SmolLM2 test never reaches: QKV biases, QK-norm, key_length !=
// n_embd/n_head, NeoX RoPE and llama3 frequency factors.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

namespace {

// The weights are F32, so the engine quantizes no activation; it rounds Q, K,
// V and the attention weights to F16 (relative step 2^-11) and sums in
// float32. Measured against the float64 forward, batch and token by token
// alike (AMD EPYC, AVX-512): max |ours - exact| over all logits 0.0036
// (qwen2), 0.0021 (qwen3), 0.0018 (llama3), on logits spanning ~10 units;
// llama.cpp 0.3.16 is off from exact math by the same 0.0036/0.0021/0.0018.
// 0.02 is five times the worst of them and a hundred times below a real
// mistake: measured (with llama.cpp) on variants of these models, llama3 with
// rope_freqs all 1 moves the logits by 2.4, qwen2 without its K bias by 2.0,
// qwen2 with adjacent-pair instead of NeoX RoPE by 5.9, qwen3 with QK-norm
// weights all 1 by 3.1.
constexpr double kLogitTol = 0.02;

nlohmann::json golden() {
    std::ifstream in(eg_test::fixture("reference/arch/arch_exact.json"));
    return nlohmann::json::parse(in);
}

const nlohmann::json& entry(const nlohmann::json& g, const std::string& name) {
    for (const auto& m : g["models"])
        if (m["name"] == name) return m;
    qFatal("arch_exact.json has no model %s", name.c_str());
}

int32_t argmax(const float* l, int64_t n) {
    int32_t b = 0;
    for (int64_t i = 1; i < n; ++i)
        if (l[i] > l[b]) b = (int32_t)i;
    return b;
}

std::unique_ptr<Model> load(const std::string& name) {
    auto m = Model::load(eg_test::fixture("reference/arch/" + name + ".gguf"));
    if (!m.ok()) qWarning("%s: %s", name.c_str(), m.message().c_str());
    return m.ok() ? std::move(m.value()) : nullptr;
}

// Prompt logits within kLogitTol of the exact ones over the whole vocabulary,
// the prompt run as one batch (prefill kernels) and token by token (decode).
void check_logits(const std::string& name) {
    const auto g = golden();
    const auto& ref = entry(g, name);
    auto model = load(name);
    QVERIFY(model);
    const auto toks = ref["tokens"].get<std::vector<int32_t>>();
    const auto want = ref["logits"].get<std::vector<double>>();
    double lo = want[0], hi = want[0];
    for (double w : want) lo = std::min(lo, w), hi = std::max(hi, w);
    QVERIFY2(hi - lo > 1.0, "degenerate reference logits: the comparison would prove nothing");
    for (const bool batch : {true, false}) {
        auto s = Session::create(*model, SessionOptions{128, 512, 0});
        QVERIFY(s.ok());
        if (batch) {
            QVERIFY(s.value()->eval(toks).ok());
        } else {
            for (int32_t t : toks) QVERIFY(s.value()->eval(&t, 1).ok());
        }
        QCOMPARE(s.value()->n_vocab(), (int64_t)want.size());
        const float* l = s.value()->logits();
        double worst = 0;
        for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs((double)l[i] - want[i]));
        const char* how = batch ? "one batch" : "token by token";
        qInfo("%s, %s: max |ours - exact| over all %zu logits = %.3g (logits span %.2f)", name.c_str(), how,
              want.size(), worst, hi - lo);
        QVERIFY2(worst < kLogitTol, qPrintable(QString("%1, %2: max logit error %3 against exact math, more than %4")
                                                   .arg(name.c_str(), how).arg(worst).arg(kLogitTol)));
    }
}

// 16 greedy tokens, each fed back one at a time (the decode path), identical
// to the exact forward's. Ours may only differ where the exact top-2 gap is
// below 2 * kLogitTol (each of the two logits off by up to kLogitTol): such a
// step is skipped with its gap in the message instead of passing silently.
// None of the committed prompts has one (the smallest gap, printed by
// make_exact_reference.py, is 0.076).
void check_greedy(const std::string& name) {
    const auto g = golden();
    const auto& ref = entry(g, name);
    auto model = load(name);
    QVERIFY(model);
    auto s = Session::create(*model, SessionOptions{128, 512, 0});
    QVERIFY(s.ok());
    Session& sess = *s.value();
    QVERIFY(sess.eval(ref["tokens"].get<std::vector<int32_t>>()).ok());
    const auto want = ref["greedy"].get<std::vector<int32_t>>();
    const auto gaps = ref["greedy_top2_gap"].get<std::vector<float>>();
    QCOMPARE(want.size(), size_t(16));
    for (size_t i = 0; i < want.size(); ++i) {
        const int32_t t = argmax(sess.logits(), sess.n_vocab());
        if (t != want[i]) {
            const QString msg = QString("%1: greedy token %2 is %3, the exact forward chose %4 (its top-2 gap: %5)")
                                    .arg(name.c_str()).arg(i).arg(t).arg(want[i]).arg(gaps[i]);
            if (gaps[i] < 2 * kLogitTol) QSKIP(qPrintable(msg + ", a near-tie"));
            QFAIL(qPrintable(msg));
        }
        QVERIFY(sess.eval(&t, 1).ok());
    }
    qInfo("%s: %zu greedy tokens equal to the exact forward's (its smallest top-2 gap %.3f)", name.c_str(),
          want.size(), *std::min_element(gaps.begin(), gaps.end()));
}

}  // namespace

class TestArch : public QObject {
    Q_OBJECT

private slots:
    void qwen2_hparams() {
        auto m = load("qwen2-tiny");
        QVERIFY(m);
        const HParams& hp = m->hparams();
        QCOMPARE(hp.arch, std::string("qwen2"));
        QCOMPARE(hp.n_layer, 2);
        QCOMPARE(hp.n_embd, 64);
        QCOMPARE(hp.n_head, 4);
        QCOMPARE(hp.n_head_kv, 2);
        QCOMPARE(hp.head_dim, 16);
        QCOMPARE(hp.n_rot, 16);
        QVERIFY(hp.rope_type == RopeType::NeoX);
        QVERIFY(hp.has_qkv_bias);
        QVERIFY(!hp.has_qk_norm);
        QVERIFY(hp.tied_output);
        QCOMPARE(hp.rope_freq_base, 1000000.0f);
        QVERIFY(m->weights().layers[0].bq && m->weights().layers[1].bv);
        QVERIFY(!m->weights().rope_freqs);
    }

    void qwen3_hparams() {
        auto m = load("qwen3-tiny");
        QVERIFY(m);
        const HParams& hp = m->hparams();
        QCOMPARE(hp.arch, std::string("qwen3"));
        QCOMPARE(hp.n_embd, 64);
        QCOMPARE(hp.n_head, 4);
        QCOMPARE(hp.n_head_kv, 2);
        // key_length, not n_embd / n_head = 16: Q is wider than the residual stream.
        QCOMPARE(hp.head_dim, 32);
        QCOMPARE(hp.n_rot, 32);
        QCOMPARE(hp.q_dim(), 128);
        QCOMPARE(hp.kv_dim(), 64);
        QVERIFY(hp.rope_type == RopeType::NeoX);
        QVERIFY(!hp.has_qkv_bias);
        QVERIFY(hp.has_qk_norm);
        QVERIFY(m->weights().layers[1].q_norm && m->weights().layers[1].k_norm);
        QVERIFY(!m->weights().rope_freqs);
    }

    void llama3_hparams() {
        auto m = load("llama3-tiny");
        QVERIFY(m);
        const HParams& hp = m->hparams();
        QCOMPARE(hp.arch, std::string("llama"));
        QCOMPARE(hp.n_head, 4);
        QCOMPARE(hp.n_head_kv, 2);
        QCOMPARE(hp.head_dim, 16);
        QVERIFY(hp.rope_type == RopeType::Normal);
        QVERIFY(!hp.has_qkv_bias);
        QVERIFY(!hp.has_qk_norm);
        QVERIFY(!hp.tied_output);
        QCOMPARE(hp.rope_freq_base, 500000.0f);
        QVERIFY(m->weights().rope_freqs);
        QVERIFY(m->weights().rope_freqs[0] != 1.0f);
    }

    void qwen2_logits_match_exact() { check_logits("qwen2-tiny"); }
    void qwen3_logits_match_exact() { check_logits("qwen3-tiny"); }
    void llama3_logits_match_exact() { check_logits("llama3-tiny"); }

    void qwen2_greedy_16_tokens_match_exact() { check_greedy("qwen2-tiny"); }
    void qwen3_greedy_16_tokens_match_exact() { check_greedy("qwen3-tiny"); }
    void llama3_greedy_16_tokens_match_exact() { check_greedy("llama3-tiny"); }
};

QTEST_APPLESS_MAIN(TestArch)
#include "test_arch.moc"
