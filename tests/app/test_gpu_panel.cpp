// The memory panel with GPUs: the test plugin's two fake devices
// (tests/plugins/fake_gpu_plugin.cpp, 1 GiB each), loaded by the app's own
// dlopen path, under the real engine on its worker thread, the real
// SmolLM2, planner and SQLite. The panel lists both and says the model uses
// the first; the VRAM slider
// and Apply move every block to it, half of them, and back, without a
// restart; the conversation goes on each time; the live VRAM tier holds
// what the plan said, next to the driver's free and total; and a greedy
// reply with the blocks on the device is the CPU-only reply, word for word.
#include <QDir>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

#include <memory>

#include "application.h"
#include "chat_controller.h"
#include "engine_worker.h"
#include "memory_panel.h"
#include "quick_items.h"
#include "store/chat_store.h"
#include "test_env.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

using eg::app::EngineWorker;
using eg::store::ChatStore;
using eg::ui::ChatController;
using eg::ui::MemoryPanel;

namespace {

constexpr int kTimeoutMs = 180'000;
constexpr double kVram = 1024.0 * 1024 * 1024;

double at(const QVariantMap& m, std::initializer_list<const char*> path) {
    QVariant v = m;
    for (const char* k : path) v = v.toMap().value(QLatin1String(k));
    return v.toDouble();
}

}  // namespace

class TestGpuPanel : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QString model_;
    std::unique_ptr<ChatStore> store_;
    std::unique_ptr<QSettings> prefs_;
    QThread thread_;
    EngineWorker* worker_ = nullptr;
    std::unique_ptr<ChatController> chat_;
    std::unique_ptr<MemoryPanel> panel_;
    QString cpu_reply_;

    void wait_idle() { QTRY_VERIFY_WITH_TIMEOUT(!chat_->busy(), kTimeoutMs); }

    void apply_and_wait() {
        QVERIFY(panel_->dirty());
        const int before = worker_->placements();
        panel_->apply();
        QTRY_VERIFY_WITH_TIMEOUT(!panel_->applying(), kTimeoutMs);
        QVERIFY2(panel_->error().isEmpty(), qPrintable(panel_->error()));
        QCOMPARE(worker_->placements(), before + 1);
    }

    // The reply to `text` in the current conversation.
    QString ask(const QString& text) {
        chat_->send(text);
        wait_idle();
        const auto rows = store_->messages(chat_->currentConversationId());
        return rows.isEmpty() ? QString() : rows.last().content;
    }

    // The live VRAM tier equals the plan's; the driver's figures beside it.
    void live_vram_is_the_plan() {
        panel_->sample();
        const QVariantMap live = panel_->live();
        const QVariantMap plan = panel_->current().value("plan").toMap();
        for (const char* cat : {"weights", "kv"}) {
            QCOMPARE(at(live, {"memory", "vram", "by_category", cat}), at(plan, {"tiers", "vram", "by_category", cat}));
            QCOMPARE(at(live, {"memory", "dram", "by_category", cat}), at(plan, {"tiers", "dram", "by_category", cat}));
        }
        QCOMPARE(at(live, {"memory", "vram", "driver_total_bytes"}), kVram);
        QCOMPARE(at(live, {"memory", "vram", "driver_free_bytes"}), kVram - at(live, {"memory", "vram", "bytes"}));
    }

    // A new conversation, greedy: the same weights give the same words
    // wherever they run (settings are per conversation).
    void new_greedy_chat() {
        chat_->newConversation();
        chat_->setSettings({{"max_tokens", 24}, {"temperature", 0.0}});
    }

    int gpu_blocks() const { return (int)at(panel_->current(), {"plan", "n_gpu_blocks"}); }

