// The memory panel's view-model with the real engine on its worker thread,
// a real SmolLM2 with forged Engram tables, the real planner and SQLite:
// moving a slider previews a plan without touching the engine; Apply
// re-places the running model and the conversation goes on; the live
// figures the panel shows are the engine's own and engram-cli's; the
// throughput series advances while a reply is generated; budgets are
// remembered per model; what cannot be done is said in words. A synthetic
// mixture-of-experts model gets its own expert DRAM budget: only it shows the
// row, Apply resizes the session's expert cache, the conversation goes on and
// the expert statistics and heat strip follow.
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtQml/qqmlextensionplugin.h>
#include <QtCharts/QAbstractSeries>
#include <QtCharts/QXYSeries>
#include <QtTest>

#include <cmath>
#include <memory>

#include "application.h"
#include "backend/gpu.h"
#include "chat_controller.h"
#include "engine_worker.h"
#include "forge.h"
#include "memory_panel.h"
#include "model/synthetic.h"
#include "quick_items.h"
#include "store/chat_store.h"
#include "test_env.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

using eg::store::ChatStore;
using eg::app::EngineWorker;
using eg::ui::ChatController;
using eg::ui::MemoryPanel;

namespace {

constexpr int kTimeoutMs = 180'000;

// The budgets as the command line gives them, parsed as there.
eg::PlacementRequest flags(const std::string& engram_dram, const std::string& assume_gpu = {}) {
    eg::BudgetFlags f;
    f.engram_dram = engram_dram;
    f.assume_gpu = assume_gpu;
    eg::PlacementRequest r;
    if (auto s = eg::parse_budget_flags(f, r); !s) qFatal("%s", s.message().c_str());
    return r;
}

// Why this process has no GPU, as the plugin loader says it.
QString why_no_gpu() {
    std::string why;
    eg::cuda_probe(false, &why);
    return QString::fromStdString(why);
}

double at(const QVariantMap& m, std::initializer_list<const char*> path) {
    QVariant v = m;
    for (const char* k : path) v = v.toMap().value(QLatin1String(k));
    return v.toDouble();
}

}  // namespace

class TestMemoryPanel : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QString base_, engram_;
    double tables_ = 0;  // bytes of the forged Engram tables
    std::unique_ptr<ChatStore> store_;
    std::unique_ptr<QSettings> prefs_;
    QThread thread_;
    EngineWorker* worker_ = nullptr;
    std::unique_ptr<ChatController> chat_;
    std::unique_ptr<MemoryPanel> panel_;

    void wait_idle() { QTRY_VERIFY_WITH_TIMEOUT(!chat_->busy(), kTimeoutMs); }

    // Loads a model through the chat pane, as the model picker does, and
    // waits for the panel to hold its placement.
    void load(const QString& path) {
        QSignalSpy placed(panel_.get(), &MemoryPanel::placementChanged);
        chat_->loadModel(path);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->loadingModel(), kTimeoutMs);
        QVERIFY2(chat_->modelLoaded(), qPrintable(chat_->lastError()));
        QTRY_VERIFY_WITH_TIMEOUT(panel_->ready() && panel_->modelPath() == path, kTimeoutMs);
    }

    void apply_and_wait() {
        QVERIFY(panel_->dirty());
        const int before = worker_->placements();
        panel_->apply();
        QVERIFY(panel_->applying());
        QTRY_VERIFY_WITH_TIMEOUT(!panel_->applying(), kTimeoutMs);
        QVERIFY2(panel_->error().isEmpty(), qPrintable(panel_->error()));
        QCOMPARE(worker_->placements(), before + 1);
        QVERIFY(!panel_->dirty());
    }

    // The engine's figures, computed on its thread from the session itself,
    // in the form the panel shows.
    QVariantMap engine_stats() {
        std::optional<eg::LiveFigures> r;
        QMetaObject::invokeMethod(worker_, [&] { r = worker_->engineStats(); }, Qt::BlockingQueuedConnection);
        return r ? eg::ui::json_to_variant(eg::to_json(*r)).toMap() : QVariantMap();
    }

    QVariantMap current_settings() const { return panel_->current().value("settings").toMap(); }

