// The live figures the memory panel and `engram-cli run --stats-json` show
// (plan/live.h, runtime/throughput.h), on the real SmolLM2: every evaluated
// token is counted once in the right phase, rates are tokens over the time
// that phase ran, and the bytes per tier are exactly what the session holds.
#include <QtTest>

#include <memory>
#include <numeric>

#include "model/model.h"
#include "plan/apply.h"
#include "plan/live.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

class TestLive : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;

private slots:
    void initTestCase() {
        auto m = Model::load(eg_test::default_model_path());
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        model_ = std::move(m.value());
    }

    void countersCountEveryTokenOnceInItsPhase() {
        auto s = Session::create(*model_, SessionOptions{1024, 64, 2});
        QVERIFY(s.ok());
        Session& sess = *s.value();
        ThroughputCounters c;
        sess.set_counters(&c);
        QCOMPARE(sess.counters(), &c);

        // 130 tokens in batches of 64: 64 + 64 + 2, all prefill (the last
        // batch of one token of a 129-token eval too).
        std::vector<int32_t> prompt(129);
        std::iota(prompt.begin(), prompt.end(), 100);
        QVERIFY(sess.eval(prompt).ok());
        auto a = c.snapshot();
        QCOMPARE(a.prefill_tokens, uint64_t(129));
        QCOMPARE(a.decode_tokens, uint64_t(0));
        QVERIFY(a.prefill_ns > 0);
        QCOMPARE(a.last_ttft_us, int64_t(-1));

        // generate: the rest of the prompt is prefill, every sampled token but
        // the last is one decode step; the time to first token is recorded.
        sess.truncate(0);
        GenerateOptions opt;
        opt.max_tokens = 12;
        opt.sampling.temperature = 0;
        auto r = generate(sess, prompt, opt, nullptr);
        QVERIFY(r.ok());
        const auto b = c.snapshot();
        QCOMPARE(b.prefill_tokens - a.prefill_tokens, uint64_t(129));
        const int64_t gen = r.value().stats.generated_tokens;
        QVERIFY(gen > 1);
        QCOMPARE((int64_t)(b.decode_tokens - a.decode_tokens), r.value().stop_reason == StopReason::MaxTokens ? gen - 1 : gen);
        QVERIFY(b.last_ttft_us > 0);
        QVERIFY(b.decode_tokens_per_s() > 0 && b.prefill_tokens_per_s() > 0);

        // Rates between snapshots use the time of that phase only.
        QCOMPARE(prefill_rate(b, b), 0.0);
        const double d = decode_rate(a, b);
        QVERIFY(d > 0);
        QCOMPARE(d, (b.decode_tokens - a.decode_tokens) * 1e9 / (double)(b.decode_ns - a.decode_ns));

        // A session without counters counts nothing.
        sess.set_counters(nullptr);
        int32_t one = 5;
        QVERIFY(sess.eval(&one, 1).ok());
        QCOMPARE(c.snapshot().decode_tokens, b.decode_tokens);
    }

    void memoryByTierIsWhatTheSessionHolds() {
        PlanRequest req;
        req.vram_budget = ByteBudget::exactly(0);
        req.n_ctx = 2048;
        auto placed = place_session(*model_, req, SessionOptions{});
        QVERIFY2(placed.ok(), placed.ok() ? "" : placed.message().c_str());
        const Session& sess = *placed->session;
        const SessionMemory mem = sess.memory();
        const MeasuredMemory mm = measure_memory(mem, nullptr, placed->run);
        QCOMPARE(mm.dram.usage.weights_bytes, mem.weights_bytes);
        // Tied SmolLM2: the backends hold every weight (norms included), and
        // nothing else is held unless the CPU packs the head: then the token
        // table stays mapped for the lookups beside the head's packed copy.
        uint64_t devices = 0;
        for (const DeviceMemory& d : mem.devices) devices += d.weights_bytes;
        const ModelInfo& mi = placed->run.model;
        QCOMPARE(mem.host_only_weights_bytes(), mi.output_cpu_packed ? mi.token_embd_bytes : 0);
        QCOMPARE(devices + mem.host_only_weights_bytes(), mem.weights_bytes);
        QCOMPARE(mem.weights_bytes, mem.file_weights_bytes + placed->run.placement.cpu_packed_extra_bytes);
        QCOMPARE(mm.dram.usage.kv_bytes, mem.kv_bytes);
        QCOMPARE(mm.dram.usage.kv_bytes, 30ull * 2 * 2048 * 3 * 64 * 2);
        QCOMPARE(mm.dram.usage.scratch_bytes, mem.scratch_bytes);
        QCOMPARE(mm.dram.usage.engram_bytes, uint64_t(0));
        QCOMPARE(mm.vram.usage.bytes(), uint64_t(0));
        QCOMPARE(mm.ssd.usage.bytes(), uint64_t(0));
        QCOMPARE(mm.dram.usage.capacity_bytes, placed->run.hardware.dram_total_bytes);
        QCOMPARE(mm.ssd.usage.capacity_bytes, placed->run.model.file_bytes);
        // The plan predicted these exactly.
        QCOMPARE(mm.dram.usage.weights_bytes, placed->run.placement.dram.weights_bytes);
        QCOMPARE(mm.dram.usage.kv_bytes, placed->run.placement.dram.kv_bytes);

        ThroughputCounters c;
        const nlohmann::json j = to_json(live_figures(mem, nullptr, c.snapshot(), placed->run));
        QCOMPARE(j["memory"]["dram"]["bytes"].get<uint64_t>(), mm.dram.usage.bytes());
        QCOMPARE(j["memory"]["dram"]["by_category"]["kv"].get<uint64_t>(), mm.dram.usage.kv_bytes);
        QVERIFY(j["engram"].is_null());
        QVERIFY(j["throughput"]["ttft_ms"].is_null());
        QCOMPARE(j["predicted"]["decode_tokens_per_s"].get<double>(), placed->run.placement.predicted.decode_tokens_per_s);
    }
};

QTEST_GUILESS_MAIN(TestLive)
#include "test_live.moc"
