// The GPU plugin as the programs load it (backend/gpu_plugin.cpp): every way
// of not having one is a sentence in `engram-cli gpus`, the real CUDA plugin
// loads on a machine without a driver and says so, and a plugin's device —
// here the test plugin's fake one (tests/plugins/fake_gpu_plugin.cpp), run by
// the CPU backend — takes blocks from the planner: the logits are those of
// the CPU-only run, bit for bit; what the device holds is what the plan said;
// a range that does not fit is refused in words; its memory comes back.
#include <QProcess>
#include <QTemporaryDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cstring>

#include "backend/gpu.h"
#include "model/model.h"
#include "plan/apply.h"
#include "plan/live.h"
#include "plan/model_info.h"
#include "runtime/session.h"
#include "test_env.h"

using namespace eg;

namespace {

// engram-cli gpus --json under env; its exit code in *rc.
QJsonObject gpus_json(const QStringList& env, int* rc) {
    QProcess p;
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    e.remove(QStringLiteral("ENGRAM_GPU_PLUGIN"));
    for (const QString& kv : env) e.insert(kv.section('=', 0, 0), kv.section('=', 1));
    p.setProcessEnvironment(e);
    p.start(QStringLiteral(EG_CLI_PATH), {QStringLiteral("gpus"), QStringLiteral("--json")});
    if (!p.waitForFinished(60000)) return {};
    *rc = p.exitCode();
    return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
}

constexpr int64_t kCtx = 256;

}  // namespace

class TestGpuPlugin : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<Model> model_;
    std::vector<int32_t> prompt_;

    std::vector<float> logits_of(const std::vector<BlockRange>& split) {
        SessionOptions so(kCtx, 64, 2);
        so.split = split;
        auto s = Session::create(*model_, so);
        if (!s) qFatal("%s", s.message().c_str());
        if (auto st = s.value()->eval(prompt_.data(), (int64_t)prompt_.size()); !st) qFatal("%s", st.message().c_str());
        std::vector<float> out(s.value()->logits(), s.value()->logits() + model_->hparams().n_vocab);
        // One decode step too: its path differs from the prefill's.
        const int32_t next = (int32_t)(std::max_element(out.begin(), out.end()) - out.begin());
        if (auto st = s.value()->eval(&next, 1); !st) qFatal("%s", st.message().c_str());
        out.insert(out.end(), s.value()->logits(), s.value()->logits() + model_->hparams().n_vocab);
        return out;
    }