private slots:
    void initTestCase() {
        model_ = QString::fromStdString(eg_test::default_model_path());
        QVERIFY2(QFile::exists(model_), "the default model is missing (scripts/fetch-model.sh)");
        QVERIFY(dir_.isValid());
        qputenv("XDG_CACHE_HOME", dir_.filePath("cache").toUtf8());
        // Before anything probes: the app loads this plugin as it would libengram-cuda.so.
        qputenv("ENGRAM_GPU_PLUGIN", EG_FAKE_GPU_PLUGIN);
        qputenv("ENGRAM_FAKE_GPU_VRAM", "1G");
        qputenv("ENGRAM_FAKE_GPU_COUNT", "2");

        store_ = std::make_unique<ChatStore>(QStringLiteral("test-gpu-panel"));
        EG_VERIFY_OK(store_->open(dir_.filePath("engram.sqlite")));
        prefs_ = std::make_unique<QSettings>(dir_.filePath("settings.ini"), QSettings::IniFormat);
        worker_ = new EngineWorker;
        worker_->moveToThread(&thread_);
        thread_.start();
        chat_ = std::make_unique<ChatController>(*store_, prefs_.get());
        panel_ = std::make_unique<MemoryPanel>(prefs_.get());
        // Start on the CPU alone, as `engram-desktop --vram-budget 0` would.
        eg::BudgetFlags f;
        f.vram = "0";
        eg::PlacementRequest r;
        EG_VERIFY_OK(eg::parse_budget_flags(f, r));
        panel_->setOverrides(r);
        eg::app::connect_worker(*chat_, *worker_, panel_.get());
        chat_->loadModel(model_);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->loadingModel(), kTimeoutMs);
        QVERIFY2(chat_->modelLoaded(), qPrintable(chat_->lastError()));
        QTRY_VERIFY_WITH_TIMEOUT(panel_->ready(), kTimeoutMs);
        new_greedy_chat();
    }

    void cleanupTestCase() {
        panel_->setSources({}, {});
        if (worker_) worker_->requestStop();
        thread_.quit();
        thread_.wait();
        delete worker_;
        chat_.reset();
        store_.reset();
    }

    // The devices as the driver reports them, the slider on, nothing on them yet.
    void listsTheDevices() {
        QVERIFY(panel_->vramAvailable());
        QVERIFY(panel_->vramUnavailableReason().isEmpty());
        const QVariantList gpus = panel_->gpus();
        QCOMPARE(gpus.size(), 2);
        QCOMPARE(gpus[1].toMap().value("device").toString(), QStringLiteral("cuda:1"));
        QCOMPARE(gpus[1].toMap().value("name").toString(), QStringLiteral("Engram Test GPU 1"));
        QVERIFY2(panel_->gpuNote().contains("2 GPUs found: a model runs on the first (cuda:0) for now"),
                 qPrintable(panel_->gpuNote()));
        const QVariantMap g = gpus[0].toMap();
        QCOMPARE(g.value("device").toString(), QStringLiteral("cuda:0"));
        QCOMPARE(g.value("name").toString(), QStringLiteral("Engram Test GPU 0"));
        QCOMPARE(g.value("vramTotal").toDouble(), kVram);
        QCOMPARE(g.value("computeCapability").toString(), QStringLiteral("8.9"));
        QCOMPARE(panel_->vramMax(), g.value("vramFree").toDouble());
        QVERIFY2(panel_->gpuNote().contains("Engram test GPU plugin"), qPrintable(panel_->gpuNote()));
        QCOMPARE(gpu_blocks(), 0);
        panel_->sample();
        QCOMPARE(at(panel_->live(), {"memory", "vram", "bytes"}), 0.0);
        QCOMPARE(at(panel_->live(), {"memory", "vram", "driver_free_bytes"}), kVram);
        cpu_reply_ = ask(QStringLiteral("What is the capital of France?"));
        QVERIFY(!cpu_reply_.isEmpty());
    }

    // All blocks to the device, the conversation goes on; a new chat with
    // the first question gets the CPU's reply.
    void applyMovesEveryBlockToTheDevice() {
        const qint64 conversation = chat_->currentConversationId();
        panel_->setVramBudget(panel_->vramMax());
        QCOMPARE(at(panel_->preview(), {"n_gpu_blocks"}), 30.0);
        QVERIFY2(panel_->placementSummary().startsWith("All 30 layers run on the graphics card (Engram Test GPU 0)."),
                 qPrintable(panel_->placementSummary()));
        QVERIFY2(panel_->changes().join('\n').contains("Blocks on the GPU: 0 → 30 of 30"),
                 qPrintable(panel_->changes().join('\n')));
        apply_and_wait();
        QCOMPARE(gpu_blocks(), 30);
        live_vram_is_the_plan();
        QVERIFY(at(panel_->live(), {"memory", "vram", "by_category", "weights"}) > 50e6);

        QVERIFY(!ask(QStringLiteral("And of Germany?")).isEmpty());
        QCOMPARE(chat_->currentConversationId(), conversation);
        QCOMPARE(store_->messages(conversation).size(), 4);

        new_greedy_chat();
        QCOMPARE(ask(QStringLiteral("What is the capital of France?")), cpu_reply_);
    }

    // Half the model's bytes: some blocks on the device, the rest on the CPU.
    void applySplitsTheBlocks() {
        panel_->setVramBudget(0.5 * at(panel_->current(), {"plan", "tiers", "vram", "bytes"}));
        apply_and_wait();
        QVERIFY2(gpu_blocks() > 0 && gpu_blocks() < 30, qPrintable(QString::number(gpu_blocks())));
        QVERIFY2(panel_->placementSummary().startsWith(QStringLiteral("%1 of 30 layers run on the graphics card (Engram "
                                                                      "Test GPU 0), the other %2 on the processor.")
                                                           .arg(gpu_blocks())
                                                           .arg(30 - gpu_blocks())),
                 qPrintable(panel_->placementSummary()));
        live_vram_is_the_plan();
        QVERIFY(at(panel_->live(), {"memory", "dram", "by_category", "kv"}) > 0);
        new_greedy_chat();
        QCOMPARE(ask(QStringLiteral("What is the capital of France?")), cpu_reply_);
    }

    // The panel drawn with the device in use: the GPU lines, the note and the VRAM bar.
    void panelShowsTheDevice() {
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/"));
        QQmlComponent c(&engine, QUrl(QStringLiteral("qrc:/EngramDesktop/MemoryPanel.qml")));
        QScopedPointer<QObject> o(c.createWithInitialProperties({{"panel", QVariant::fromValue(panel_.get())}}));
        QVERIFY2(o, qPrintable(c.errorString()));
        QQuickWindow window;
        auto* item = qobject_cast<QQuickItem*>(o.get());
        QVERIFY(item);
        QVERIFY(show_in_window(window, item, QSize(520, 1400)));
        panel_->sample();
        auto* gpu = find_item(item, QStringLiteral("gpu_cuda:0"));
        QVERIFY(gpu && gpu->isVisible());
        QVERIFY2(gpu->property("text").toString().contains("Engram Test GPU 0"), qPrintable(gpu->property("text").toString()));
        auto* second = find_item(item, QStringLiteral("gpu_cuda:1"));
        QVERIFY(second && second->isVisible());
        auto* note = find_item(item, QStringLiteral("gpuNote"));
        QVERIFY(note && note->isVisible() && note->property("text").toString().contains("2 GPUs found"));
        auto* slider = item->findChild<QQuickItem*>("vramBudgetSlider");
        QVERIFY(slider && slider->isVisible() && slider->isEnabled());
        QVERIFY(QDir().mkpath(EG_ARTIFACTS_DIR));
        QVERIFY(window.grabWindow().save(QStringLiteral(EG_ARTIFACTS_DIR "/memory-panel-fake-gpu-offscreen.png")));
    }

    // Back to the CPU: the device is empty again.
    void applyMovesBlocksBack() {
        panel_->setVramBudget(0);
        apply_and_wait();
        QCOMPARE(gpu_blocks(), 0);
        panel_->sample();
        QCOMPARE(at(panel_->live(), {"memory", "vram", "bytes"}), 0.0);
        QCOMPARE(at(panel_->live(), {"memory", "vram", "driver_free_bytes"}), kVram);
        QVERIFY(!ask(QStringLiteral("Thank you.")).isEmpty());
    }
};

QTEST_MAIN(TestGpuPanel)
#include "test_gpu_panel.moc"
