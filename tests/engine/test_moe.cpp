// The mixture-of-experts architectures against exact math: tiny random-weight
// qwen3moe and olmoe models (tests/reference/moe/make_moe_models.py) with the
// logits of a float64 forward of the same weights at every prompt position
// and its greedy continuation (moe_exact.py, moe_reference.json, which also
// holds llama.cpp 0.3.16's logits on the same tokens).
//
// Tolerance (tests/reference/moe/README.md): max |logit - exact| <= 0.04 and
// KL(exact || ours) <= 1e-4 per position. llama.cpp is off from the exact
// forward by 0.0116 (qwen3moe) and 0.0023 (olmoe); flipping one choice of the
// MoE math (top-k renormalization, Q/K norm per head or whole, RoPE style)
// moves the logits by 1.56 at least; every greedy top-2 gap is >= 0.044.
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

constexpr double kLogitTol = 0.04;
constexpr double kKlTol = 1e-4;

const nlohmann::json& golden() {
    static const nlohmann::json g = [] {
        std::ifstream in(eg_test::fixture("reference/moe/moe_reference.json"));
        return nlohmann::json::parse(in);
    }();
    return g;
}

const nlohmann::json& entry(const std::string& name) {
    for (const auto& m : golden()["models"])
        if (m["name"] == name) return m;
    qFatal("moe_reference.json has no model %s", name.c_str());
}

std::unique_ptr<Model> load(const std::string& name) {
    auto m = Model::load(eg_test::fixture("reference/moe/" + entry(name)["file"].get<std::string>()));
    if (!m.ok()) qWarning("%s: %s", name.c_str(), m.message().c_str());
    return m.ok() ? std::move(m.value()) : nullptr;
}

// KL(p || q) of the softmaxes of exact logits p and ours q, natural log.
double kl(const std::vector<double>& p_logits, const float* q_logits) {
    const size_t n = p_logits.size();
    const double pm = *std::max_element(p_logits.begin(), p_logits.end());
    double qm = q_logits[0];
    for (size_t i = 1; i < n; ++i) qm = std::max(qm, (double)q_logits[i]);
    double ps = 0, qs = 0;
    for (size_t i = 0; i < n; ++i) ps += std::exp(p_logits[i] - pm), qs += std::exp(q_logits[i] - qm);
    double d = 0;
    for (size_t i = 0; i < n; ++i) {
        const double lp = p_logits[i] - pm - std::log(ps), lq = q_logits[i] - qm - std::log(qs);
        d += std::exp(lp) * (lp - lq);
    }
    return d;
}

int32_t argmax(const float* l, int64_t n) {
    return (int32_t)(std::max_element(l, l + n) - l);
}

}  // namespace