private slots:
    void initTestCase() {
        const std::string path = eg_test::default_model_path();
        QVERIFY2(QFile::exists(QString::fromStdString(path)), "the default model is missing (scripts/fetch-model.sh)");
        QVERIFY(dir_.isValid());
        qputenv("XDG_CACHE_HOME", dir_.filePath("cache").toUtf8());  // hardware figures stay private
        // This process's plugin: the fake device, 2 GiB.
        qputenv("ENGRAM_GPU_PLUGIN", EG_FAKE_GPU_PLUGIN);
        qputenv("ENGRAM_FAKE_GPU_VRAM", "2G");
        auto m = Model::load(path);
        EG_VERIFY_OK(m);
        model_ = std::move(m.value());
        prompt_ = model_->tokenizer().encode("The capital of France is", true, false);
    }

    // Each way of having no GPU is one sentence, and the programs go on.
    void refusalsAreSentences_data() {
        QTest::addColumn<QStringList>("env");
        QTest::addColumn<QString>("says");
        const QString junk = dir_.filePath("junk.so");
        QFile f(junk);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("this is not a shared object\n");
        f.close();
        QTest::newRow("turned off") << QStringList{"ENGRAM_GPU_PLUGIN=none"} << "turned off (ENGRAM_GPU_PLUGIN=none)";
        QTest::newRow("no file") << QStringList{"ENGRAM_GPU_PLUGIN=" + dir_.filePath("missing.so")}
                                 << "no GPU plugin at " + dir_.filePath("missing.so");
        QTest::newRow("not a shared object") << QStringList{"ENGRAM_GPU_PLUGIN=" + junk} << "does not load: ";
        QTest::newRow("not a plugin") << QStringList{"ENGRAM_GPU_PLUGIN=" + QStringLiteral(EG_NOT_A_GPU_PLUGIN)}
                                      << "is not an Engram Desktop GPU plugin (it has no engram_gpu_plugin_abi)";
        QTest::newRow("another version") << QStringList{"ENGRAM_GPU_PLUGIN=" + QStringLiteral(EG_OTHER_ABI_GPU_PLUGIN)}
                                         << "was built for another version of Engram Desktop";
        QTest::newRow("no device") << QStringList{"ENGRAM_GPU_PLUGIN=" + QStringLiteral(EG_FAKE_GPU_PLUGIN),
                                                  "ENGRAM_FAKE_GPU_COUNT=0"}
                                   << "the fake driver reports no GPU";
    }
    void refusalsAreSentences() {
        QFETCH(QStringList, env);
        QFETCH(QString, says);
        int rc = -1;
        const QJsonObject j = gpus_json(env, &rc);
        QCOMPARE(rc, 1);
        QVERIFY(j.value("gpus").toArray().isEmpty());
        const QString why = j.value("why_none").toString();
        QVERIFY2(why.contains(says), qPrintable(why));
    }

    void fakeDevicesAreListed() {
        int rc = -1;
        const QJsonObject j = gpus_json({"ENGRAM_GPU_PLUGIN=" + QStringLiteral(EG_FAKE_GPU_PLUGIN),
                                         "ENGRAM_FAKE_GPU_COUNT=2", "ENGRAM_FAKE_GPU_VRAM=3G"},
                                        &rc);
        QCOMPARE(rc, 0);
        QVERIFY(j.value("plugin").toObject().value("loaded").toBool());
        const QJsonArray g = j.value("gpus").toArray();
        QCOMPARE(g.size(), 2);
        QCOMPARE(g[1].toObject().value("name").toString(), QStringLiteral("Engram Test GPU 1"));
        QCOMPARE(g[0].toObject().value("vram_total_bytes").toDouble(), 3.0 * (1u << 30));
        QCOMPARE(g[0].toObject().value("compute_capability").toString(), QStringLiteral("8.9"));
    }

    // The real plugin loads here: its libraries resolve (static CUDA runtime,
    // cuBLAS), and without a driver or GPU it says which is missing.
    void cudaPluginLoads() {
#ifndef EG_CUDA_PLUGIN
        QSKIP("this build has no CUDA plugin (nvcc was not found when it was configured)");
#else
        int rc = -1;
        const QJsonObject j = gpus_json({"ENGRAM_GPU_PLUGIN=" + QStringLiteral(EG_CUDA_PLUGIN)}, &rc);
        const QJsonObject p = j.value("plugin").toObject();
        QVERIFY2(p.value("loaded").toBool(), qPrintable(j.value("why_none").toString()));
        QVERIFY2(p.value("describe").toString().startsWith("CUDA "), qPrintable(p.value("describe").toString()));
        if (rc != 0) {
            const QString why = j.value("why_none").toString();
            QVERIFY2(why.contains("driver") || why.contains("GPU") || why.contains("device"), qPrintable(why));
            qInfo("no GPU here: %s", qPrintable(why));
        }
#endif
    }

    // Blocks on the device give the CPU-only logits exactly, prefill and
    // decode, with the head on either side.
    void deviceBlocksGiveTheCpuLogits() {
        QVERIFY2(gpu_plugin().loaded, gpu_plugin().why_not.c_str());
        const int64_t nl = model_->hparams().n_layer;
        const std::vector<float> cpu = logits_of({{"cpu", 0, nl}});
        const std::vector<float> half = logits_of({{"cpu", 0, nl / 2}, {"cuda:0", nl / 2, nl}});
        const std::vector<float> all = logits_of({{"cuda:0", 0, nl}});
        const std::vector<float> back = logits_of({{"cuda:0", 0, nl / 3}, {"cpu", nl / 3, nl}});
        QCOMPARE(std::memcmp(cpu.data(), half.data(), cpu.size() * 4), 0);
        QCOMPARE(std::memcmp(cpu.data(), all.data(), cpu.size() * 4), 0);
        QCOMPARE(std::memcmp(cpu.data(), back.data(), cpu.size() * 4), 0);
    }

    // The planner places blocks on the device under a VRAM budget; the
    // device holds the plan's weights and KV; free memory goes down by what
    // it holds and comes back when the session ends.
    void planPlacesBlocksAndTheDeviceHoldsThePlan() {
        const auto before = gpu_memory_now(0);
        QVERIFY(before.has_value());
        QCOMPARE(before->free, before->total);
        QCOMPARE(before->total, 2ull << 30);
        const auto info = model_info(model_->file());
        EG_VERIFY_OK(info);
        for (const char* budget : {"150M", "2G"}) {
            PlanRequest r;
            BudgetFlags f;
            f.vram = budget;
            EG_VERIFY_OK(parse_budget_flags(f, r));
            r.n_ctx = 1024;
            auto placed = place_session(*model_, r, SessionOptions(0, 64, 2));
            EG_VERIFY_OK(placed);
            const PlacedSession& ps = placed.value();
            QVERIFY2(ps.notes.empty(), ps.notes.empty() ? "" : ps.notes[0].c_str());
            const Placement& p = ps.run.placement;
            QCOMPARE(ps.run.hardware.gpus.size(), size_t(1));
            QCOMPARE(ps.run.hardware.gpus[0].name, std::string("Engram Test GPU 0"));
            QVERIFY2(p.n_gpu_blocks > 0, budget);
            if (std::string(budget) == "150M") QVERIFY(p.n_gpu_blocks < model_->hparams().n_layer);
            const MeasuredMemory m = measure_memory(ps.session->memory(), nullptr, ps.run);
            QCOMPARE(m.vram.usage.weights_bytes, p.vram.weights_bytes);
            QCOMPARE(m.vram.usage.kv_bytes, p.vram.kv_bytes);
            QCOMPARE(m.dram.usage.kv_bytes, p.dram.kv_bytes);
            const auto during = gpu_memory_now(0);
            QCOMPARE(during->total - during->free, m.vram.usage.bytes());
            // The session runs (the conversation's first step).
            EG_VERIFY_OK(ps.session->eval(prompt_.data(), (int64_t)prompt_.size()));
        }
        QCOMPARE(gpu_memory_now(0)->free, before->total);
    }

    // More than the device has: the sentence a GPU gives, nothing held after.
    void outOfMemoryIsASentence() {
        qputenv("ENGRAM_FAKE_GPU_VRAM", "8M");
        const int64_t nl = model_->hparams().n_layer;
        SessionOptions so(kCtx, 64, 2);
        so.split = {{"cuda:0", 0, nl}};
        auto s = Session::create(*model_, so);
        qputenv("ENGRAM_FAKE_GPU_VRAM", "2G");
        QVERIFY(!s.ok());
        QVERIFY2(s.message().find("out of memory on Engram Test GPU 0") != std::string::npos, s.message().c_str());
        QCOMPARE(gpu_memory_now(0)->free, 2ull << 30);
        // A device that does not exist.
        so.split = {{"cuda:3", 0, nl}};
        auto t = Session::create(*model_, so);
        QVERIFY(!t.ok());
        QVERIFY2(t.message().find("cuda:3: no such device") != std::string::npos, t.message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestGpuPlugin)
#include "test_gpu_plugin.moc"