private slots:
    void initTestCase() {
        base_ = QString::fromStdString(eg_test::default_model_path());
        QVERIFY2(QFile::exists(base_), qPrintable("the default model is missing: " + base_ + " (run scripts/fetch-model.sh)"));
        QVERIFY(dir_.isValid());
        // Hardware figures and hot-row counts go to a private cache.
        qputenv("XDG_CACHE_HOME", dir_.filePath("cache").toUtf8());

        // SmolLM2 with Engram modules at blocks 1 and 15: 2 x 2 orders x 8
        // heads x ~20K rows of 64 F16 values, about 82 MB of tables.
        eg::engram::ForgeOptions fo;
        fo.base_path = base_.toStdString();
        fo.out_path = dir_.filePath("smol-engram.gguf").toStdString();
        fo.layers = {1, 15};
        fo.rows_per_head = 20000;
        fo.seed = 7;
        auto forged = eg::engram::forge(fo);
        QVERIFY2(forged.ok(), forged.ok() ? "" : forged.message().c_str());
        engram_ = dir_.filePath("smol-engram.gguf");

        store_ = std::make_unique<ChatStore>(QStringLiteral("test-memory-panel"));
            EG_VERIFY_OK(store_->open(dir_.filePath("engram.sqlite")));
        prefs_ = std::make_unique<QSettings>(dir_.filePath("settings.ini"), QSettings::IniFormat);
        worker_ = new EngineWorker;
        worker_->moveToThread(&thread_);
        thread_.start();
        chat_ = std::make_unique<ChatController>(*store_, prefs_.get());
        panel_ = std::make_unique<MemoryPanel>(prefs_.get());
        // As `engram-desktop --engram-dram-budget 5%` would.
        panel_->setOverrides(flags("5%"));
        eg::app::connect_worker(*chat_, *worker_, panel_.get());
        chat_->setSettings({{"max_tokens", 48}, {"seed", 1234}, {"temperature", 0.7}});
        load(engram_);
        tables_ = panel_->engramTableBytes();
        QVERIFY(tables_ > 60e6 && tables_ < 100e6);
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

    // The model loads with the budget it was given; the VRAM slider says why
    // it is off (no GPU plugin, driver or device here); the live tiers add up.
    void loadsUnderTheGivenBudget() {
        QVERIFY(panel_->hasEngram());
        QVERIFY(panel_->engramUnavailableReason().isEmpty());
        QCOMPARE(current_settings().value("engram_dram_budget").toString(), QStringLiteral("5%"));
        const double budget = panel_->engramBudget();
        QVERIFY2(std::abs(budget - 0.05 * tables_) <= 1, qPrintable(QString::number(budget)));
        QVERIFY(!panel_->vramAvailable());
        QVERIFY(!why_no_gpu().isEmpty());
        QVERIFY2(panel_->vramUnavailableReason().contains(why_no_gpu()), qPrintable(panel_->vramUnavailableReason()));
        QCOMPARE(panel_->vramMax(), 0.0);
        QVERIFY2(panel_->placementSummary().startsWith("All 30 layers run on the processor; no graphics card was found. "
                                                        "Expected speed: about "),
                 qPrintable(panel_->placementSummary()));
        QCOMPARE(panel_->contextLength(), 4096);
        QCOMPARE(panel_->contextMax(), 8192);

        panel_->sample();
        const QVariantMap live = panel_->live();
        QCOMPARE(at(live, {"memory", "vram", "bytes"}), 0.0);
        const double resident = at(live, {"memory", "dram", "by_category", "engram"});
        QVERIFY(resident <= budget);
        QCOMPARE(at(live, {"memory", "dram", "budget_bytes"}), budget);
        QCOMPARE(resident + at(live, {"memory", "ssd", "by_category", "engram"}), tables_);
        // Held as planned, the Engram modules' own weights included.
        QCOMPARE(at(live, {"memory", "dram", "by_category", "weights"}),
                 at(panel_->current(), {"plan", "tiers", "dram", "by_category", "weights"}));
        QVERIFY(at(live, {"memory", "dram", "by_category", "weights"}) > 90e6);
        QCOMPARE(at(live, {"memory", "dram", "by_category", "kv"}), 30.0 * 2 * 4096 * 3 * 64 * 2);
    }

    // Sliders give a preview from the planner at once; the engine is not
    // asked anything until Apply.
    void sliderPreviewsWithoutTouchingTheEngine() {
        const int placements = worker_->placements();
        const QVariantMap before = panel_->current();
        const double predicted = at(panel_->preview(), {"predicted", "decode_tokens_per_s"});
        QSignalSpy applied(panel_.get(), &MemoryPanel::applyRequested);

        panel_->setEngramBudget(0.25 * tables_);
        QVERIFY(panel_->dirty());
        // Whole rows of each table fit under the budget.
        const double planned = at(panel_->preview(), {"engram", "dram_bytes"});
        QVERIFY2(planned <= std::round(0.25 * tables_) && planned > 0.25 * tables_ - 4 * 128, qPrintable(QString::number(planned)));
        QVERIFY(at(panel_->preview(), {"predicted", "decode_tokens_per_s"}) > predicted);  // more rows in DRAM
        QVERIFY2(panel_->changes().join('\n').contains("Engram rows in DRAM"), qPrintable(panel_->changes().join('\n')));
        QVERIFY2(panel_->changes().join('\n').contains("reopens the Engram tables"), qPrintable(panel_->changes().join('\n')));

        panel_->setContextLength(2048);
        QCOMPARE(at(panel_->preview(), {"tiers", "dram", "by_category", "kv"}), 30.0 * 2 * 2048 * 3 * 64 * 2);
        QVERIFY2(panel_->changes().join('\n').contains("Context: 4096 → 2048"), qPrintable(panel_->changes().join('\n')));

        // Out-of-range values are held to what the machine has.
        panel_->setVramBudget(8e9);
        QCOMPARE(panel_->vramBudget(), 0.0);
        panel_->setEngramBudget(10 * tables_);
        QCOMPARE(panel_->engramBudget(), panel_->engramMax());
        panel_->setEngramBudget(0.25 * tables_);

        QTest::qWait(600);  // a couple of samples go by
        QCOMPARE(worker_->placements(), placements);
        QCOMPARE(applied.count(), 0);
        QCOMPARE(panel_->current(), before);

        panel_->revert();
        QVERIFY(!panel_->dirty());
        QCOMPARE(panel_->contextLength(), 4096);
        QCOMPARE(panel_->changes(), QStringList{"No change from the running placement."});
    }

    // Apply re-places the running model: the conversation goes on (its KV
    // state rebuilt), and what the panel shows is what the engine holds.
    void applyReplacesAndTheConversationGoesOn() {
        chat_->send(QStringLiteral("Name three colours of the rainbow."));
        wait_idle();
        const qint64 conversation = chat_->currentConversationId();
        QCOMPARE(store_->messages(conversation).size(), 2);

        panel_->setEngramBudget(0.25 * tables_);
        panel_->setContextLength(2048);
        const double want = panel_->engramBudget();
        apply_and_wait();
        QCOMPARE(current_settings().value("n_ctx").toInt(), 2048);
        QCOMPARE(current_settings().value("engram_dram_budget").toString(), QString::number((qulonglong)want));
        QCOMPARE(panel_->engramBudget(), want);

        // The next reply prefills the whole conversation again and continues it.
        QSignalSpy finished(worker_, &EngineWorker::finished);
        chat_->send(QStringLiteral("And one more?"));
        wait_idle();
        QCOMPARE(chat_->currentConversationId(), conversation);
        const auto rows = store_->messages(conversation);
        QCOMPARE(rows.size(), 4);
        QVERIFY(rows[3].finished && !rows[3].content.isEmpty());
        QCOMPARE(finished.count(), 1);
        const eg::ReplyStats st = finished[0][1].value<eg::ReplyStats>();
        QCOMPARE(st.generation.reused_tokens, 0);
        QCOMPARE(st.generation.prompt_tokens, st.prompt_tokens);  // prefilled: all of it
        QVERIFY(st.prompt_tokens > 20);                           // the earlier turns are in it

        // The panel's numbers are the engine's: computed here from the live
        // counters and cached sizes, there from the session itself.
        const QVariantMap engine = engine_stats();
        panel_->sample();
        const QVariantMap live = panel_->live();
        QCOMPARE(live.value("memory").toMap(), engine.value("memory").toMap());
        QCOMPARE(live.value("engram").toMap(), engine.value("engram").toMap());
        QCOMPARE(live.value("throughput").toMap(), engine.value("throughput").toMap());
        QCOMPARE(at(live, {"memory", "dram", "by_category", "kv"}), 30.0 * 2 * 2048 * 3 * 64 * 2);
        QCOMPARE(at(live, {"memory", "dram", "budget_bytes"}), want);
        QVERIFY(at(live, {"memory", "dram", "by_category", "engram"}) <= want);
        QVERIFY(at(live, {"engram", "lookups"}) > 0);
        // The plan's prediction travels with the figures.
        QCOMPARE(at(live, {"predicted", "decode_tokens_per_s"}), at(panel_->current(), {"plan", "predicted", "decode_tokens_per_s"}));
    }

    // engram-cli run --stats-json reports the same memory for the same budgets.
    void cliReportsTheSameMemory() {
        const QString out = dir_.filePath("cli-stats.json");
        QProcess p;
        p.start(QStringLiteral(EG_CLI_PATH),
                {"run", "-m", engram_, "-p", "Hello", "-n", "4", "--ctx", "2048", "--engram-dram-budget",
                 current_settings().value("engram_dram_budget").toString(), "--stats-json", out});
        QVERIFY(p.waitForFinished(kTimeoutMs));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QVariantMap cli = QJsonDocument::fromJson(f.readAll()).object().toVariantMap();
        panel_->sample();
        const QVariantMap live = panel_->live();
        for (const char* tier : {"vram", "dram", "ssd"}) {
            for (const char* cat : {"weights", "kv"})
                QCOMPARE(at(cli, {"memory", tier, "by_category", cat}), at(live, {"memory", tier, "by_category", cat}));
            // Scratch holds the Engram per-sequence state too, which grows with
            // the conversation: the app's has seen more text than a fresh run.
            const double cli_scratch = at(cli, {"memory", tier, "by_category", "scratch"});
            const double app_scratch = at(live, {"memory", tier, "by_category", "scratch"});
            QVERIFY2(cli_scratch <= app_scratch && app_scratch <= cli_scratch * 1.25 + 1,
                     qPrintable(QString("%1 scratch: cli %2, app %3").arg(tier).arg(cli_scratch).arg(app_scratch)));
            QCOMPARE(at(cli, {"memory", tier, "budget_bytes"}), at(live, {"memory", tier, "budget_bytes"}));
            QCOMPARE(at(cli, {"memory", tier, "capacity_bytes"}) > 0, at(live, {"memory", tier, "capacity_bytes"}) > 0);
        }
        QCOMPARE(at(cli, {"engram", "tiers", "dram", "capacity_bytes"}), at(live, {"engram", "tiers", "dram", "capacity_bytes"}));
        QCOMPARE(at(cli, {"predicted", "decode_tokens_per_s"}), at(live, {"predicted", "decode_tokens_per_s"}));
    }

    // The preview is `engram-cli plan`'s object for the same budgets (the
    // hardware figures come from the same cache).
    void previewIsEngramCliPlan() {
        panel_->setEngramBudget(0.10 * tables_);
        panel_->setContextLength(1024);
        QProcess p;
        p.start(QStringLiteral(EG_CLI_PATH),
                {"plan", "-m", engram_, "--vram-budget", "0", "--ctx", "1024", "--engram-dram-budget",
                 QString::number((qulonglong)panel_->engramBudget())});
        QVERIFY(p.waitForFinished(kTimeoutMs));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QVariantMap cli = QJsonDocument::fromJson(p.readAllStandardOutput()).object().toVariantMap();
        const QVariantMap preview = panel_->preview();
        QCOMPARE(preview.value("blocks"), cli.value("blocks"));
        QCOMPARE(preview.value("engram").toMap().value("tables"), cli.value("engram").toMap().value("tables"));
        QCOMPARE(preview.value("problems"), cli.value("problems"));
        for (const char* tier : {"vram", "dram", "ssd"})
            QCOMPARE(preview.value("tiers").toMap().value(tier).toMap().value("by_category"),
                     cli.value("tiers").toMap().value(tier).toMap().value("by_category"));
        QCOMPARE(at(preview, {"predicted", "decode_tokens_per_s"}), at(cli, {"predicted", "decode_tokens_per_s"}));
        panel_->revert();
    }

    // While a reply is generated the series gains points at the panel's
    // steady rate; the rates are real and the counters add up.
    void liveSeriesAdvancesDuringGeneration() {
        chat_->setSettings({{"max_tokens", 320}, {"seed", 99}, {"temperature", 0.8}});
        panel_->sample();
        const int decode_before = panel_->decodeSeries().size();
        const int prefill_before = panel_->prefillSeries().size();
        const double tokens_before = at(panel_->live(), {"throughput", "decode_tokens"});
        int during = 0;  // samples taken while the reply was being generated that added a point
        int last = decode_before;
        connect(panel_.get(), &MemoryPanel::sampled, this, [&] {
            const int n = panel_->decodeSeries().size();
            if (chat_->busy() && n > last) ++during;
            last = n;
        });
        panel_->setVisible(true);
        chat_->send(QStringLiteral("Tell me a long story about a lighthouse keeper and a storm."));
        wait_idle();
        QTest::qWait(2 * MemoryPanel::kSampleIntervalMs);
        disconnect(panel_.get(), &MemoryPanel::sampled, this, nullptr);

        const QVariantList decode = panel_->decodeSeries();
        const auto reply = store_->messages(chat_->currentConversationId()).last();
        qInfo("%d samples added a decode point while %d tokens were generated", during, reply.completion_tokens);
        // A sample every 250 ms: 320 tokens take about 2 s here (7-9 samples
        // add a point); a machine four times faster still sees two.
        QVERIFY2(during >= 2, qPrintable(QString("%1 samples added a point during the reply").arg(during)));
        QVERIFY(decode.size() >= decode_before + 2);
        QVERIFY(panel_->prefillSeries().size() >= prefill_before + 1);
        double last_x = -1;
        for (const QVariant& v : decode) {
            const QPointF pt = v.toPointF();
            QVERIFY(pt.x() > last_x);  // time moves on
            QVERIFY(pt.y() > 0 && std::isfinite(pt.y()));
            last_x = pt.x();
        }
        const auto rows = store_->messages(chat_->currentConversationId());
        const double generated = at(panel_->live(), {"throughput", "decode_tokens"}) - tokens_before;
        QVERIFY2(generated >= rows.last().completion_tokens - 1 && generated <= rows.last().completion_tokens,
                 qPrintable(QString("%1 decode steps for %2 tokens").arg(generated).arg(rows.last().completion_tokens)));
        QVERIFY(at(panel_->live(), {"throughput", "ttft_ms"}) > 0);
        // Engram: rows were read and the heat strip shows the hottest ones.
        QVERIFY(panel_->rates().contains("lookups_per_s"));
        QTRY_VERIFY_WITH_TIMEOUT(!panel_->heat().isEmpty(), 5000);
        const QVariantList heat = panel_->heat();
        // Hottest first: levels (mean count of a bin over the hottest row's) fall.
        double prev = 1.0;
        for (const QVariant& b : heat) {
            const double level = b.toMap().value("level").toDouble();
            QVERIFY2(level > 0 && level <= prev, qPrintable(QString("level %1 after %2").arg(level).arg(prev)));
            prev = level;
        }
        chat_->setSettings({{"max_tokens", 48}, {"seed", 1234}, {"temperature", 0.7}});
    }

    // What was applied is remembered for that model, and only that model.
    void budgetsAreRememberedPerModel() {
        const QVariantMap applied = current_settings();
        MemoryPanel fresh(prefs_.get());
        const eg::PlacementRequest s = fresh.placementFor(engram_);
        QVERIFY(s.engram_dram_budget);
        QCOMPARE(QString::fromStdString(s.engram_dram_budget->to_string()), applied.value("engram_dram_budget").toString());
        QCOMPARE(s.n_ctx, 2048);
        QVERIFY(!s.vram_budget);  // no GPU here: nothing chosen
        QVERIFY(fresh.placementFor(base_).empty());

        // Another model: its own defaults; the Engram slider says why it is off.
        load(base_);
        QVERIFY(!panel_->hasEngram());
        QVERIFY(!panel_->engramUnavailableReason().isEmpty());
        QCOMPARE(panel_->contextLength(), 4096);
        // Back: the remembered budgets, not the command line's 5%.
        load(engram_);
        QCOMPARE(current_settings().value("engram_dram_budget").toString(), applied.value("engram_dram_budget").toString());
        QCOMPARE(panel_->contextLength(), 2048);
    }

    // Settings that cannot be done are explained in words; nothing is lost.
    void impossibleSettingsAreExplained() {
        // Planning for a GPU this machine does not have: the plan puts blocks
        // on it, the session cannot, and says so instead of falling back silently.
        panel_->setOverrides(flags({}, "2G,25"));
        load(engram_);
        QVERIFY(panel_->vramAvailable());
        QCOMPARE(panel_->vramMax(), 2.0 * (1u << 30));
        QVERIFY(at(panel_->current(), {"plan", "n_gpu_blocks"}) > 0);
        QVERIFY2(panel_->notes().join('\n').contains("on the CPU instead"), qPrintable(panel_->notes().join('\n')));
        // A VRAM budget too small for anything is explained before Apply.
        panel_->setVramBudget(8 << 20);
        const QStringList problems = panel_->preview().value("problems").toStringList();
        QVERIFY2(!problems.isEmpty(), "no problem named for an 8 MiB VRAM budget");
        QVERIFY2(problems.join('\n').contains("MiB"), qPrintable(problems.join('\n')));
        panel_->setOverrides({});
        panel_->revert();

        // A budget that cannot be read is refused where it is typed (budgets
        // are parsed once, at the edge): the error names it, the placement
        // and the sliders stay and the model still answers.
        const int placements = worker_->placements();
        const double engram_before = panel_->engramBudget();
        QCOMPARE(panel_->parseBudget(QStringLiteral("lots"), tables_, QStringLiteral("Engram DRAM budget")), -1.0);
        const QString why = panel_->error();
        QVERIFY2(why.contains("Engram DRAM budget") && why.contains("lots"), qPrintable(why));
        QCOMPARE(panel_->engramBudget(), engram_before);
        QVERIFY(!panel_->dirty());
        QCOMPARE(worker_->placements(), placements);
        // A good one clears the error.
        QCOMPARE(panel_->parseBudget(QStringLiteral("50%"), tables_, QStringLiteral("Engram DRAM budget")),
                 std::round(tables_ / 2));
        QVERIFY(panel_->error().isEmpty());
        chat_->send(QStringLiteral("Still there?"));
        wait_idle();
        QVERIFY2(chat_->lastError().isEmpty(), qPrintable(chat_->lastError()));
        const auto rows = store_->messages(chat_->currentConversationId());
        QVERIFY(rows.last().finished && !rows.last().content.isEmpty());
    }

    // The panel itself: MemoryPanel.qml on the real view-model shows the
    // reason the VRAM slider is off, an enabled Engram slider, the heat strip
    // and the chart's series.
    void panelView() {
        load(engram_);  // planned for this machine again (the test before assumed a GPU)
        QVERIFY(!panel_->vramAvailable());
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
        auto* reason = item->findChild<QQuickItem*>("vramBudgetReason");
        QVERIFY(reason && reason->isVisible());
        QVERIFY(reason->property("text").toString().contains(why_no_gpu()));
        auto* slider = item->findChild<QQuickItem*>("engramBudgetSlider");
        QVERIFY(slider && slider->isVisible() && slider->isEnabled());
        QCOMPARE(slider->property("value").toDouble(), panel_->engramBudget());
        auto* field = item->findChild<QQuickItem*>("engramBudgetField");
        QVERIFY(field);
        QCOMPARE(field->property("text").toString(), panel_->formatBytes(panel_->engramBudget()));
        // Input the field cannot take is said under it, and what is more than
        // there is is held to the most, saying so.
        auto* message = item->findChild<QQuickItem*>("engramBudgetMessage");
        QVERIFY(message && !message->isVisible());
        for (const char* bad : {"garbage", "-1"}) {
            field->setProperty("text", QString::fromLatin1(bad));
            QMetaObject::invokeMethod(field, "editingFinished");
            QVERIFY2(message->isVisible(), bad);
            QVERIFY2(message->property("text").toString().contains("Engram DRAM"), qPrintable(message->property("text").toString()));
            QCOMPARE(field->property("text").toString(), QString::fromLatin1(bad));  // kept, to correct
        }
        field->setProperty("text", QStringLiteral("100G"));
        QMetaObject::invokeMethod(field, "editingFinished");
        QVERIFY2(message->property("text").toString().contains("held to " + panel_->formatBytes(panel_->engramMax())),
                 qPrintable(message->property("text").toString()));
        QCOMPARE(panel_->engramBudget(), panel_->engramMax());
        field->setProperty("text", QStringLiteral("10%"));
        QMetaObject::invokeMethod(field, "editingFinished");
        QVERIFY(!message->isVisible());
        QCOMPARE(field->property("text").toString(), panel_->formatBytes(panel_->engramBudget()));
        auto* strip = item->findChild<QQuickItem*>("heatStrip");
        QVERIFY(strip && strip->isVisible());
        panel_->refreshHeat();
        QTRY_VERIFY(!strip->childItems().isEmpty() && !strip->childItems().first()->childItems().isEmpty());
        auto* chart = item->findChild<QQuickItem*>("throughputChart");
        QVERIFY(chart);
        QTRY_VERIFY(chart->property("count").toInt() == 2);
        // The chart holds the view-model's series, point for point, as samples come.
        QAbstractSeries* series = nullptr;
        QVERIFY(QMetaObject::invokeMethod(chart, "series", Q_RETURN_ARG(QAbstractSeries*, series),
                                          Q_ARG(QString, QStringLiteral("decode tok/s"))));
        auto* decode = qobject_cast<QXYSeries*>(series);
        QVERIFY(decode);
        QVERIFY(panel_->decodeSeries().size() >= 2);
        panel_->sample();
        QTRY_COMPARE(decode->count(), (int)panel_->decodeSeries().size());
        QCOMPARE(decode->at(decode->count() - 1), panel_->decodeSeries().last().toPointF());
        QCOMPARE(decode->at(0), panel_->decodeSeries().first().toPointF());
        QVERIFY(QDir().mkpath(EG_ARTIFACTS_DIR));  // this test may run alone
        QVERIFY(window.grabWindow().save(QStringLiteral(EG_ARTIFACTS_DIR "/memory-panel-offscreen.png")));
    }

    // A mixture-of-experts model: the expert DRAM row is there for it alone;
    // its slider and Apply give a session whose expert cache has that size,
    // the conversation goes on, and the live figures split the experts over
    // DRAM and SSD as the plan does, with the statistics and heat strip shown.
    void mixtureOfExpertsBudget() {
        const QString moe = dir_.filePath("tiny-qwen3moe.gguf");
        eg::SyntheticOptions so;
        so.arch = "qwen3moe";
        so.n_layer = 2;
        so.n_embd = 256;
        so.n_expert = 8;
        so.n_expert_used = 2;
        so.n_ff_exp = 128;
        so.type = eg::GgmlType::Q8_0;
        so.seed = 11;
        so.out_path = moe.toStdString();
        EG_VERIFY_OK(eg::write_synthetic_model(so));

        // The view on the Engram model (no experts): no expert row, no expert section.
        load(engram_);
        QVERIFY(!panel_->hasExperts());
        QCOMPARE(panel_->expertBytes(), 0.0);
        QQmlEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/"));
        QQmlComponent c(&engine, QUrl(QStringLiteral("qrc:/EngramDesktop/MemoryPanel.qml")));
        QScopedPointer<QObject> o(c.createWithInitialProperties({{"panel", QVariant::fromValue(panel_.get())}}));
        QVERIFY2(o, qPrintable(c.errorString()));
        QQuickWindow window;
        auto* item = qobject_cast<QQuickItem*>(o.get());
        QVERIFY(item);
        QVERIFY(show_in_window(window, item, QSize(520, 1600)));
        auto* row = item->findChild<QQuickItem*>("expertBudget");
        QVERIFY(row);
        QVERIFY(!row->isVisible());

        // The MoE model, loaded with all its experts in DRAM (no budget given).
        load(moe);
        QVERIFY(panel_->hasExperts());
        QVERIFY(!panel_->hasEngram());
        const double all = panel_->expertBytes();
        QCOMPARE(all, 2.0 * 8 * 3 * 128 * (256 / 32) * 34);  // 2 blocks x 8 experts x 3 Q8_0 matrices
        QCOMPARE(panel_->expertBudget(), all);
        QVERIFY(!panel_->dirty());
        QTRY_VERIFY(row->isVisible());
        panel_->sample();
        QVERIFY(!panel_->live().value("experts").isValid() || panel_->live().value("experts").isNull());
        QCOMPARE(at(panel_->live(), {"memory", "dram", "by_category", "experts"}), all);
        QCOMPARE(at(panel_->live(), {"memory", "ssd", "by_category", "experts"}), 0.0);

        chat_->newConversation();
        chat_->send(QStringLiteral("Hello there."));
        wait_idle();
        const qint64 conversation = chat_->currentConversationId();
        QCOMPARE(store_->messages(conversation).size(), 2);

        // Moving the slider to a quarter of the experts previews it and says what changes.
        auto* slider = item->findChild<QQuickItem*>("expertBudgetSlider");
        QVERIFY(slider && slider->isVisible());
        QCOMPARE(slider->property("value").toDouble(), all);
        slider->setProperty("value", 0.25 * all);
        QVERIFY(QMetaObject::invokeMethod(slider, "moved"));
        const double want = std::round(0.25 * all);
        QCOMPARE(panel_->expertBudget(), want);
        QVERIFY(panel_->dirty());
        // The plan holds whole experts (slots of 4 KiB-rounded slices) within the budget.
        const double planned = at(panel_->preview(), {"experts", "dram_bytes"});
        QVERIFY2(planned <= want && planned > want - (all / 16 + 3 * 4096), qPrintable(QString::number(planned)));
        QCOMPARE(at(panel_->preview(), {"tiers", "ssd", "by_category", "experts"}), all - planned);
        QVERIFY2(panel_->changes().join('\n').contains("Experts in DRAM"), qPrintable(panel_->changes().join('\n')));
        // The text field takes the same forms as the Engram one.
        QCOMPARE(panel_->parseBudget(QStringLiteral("25%"), all, QStringLiteral("Experts in DRAM")), want);
        apply_and_wait();
        QCOMPARE(current_settings().value("expert_dram_budget").toString(), QString::number((qulonglong)want));
        QCOMPARE(panel_->expertBudget(), want);
        QCOMPARE(at(panel_->current(), {"plan", "experts", "dram_bytes"}), planned);

        // The session's expert cache holds the whole experts that fit the budget
        // (a slot is one expert, its three slices each rounded up to 4 KiB).
        const QVariantMap x = engine_stats().value("experts").toMap();
        QVERIFY2(!x.isEmpty(), "no expert tier after Apply");
        const double one = x.value("expert_bytes").toDouble(), capacity = x.value("capacity").toDouble();
        QVERIFY2(one >= all / 16 && one < all / 16 + 3 * 4096, qPrintable(QString::number(one)));
        QCOMPARE(capacity, std::floor(want / one));
        QVERIFY(capacity >= 1);

        // The conversation goes on in the new session: the whole of it prefilled again.
        QSignalSpy finished(worker_, &EngineWorker::finished);
        chat_->send(QStringLiteral("And again?"));
        wait_idle();
        QCOMPARE(chat_->currentConversationId(), conversation);
        const auto rows = store_->messages(conversation);
        QCOMPARE(rows.size(), 4);
        QVERIFY(rows[3].finished && !rows[3].content.isEmpty());
        QCOMPARE(finished.count(), 1);
        const eg::ReplyStats st = finished[0][1].value<eg::ReplyStats>();
        QCOMPARE(st.generation.reused_tokens, 0);
        QVERIFY(st.prompt_tokens > 10);

        // Live: the experts split over DRAM and SSD as the session holds them,
        // whole slots within the budget, as the plan counts them.
        panel_->sample();
        const QVariantMap live = panel_->live();
        QCOMPARE(live.value("memory").toMap(), engine_stats().value("memory").toMap());
        const double dram = at(live, {"memory", "dram", "by_category", "experts"});
        const double ssd = at(live, {"memory", "ssd", "by_category", "experts"});
        qInfo("experts: plan %.0f B in DRAM, %.0f B on SSD; live %.0f B in DRAM (%.0f slots), %.0f B on SSD",
              at(panel_->current(), {"plan", "experts", "dram_bytes"}), at(panel_->current(), {"plan", "experts", "ssd_bytes"}),
              dram, capacity, ssd);
        QCOMPARE(dram, capacity * one);
        QCOMPARE(dram + ssd, all);
        QVERIFY(dram <= want && want - dram < one);
        QCOMPARE(at(panel_->current(), {"plan", "tiers", "dram", "by_category", "experts"}), dram);
        QCOMPARE(at(panel_->current(), {"plan", "tiers", "ssd", "by_category", "experts"}), all - dram);
        const double hits = at(live, {"experts", "hits"}), misses = at(live, {"experts", "misses"});
        QVERIFY(hits + misses > 0 && misses > 0);
        QVERIFY(at(live, {"experts", "bytes_read"}) > 0);
        QVERIFY(at(live, {"experts", "optimal_hit_rate"}) >= at(live, {"experts", "traced_hit_rate"}) - 1e-9);
        // The heat strip: the busiest experts, busiest first, levels falling.
        const QVariantList heat = panel_->expertHeat();
        QVERIFY(!heat.isEmpty() && heat.size() <= 16);
        double prev = 1.0;
        int resident = 0;
        for (const QVariant& h : heat) {
            const QVariantMap m = h.toMap();
            QVERIFY(m.value("layer").toInt() >= 0 && m.value("layer").toInt() < 2);
            QVERIFY(m.value("expert").toInt() >= 0 && m.value("expert").toInt() < 8);
            QVERIFY(m.value("level").toDouble() <= prev && m.value("level").toDouble() > 0);
            prev = m.value("level").toDouble();
            resident += m.value("resident").toBool() ? 1 : 0;
        }
        QVERIFY(resident <= capacity);

        // The view: the statistics side by side and one heat cell per expert.
        auto* rate = item->findChild<QQuickItem*>("expertHitRate");
        QVERIFY(rate);
        QTRY_VERIFY(rate->isVisible());
        QVERIFY2(rate->property("text").toString().contains("best possible"), qPrintable(rate->property("text").toString()));
        auto* strip = item->findChild<QQuickItem*>("expertHeatStrip");
        QVERIFY(strip && strip->isVisible());
        QTRY_COMPARE(strip->childItems().first()->childItems().size(), (int)heat.size() + 1);  // cells and the Repeater
        // Each cell's tooltip names its block and expert, busiest first.
        const QVariantMap busiest = panel_->expertHeat().first().toMap();
        QString tip;
        for (QQuickItem* cell : strip->childItems().first()->childItems())
            if (cell->property("tip").isValid()) {
                tip = cell->property("tip").toString();
                break;
            }
        QVERIFY2(tip.startsWith(QString("Block %1, expert %2: ").arg(busiest.value("layer").toInt()).arg(busiest.value("expert").toInt())),
                 qPrintable(tip));
        QVERIFY(QDir().mkpath(EG_ARTIFACTS_DIR));
        QVERIFY(window.grabWindow().save(QStringLiteral(EG_ARTIFACTS_DIR "/memory-panel-moe-offscreen.png")));

        // Remembered for this model; the Engram model keeps its own (no expert budget).
        MemoryPanel fresh(prefs_.get());
        const eg::PlacementRequest r = fresh.placementFor(moe);
        QVERIFY(r.expert_dram_budget);
        QCOMPARE(QString::fromStdString(r.expert_dram_budget->to_string()), QString::number((qulonglong)want));
        QVERIFY(!fresh.placementFor(engram_).expert_dram_budget);
        load(engram_);
        QTRY_VERIFY(!row->isVisible());
        load(moe);
        QCOMPARE(panel_->expertBudget(), want);
        QVERIFY(!panel_->dirty());

        // As `engram-desktop --expert-dram-budget 10%`: the command line wins
        // over what is remembered, for this run.
        eg::BudgetFlags f;
        f.expert_dram = "10%";
        eg::PlacementRequest cl;
        EG_VERIFY_OK(eg::parse_budget_flags(f, cl));
        panel_->setOverrides(cl);
        load(engram_);
        load(moe);
        QCOMPARE(current_settings().value("expert_dram_budget").toString(), QStringLiteral("10%"));
        QCOMPARE(panel_->expertBudget(), (double)cl.expert_dram_budget->resolve((uint64_t)all));
        const double held = at(panel_->current(), {"plan", "experts", "dram_bytes"});
        QVERIFY(held <= panel_->expertBudget() && held > panel_->expertBudget() - (all / 16 + 3 * 4096));
        QVERIFY(!panel_->dirty());
        panel_->setOverrides({});
    }
};

QTEST_MAIN(TestMemoryPanel)
#include "test_memory_panel.moc"