class TestMoe : public QObject {
    Q_OBJECT

private slots:
    void shape_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("qwen3moe") << "qwen3moe-tiny";
        QTest::newRow("olmoe") << "olmoe-tiny";
    }
    // The keys reach the hyper-parameters and every block routes to experts.
    void shape() {
        QFETCH(QString, name);
        const auto& ref = entry(name.toStdString());
        auto m = load(name.toStdString());
        QVERIFY(m);
        const HParams& hp = m->hparams();
        QCOMPARE(hp.arch, ref["arch"].get<std::string>());
        QCOMPARE(hp.n_expert, ref["n_expert"].get<int64_t>());
        QCOMPARE(hp.n_expert_used, ref["n_expert_used"].get<int64_t>());
        QCOMPARE(hp.n_ff_exp, ref["n_ff_exp"].get<int64_t>());
        for (int64_t il = 0; il < hp.n_layer; ++il) {
            const std::string d = m->block(il).describe();
            QVERIFY2(d.find("moe_route") != std::string::npos && d.find("moe_experts") != std::string::npos,
                     d.c_str());
            QCOMPARE(d.find("renormalized") != std::string::npos, ref["norm_topk"].get<bool>());
        }
    }

    void logits_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("batch");
        for (const char* n : {"qwen3moe-tiny", "olmoe-tiny"}) {
            QTest::newRow(qPrintable(QString("%1 token by token").arg(n))) << n << false;
            QTest::newRow(qPrintable(QString("%1 one batch").arg(n))) << n << true;
        }
    }
    // Every prompt position token by token (the decode path), or each prefix
    // as one batch (prefill: every expert runs over the rows routed to it).
    void logits() {
        QFETCH(QString, name);
        QFETCH(bool, batch);
        const auto& ref = entry(name.toStdString());
        auto model = load(name.toStdString());
        QVERIFY(model);
        const auto toks = ref["tokens"].get<std::vector<int32_t>>();
        const auto want = ref["logits"].get<std::vector<std::vector<double>>>();
        QCOMPARE(want.size(), toks.size());
        double worst = 0, worst_kl = 0;
        auto check = [&](Session& s, size_t p) {
            const std::vector<double>& w = want[p];
            QCOMPARE(s.n_vocab(), (int64_t)w.size());
            for (size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::fabs((double)s.logits()[i] - w[i]));
            worst_kl = std::max(worst_kl, kl(w, s.logits()));
        };
        if (batch) {
            for (size_t p = 1; p <= toks.size(); p += 3) {
                auto s = Session::create(*model, SessionOptions{128, 64, 0});
                QVERIFY(s.ok());
                QVERIFY(s.value()->eval(std::vector<int32_t>(toks.begin(), toks.begin() + (long)p)).ok());
                check(*s.value(), p - 1);
            }
        } else {
            auto s = Session::create(*model, SessionOptions{128, 64, 0});
            QVERIFY(s.ok());
            for (size_t p = 0; p < toks.size(); ++p) {
                QVERIFY(s.value()->eval(&toks[p], 1).ok());
                check(*s.value(), p);
            }
        }
        qInfo("%s: max |ours - exact| %.3g, max KL %.3g (llama.cpp: %.3g)", qPrintable(name), worst, worst_kl,
              ref["agreement"]["max_abs_logit_diff"].get<double>());
        QVERIFY2(worst <= kLogitTol, qPrintable(QString("max logit error %1 > %2").arg(worst).arg(kLogitTol)));
        QVERIFY2(worst_kl <= kKlTol, qPrintable(QString("max KL %1 > %2").arg(worst_kl).arg(kKlTol)));
    }

    void greedy_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("qwen3moe") << "qwen3moe-tiny";
        QTest::newRow("olmoe") << "olmoe-tiny";
    }
    // 32 greedy tokens, fed back one at a time, identical to the exact
    // forward's. A step whose exact top-2 gap is below 2 * kLogitTol may
    // differ: it is skipped with the gap in the message, never passed silently.
    void greedy() {
        QFETCH(QString, name);
        const auto& ref = entry(name.toStdString());
        auto model = load(name.toStdString());
        QVERIFY(model);
        auto s = Session::create(*model, SessionOptions{128, 64, 0});
        QVERIFY(s.ok());
        Session& sess = *s.value();
        QVERIFY(sess.eval(ref["tokens"].get<std::vector<int32_t>>()).ok());
        const auto want = ref["greedy"].get<std::vector<int32_t>>();
        const auto gaps = ref["greedy_top2_gap"].get<std::vector<double>>();
        QCOMPARE(want.size(), size_t(32));
        for (size_t i = 0; i < want.size(); ++i) {
            const int32_t t = argmax(sess.logits(), sess.n_vocab());
            if (t != want[i]) {
                const QString msg = QString("greedy token %1 is %2, the exact forward chose %3 (its top-2 gap %4)")
                                        .arg(i).arg(t).arg(want[i]).arg(gaps[i]);
                if (gaps[i] < 2 * kLogitTol) QSKIP(qPrintable(msg + ", a near-tie"));
                QFAIL(qPrintable(msg));
            }
            QVERIFY(sess.eval(&t, 1).ok());
        }
    }
};

QTEST_APPLESS_MAIN(TestMoe)
#include "test_moe.moc"
