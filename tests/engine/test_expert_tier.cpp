// A MoE model's experts in the memory tiers (model/expert_tier.h): a DRAM
// cache of a chosen size, the rest read from the model file on demand with
// the Engram store's policy and batched reads. On the tiny reference models:
// the logits do not change with the budget (the same bytes reach the same
// kernels), the counters add up, the measured hit rate never beats the best
// any cache of that size could do on the same accesses, and the planner
// splits the experts the same way.
#include <QtTest>

#include <cmath>
#include <vector>

#include "gguf/gguf.h"
#include "model/expert_tier.h"
#include "model/model.h"
#include "plan/apply.h"
#include "plan/model_info.h"
#include "plan/planner.h"
#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

namespace {

std::unique_ptr<Model> load(const std::string& rel) {
    auto m = Model::load(eg_test::fixture(rel));
    if (!m.ok()) qWarning("%s", m.message().c_str());
    return m.ok() ? std::move(m.value()) : nullptr;
}

uint64_t all_expert_bytes(const Model& m) {
    uint64_t n = 0;
    for (const LayerWeights& L : m.weights().layers)
        for (const ExpertMatrices* x : {&L.gate_exps, &L.up_exps, &L.down_exps})
            n += x->expert_bytes() * (uint64_t)x->n_expert;
    return n;
}

// Token by token over a fixed text, every position's logits.
std::vector<std::vector<float>> run(const Model& m, std::optional<uint64_t> expert_dram, Session** keep = nullptr,
                                    std::unique_ptr<Session>* owner = nullptr) {
    SessionOptions so{128, 16, 2};
    so.expert_dram_bytes = expert_dram;
    auto s = Session::create(m, so);
    if (!s.ok()) qFatal("%s", s.message().c_str());
    std::vector<std::vector<float>> out;
    const std::vector<int32_t> toks = m.tokenizer().encode("the cat sat on the mat and the dog ran after it", false, false);
    // One batch first (prefill: several experts per block at once), then decode.
    if (!s.value()->eval(std::vector<int32_t>(toks.begin(), toks.begin() + 5)).ok()) qFatal("eval");
    out.emplace_back(s.value()->logits(), s.value()->logits() + s.value()->n_vocab());
    for (size_t i = 5; i < toks.size(); ++i) {
        if (!s.value()->eval(&toks[i], 1).ok()) qFatal("eval");
        out.emplace_back(s.value()->logits(), s.value()->logits() + s.value()->n_vocab());
    }
    if (keep && owner) {
        *owner = std::move(s.value());
        *keep = owner->get();
    }
    return out;
}

double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    double d = 0;
    for (size_t p = 0; p < a.size(); ++p)
        for (size_t i = 0; i < a[p].size(); ++i) d = std::max(d, std::fabs((double)a[p][i] - b[p][i]));
    return d;
}

}  // namespace

class TestExpertTier : public QObject {
    Q_OBJECT

private slots:
    // qwen3moe's experts are F32 (no packed form): through the tier or
    // mapped, the same bytes reach the same kernels, so the logits are the
    // same bits whatever share of the experts DRAM holds; the counters add
    // up and the measured hit rate is at most the optimum.
    void same_logits_at_any_budget_data() {
        QTest::addColumn<double>("share");
        QTest::newRow("none in DRAM") << 0.0;
        QTest::newRow("25% in DRAM") << 0.25;
        QTest::newRow("90% in DRAM") << 0.9;
    }
    void same_logits_at_any_budget() {
        QFETCH(double, share);
        auto m = load("reference/moe/qwen3moe-tiny.gguf");
        QVERIFY(m);
        const auto mapped = run(*m, std::nullopt);
        const uint64_t all = all_expert_bytes(*m);
        std::unique_ptr<Session> owner;
        Session* s = nullptr;
        const auto tiered = run(*m, (uint64_t)(share * (double)all), &s, &owner);
        QVERIFY(s->experts());
        QCOMPARE(max_diff(mapped, tiered), 0.0);
        const ExpertTierStats st = s->experts()->stats();
        const uint64_t n_slots = st.capacity;
        QVERIFY(n_slots * st.expert_bytes <= (uint64_t)(share * (double)all));
        QVERIFY(st.hits + st.misses > 0);
        QVERIFY(st.resident <= n_slots);
        const uint64_t per_expert = all / (uint64_t)(m->hparams().n_layer * m->hparams().n_expert);
        QCOMPARE(st.bytes_read, st.misses * per_expert);  // every miss reads its expert, nothing else
        if (share == 0.0) QCOMPARE(st.hits, uint64_t(0));
        const double opt = s->experts()->optimal_hit_rate();
        qInfo("%s of the experts in DRAM: %llu slots, hit rate %.3f (optimal %.3f), %llu misses, %llu bytes read, "
              "%llu reads",
              QTest::currentDataTag(), (unsigned long long)n_slots, st.hit_rate(), opt, (unsigned long long)st.misses,
              (unsigned long long)st.bytes_read, (unsigned long long)st.reads);
        QCOMPARE(st.traced, st.hits + st.misses);  // a short run is traced whole
        // The heat strip: busiest first, uses summing to the accesses, at
        // most the cache's capacity resident.
        const auto heat = s->experts()->hottest(1000);
        uint64_t uses = 0, resident = 0;
        for (size_t i = 0; i < heat.size(); ++i) {
            if (i) QVERIFY(heat[i - 1].uses >= heat[i].uses);
            uses += heat[i].uses;
            resident += heat[i].resident ? 1 : 0;
        }
        QCOMPARE(uses, st.hits + st.misses);
        QVERIFY(resident <= n_slots);
        QCOMPARE(resident, st.resident);
        QVERIFY(st.traced_hit_rate() <= opt + 1e-12);
    }

    // gpt-oss's MXFP4 experts with biases: mapped they run the packed
    // kernels, from the tier the file-format ones; both within float
    // rounding of each other (and each within the reference tolerance in
    // test_moe), the greedy choice the same at every position.
    void gptoss_through_the_tier() {
        auto m = load("reference/gptoss/gptoss-tiny.gguf");
        QVERIFY(m);
        const auto mapped = run(*m, std::nullopt);
        const auto tiered = run(*m, all_expert_bytes(*m) / 4);
        const double d = max_diff(mapped, tiered);
        qInfo("gpt-oss, a quarter of the experts in DRAM: max |logit diff| from all mapped %.3g", d);
        QVERIFY2(d < 0.02, qPrintable(QString::number(d)));
        for (size_t p = 0; p < mapped.size(); ++p) {
            const auto a = std::max_element(mapped[p].begin(), mapped[p].end()) - mapped[p].begin();
            const auto b = std::max_element(tiered[p].begin(), tiered[p].end()) - tiered[p].begin();
            QCOMPARE(a, b);
        }
    }

    // The plan: the experts' DRAM budget holds that much of them, the rest
    // is on the SSD tier, and a decoded token reads its share of the missed
    // experts from there.
    void planner_splits_the_experts() {
        auto f = GgufFile::open(eg_test::fixture("reference/moe/qwen3moe-tiny.gguf"));
        QVERIFY(f.ok());
        PlanRequest r;
        r.vram_budget = ByteBudget::exactly(0);
        r.expert_dram_budget = parse_byte_budget("25%", "expert DRAM budget").value();
        auto run25 = make_plan(*f.value(), r);
        QVERIFY2(run25.ok(), run25.ok() ? "" : run25.message().c_str());
        const Placement& p = run25->placement;
        QVERIFY(p.experts.total_bytes > 0);
        QVERIFY(std::fabs((double)p.experts.dram_bytes / (double)p.experts.total_bytes - 0.25) < 0.01);
        QCOMPARE(p.dram.expert_bytes + p.ssd.expert_bytes, p.experts.total_bytes);
        QVERIFY(p.predicted.ssd_bytes > 0);
        r.expert_dram_budget.reset();
        auto all = make_plan(*f.value(), r);
        QVERIFY(all.ok());
        QCOMPARE(all->placement.ssd.expert_bytes, uint64_t(0));
        QCOMPARE(all->placement.predicted.ssd_bytes, uint64_t(0));
        QVERIFY(all->placement.predicted.decode_tokens_per_s > p.predicted.decode_tokens_per_s);
        // A session planned with the budget gets a tier of that size.
        SessionOptions so{128, 16, 2};
        r.expert_dram_budget = parse_byte_budget("25%", "expert DRAM budget").value();
        auto planned = plan_session(*f.value(), r, so);
        QVERIFY(planned.ok());
        QVERIFY(so.expert_dram_bytes.has_value());
        QCOMPARE(*so.expert_dram_bytes, planned->placement.experts.dram_bytes);
    }

    // Without a budget: all the experts when they fit in the memory this
    // machine has available, else what fits beside the rest of the model.
    void default_budget() {
        auto f = GgufFile::open(eg_test::fixture("reference/moe/qwen3moe-tiny.gguf"));
        QVERIFY(f.ok());
        auto mi = model_info(*f.value());
        QVERIFY(mi.ok());
        ModelInfo m = mi.value();
        QCOMPARE(default_expert_dram_budget(m).resolve(m.expert_bytes()), m.expert_bytes());
        // The same experts a thousand times larger than any machine's memory.
        uint64_t total = 0, avail = 0;
        QVERIFY(read_meminfo(&total, &avail));
        for (auto& b : m.block_expert_bytes) b = (uint64_t)1 << 40;
        m.file_bytes = m.expert_bytes() + (1ull << 30);
        const uint64_t d = default_expert_dram_budget(m).resolve(m.expert_bytes());
        QVERIFY(d < avail);
        QVERIFY(d > 0 || avail < (4ull << 30));
    }

    // A budget for a dense model, or one that holds every expert: no tier.
    void no_tier_when_not_needed() {
        auto m = load("reference/moe/olmoe-tiny.gguf");
        QVERIFY(m);
        SessionOptions so{64, 8, 1};
        so.expert_dram_bytes = all_expert_bytes(*m);
        auto s = Session::create(*m, so);
        QVERIFY(s.ok());
        QVERIFY(!s.value()->experts());
    }
};

QTEST_APPLESS_MAIN(TestExpertTier)
#include "test_expert_tier.moc"
