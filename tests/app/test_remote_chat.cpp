// The window's chat with a remote engine (ui/src/remote_models.h wired by
// eg::app::connect_worker), against real OpenAI-compatible servers on
// loopback: our own `engram-desktop --serve` with an API key, and
// llama-cpp-python's server. What a user does — add the engine (refused
// without its key, listed with it), pick its model, send, Stop, Regenerate,
// open the memory panel — ends up on screen and in the store as it does for
// a local model, the key stays in its owner-only file, an unreachable engine
// leaves the model in use as it was, and a local model takes over again.
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <memory>

#include "application.h"
#include "chat_controller.h"
#include "engine_worker.h"
#include "library/remote_engine.h"
#include "reference_servers.h"
#include "remote_models.h"
#include "store/chat_store.h"
#include "test_env.h"

using eg::app::EngineWorker;
using eg::store::ChatStore;
using eg::ui::ChatController;
using eg::ui::ModelPickerList;
using eg::ui::RemoteModels;

namespace {
constexpr int kReplyTimeoutMs = 180'000;
const QString kModelId = QStringLiteral("SmolLM2-135M-Instruct.Q4_1");
}  // namespace

class TestRemoteChat : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QProcess server_;
    QUrl server_url_;
    const QString key_ = QStringLiteral("sk-window-test-7f3a");
    std::unique_ptr<ChatStore> store_;
    std::unique_ptr<QSettings> prefs_;
    QThread thread_;
    EngineWorker* worker_ = nullptr;
    std::unique_ptr<ChatController> chat_;
    std::unique_ptr<RemoteModels> remote_;
    QString ref_;  // our server's model, as the picker names it

    void wait_idle() { QTRY_VERIFY_WITH_TIMEOUT(!chat_->busy(), kReplyTimeoutMs); }
    QString data_dir() const { return dir_.filePath(QStringLiteral("app")); }

    // Probes `url` with `key` and adds it; the model reference, or "".
    QString add_engine(const QString& url, const QString& key) {
        remote_->probe(url, key);
        if (!QTest::qWaitFor([&] { return !remote_->probing(); }, 60000)) return {};
        if (remote_->probeModels().isEmpty()) return {};
        return remote_->addProbed();
    }

    // Loads `ref` through the controller, as the picker does.
    bool use(const QString& ref) {
        chat_->loadModel(ref);
        return QTest::qWaitFor([&] { return !chat_->loadingModel(); }, 60000) && chat_->modelPath() == ref;
    }

    int server_health(const QString& field) {
        QProcess p;
        p.start(QStringLiteral("curl"), {QStringLiteral("-s"), server_url_.toString().chopped(3) + QStringLiteral("/health")});
        p.waitForFinished(60000);
        return QJsonDocument::fromJson(p.readAllStandardOutput()).object().value(field).toInt(-1);
    }

private slots:
    void initTestCase() {
        const QString model = QString::fromStdString(eg_test::default_model_path());
        QVERIFY2(QFile::exists(model), "the default model is missing: run scripts/fetch-model.sh");
        const QString key_file = dir_.filePath(QStringLiteral("server/key"));
        EG_VERIFY_OK(eg::library::save_api_key(key_file, key_));
        QByteArray log;
        server_url_ = eg_test::start_engram_server(
            server_, QStringLiteral(EG_DESKTOP_PATH),
            {QStringLiteral("--api-key-file"), key_file, QStringLiteral("--data-dir"), dir_.filePath(QStringLiteral("server")),
             QStringLiteral("--model"), model},
            &log);
        QVERIFY2(server_url_.isValid(), log.constData());

        store_ = std::make_unique<ChatStore>(QStringLiteral("test-remote-chat"));
        EG_VERIFY_OK(store_->open(dir_.filePath(QStringLiteral("engram.sqlite"))));
        prefs_ = std::make_unique<QSettings>(dir_.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
        worker_ = new EngineWorker;
        worker_->moveToThread(&thread_);
        thread_.start();
        chat_ = std::make_unique<ChatController>(*store_, prefs_.get());
        remote_ = std::make_unique<RemoteModels>(data_dir());
        eg::app::connect_worker(*chat_, *worker_, nullptr, remote_.get());
    }

    void cleanupTestCase() {
        if (worker_) worker_->requestStop();
        thread_.quit();
        thread_.wait();
        delete worker_;
        chat_.reset();
        remote_.reset();
        store_.reset();
        eg_test::stop_process(server_);
    }

    // Connect lists the models before anything is kept; without the key the
    // engine's own refusal is said; with it the engine is added, its key in
    // an owner-only file and nowhere else.
    void addingAnEngineListsItsModels() {
        QVERIFY(remote_->engines().isEmpty());
        remote_->probe(QStringLiteral("ftp://nowhere"), {});
        QVERIFY(!remote_->probing());
        QVERIFY(remote_->probeError().contains(QLatin1String("http://")));

        const QString address = QStringLiteral("127.0.0.1:%1").arg(server_url_.port());  // as a person types it
        remote_->probe(address, {});
        QVERIFY(remote_->probing());
        QTRY_VERIFY_WITH_TIMEOUT(!remote_->probing(), 60000);
        QVERIFY2(remote_->probeError().contains(QLatin1String("401")), qPrintable(remote_->probeError()));
        QVERIFY(remote_->addProbed().isEmpty());  // nothing listed, nothing added
        QVERIFY(remote_->engines().isEmpty());

        ModelPickerList picker(*chat_->messages(), *remote_);  // any list model stands in for the installed ones
        const int before = picker.rowCount();
        ref_ = add_engine(address, key_);
        QVERIFY2(!ref_.isEmpty(), qPrintable(remote_->probeError()));
        QVERIFY(eg::library::is_remote_model_ref(ref_));
        QVERIFY(ref_.endsWith(QLatin1Char('/') + kModelId));
        // The picker lists it, with its engine.
        QCOMPARE(picker.rowCount(), before + 1);
        const QModelIndex row = picker.index(picker.rowCount() - 1);
        QCOMPARE(picker.data(row, ModelPickerList::NameRole).toString(), kModelId);
        QCOMPARE(picker.data(row, ModelPickerList::PathRole).toString(), ref_);
        QVERIFY(picker.data(row, ModelPickerList::SizeTextRole).toString().contains(QString::number(server_url_.port())));

        const QVariantList engines = remote_->engines();
        QCOMPARE(engines.size(), 1);
        QVERIFY(engines[0].toMap()[QStringLiteral("hasKey")].toBool());
        const QString key_file = remote_->list().key_path(engines[0].toMap()[QStringLiteral("id")].toString());
        QCOMPARE(QFileInfo(key_file).permissions() & (QFile::ReadGroup | QFile::ReadOther), QFile::Permissions());
        // The key is in no other file of the data folder, nor in the settings.
        prefs_->sync();
        for (const QString& f : QDir(data_dir()).entryList(QDir::Files))
            if (QFile file(QDir(data_dir()).filePath(f)); file.open(QIODevice::ReadOnly))
                QVERIFY2(!file.readAll().contains(key_.toUtf8()), qPrintable(f));
        QFile settings(prefs_->fileName());
        QVERIFY(!settings.open(QIODevice::ReadOnly) || !settings.readAll().contains(key_.toUtf8()));
    }

    // The remote model answers in the window: streamed, saved, with the
    // stats measured on our side; a restart would not connect to it by itself.
    void chattingWithTheRemoteModel() {
        QVERIFY(!ref_.isEmpty());
        QVERIFY2(use(ref_), qPrintable(chat_->lastError()));
        QVERIFY(chat_->modelLoaded());
        QCOMPARE(chat_->modelName(), kModelId);
        QVERIFY(remote_->active());
        QVERIFY(!prefs_->value(QStringLiteral("model/last_path")).toString().startsWith(QLatin1String("remote:")));

        chat_->setSettings({{"max_tokens", 24}, {"temperature", 0.0}});
        int updates = 0;
        connect(chat_->messages(), &QAbstractItemModel::dataChanged, this, [&] { ++updates; });
        chat_->send(QStringLiteral("What is the capital of France?"));
        QVERIFY2(chat_->busy(), qPrintable(chat_->lastError()));
        wait_idle();
        disconnect(chat_->messages(), &QAbstractItemModel::dataChanged, this, nullptr);
        QVERIFY2(chat_->lastError().isEmpty(), qPrintable(chat_->lastError()));
        const QVariantMap reply = chat_->messages()->get(1);
        QVERIFY(!reply[QStringLiteral("content")].toString().trimmed().isEmpty());
        QVERIFY(updates > 2);  // it streamed in pieces
        const QString stats = reply[QStringLiteral("statsText")].toString();
        QVERIFY2(stats.contains(QLatin1String("tok/s")) && stats.contains(QLatin1String("first token")), qPrintable(stats));
        const auto rows = store_->messages(chat_->currentConversationId());
        QCOMPARE(rows.size(), 2);
        QVERIFY(rows[1].finished);
        QCOMPARE(rows[1].model, kModelId);
        QVERIFY(rows[1].completion_tokens > 1 && rows[1].completion_tokens <= 24);
        QVERIFY(rows[1].ttft_ms > 0);
        QCOMPARE(remote_->lastReply()[QStringLiteral("tokens")].toLongLong(), (qint64)rows[1].completion_tokens);
    }

    // Regenerate keeps the first answer as a version.
    void regenerateMakesAVersion() {
        chat_->setSettings({{"max_tokens", 12}, {"temperature", 1.0}, {"seed", 7}});
        chat_->regenerate();
        QVERIFY2(chat_->busy(), qPrintable(chat_->lastError()));
        wait_idle();
        QCOMPARE(chat_->messages()->count(), 2);
        const QVariantMap reply = chat_->messages()->get(1);
        QCOMPARE(reply[QStringLiteral("versions")].toInt(), 2);
        QCOMPARE(reply[QStringLiteral("version")].toInt(), 2);
    }

    // Stop ends the reply at once, keeps what came, and frees the engine.
    void stopEndsTheRemoteReply() {
        chat_->setSettings({{"max_tokens", 1500}, {"temperature", 1.0}, {"seed", 3}});
        chat_->send(QStringLiteral("Write a very long story about a lighthouse keeper."));
        QVERIFY(chat_->busy());
        const int row = chat_->messages()->count() - 1;
        QTRY_VERIFY_WITH_TIMEOUT(chat_->messages()->get(row)[QStringLiteral("content")].toString().size() > 40, 120000);
        QVERIFY(chat_->busy());
        chat_->stop();
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->busy(), 10000);
        const QVariantMap reply = chat_->messages()->get(row);
        QVERIFY(reply[QStringLiteral("statsText")].toString().contains(QLatin1String("stopped")));
        QVERIFY(!reply[QStringLiteral("content")].toString().isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(server_health(QStringLiteral("running")), 0, 10000);
    }

    // The memory panel's figures come from the engine's /metrics.
    void metricsOfTheEngine() {
        QSignalSpy changed(remote_.get(), &RemoteModels::metricsChanged);
        remote_->setWatching(true);
        QTRY_VERIFY_WITH_TIMEOUT(remote_->metrics().contains(QStringLiteral("running")), 30000);
        QCOMPARE(remote_->engineName(), QStringLiteral("Engram Desktop"));
        QVERIFY(remote_->metricsNote().isEmpty());
        QVERIFY(remote_->metricsUrl().endsWith(QLatin1String("/metrics")));
        QVERIFY(remote_->metrics()[QStringLiteral("generatedTokens")].toDouble() > 24);
        QVERIFY(remote_->metrics().contains(QStringLiteral("tokensPerS")));
        QCOMPARE(remote_->metrics()[QStringLiteral("running")].toInt(), 0);
        remote_->setWatching(false);
        // Removing the engine in use is refused with a sentence.
        const QString id = remote_->engines()[0].toMap()[QStringLiteral("id")].toString();
        QVERIFY(!remote_->removeEngine(id));
        QVERIFY(remote_->listError().contains(QLatin1String("in use")));
    }

    // An engine nobody here wrote: llama-cpp-python's own server.
    void llamaCppPythonServerAsARemoteEngine() {
        EG_NEED_LLAMA_SERVER();
        QProcess llama;
        QByteArray log;
        const QUrl url = eg_test::start_llama_server(llama, QStringLiteral("smollm2-llamacpp"), &log);
        QVERIFY2(url.isValid(), log.right(2000).constData());
        const QString ref = add_engine(url.toString(), {});
        QVERIFY2(!ref.isEmpty(), qPrintable(remote_->probeError()));
        QVERIFY2(use(ref), qPrintable(chat_->lastError()));
        QCOMPARE(chat_->modelName(), QStringLiteral("smollm2-llamacpp"));
        chat_->newConversation();
        chat_->setSettings({{"max_tokens", 16}, {"temperature", 0.0}});
        chat_->send(QStringLiteral("Name a colour."));
        QVERIFY2(chat_->busy(), qPrintable(chat_->lastError()));
        wait_idle();
        QVERIFY2(chat_->lastError().isEmpty(), qPrintable(chat_->lastError()));
        const auto rows = store_->messages(chat_->currentConversationId());
        QCOMPARE(rows.size(), 2);
        QVERIFY(rows[1].finished && !rows[1].content.trimmed().isEmpty());
        QVERIFY(rows[1].ttft_ms > 0);
        // It publishes no /metrics: the panel says so, in the engine's words.
        remote_->setWatching(true);
        QTRY_VERIFY_WITH_TIMEOUT(!remote_->metricsNote().isEmpty(), 30000);
        QVERIFY2(remote_->metricsNote().contains(QLatin1String("404")), qPrintable(remote_->metricsNote()));
        QCOMPARE(remote_->engineName(), QStringLiteral("OpenAI-compatible server"));
        remote_->setWatching(false);
        eg_test::stop_process(llama);
    }

    // Our server gone: picking its model says why, and the model in use stays.
    void anUnreachableEngineLeavesTheModelInUse() {
        const QString in_use = chat_->modelPath();
        const QString name = chat_->modelName();
        eg_test::stop_process(server_);
        chat_->loadModel(ref_);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->loadingModel(), 60000);
        QVERIFY2(chat_->lastError().contains(QLatin1String("Cannot reach")), qPrintable(chat_->lastError()));
        QVERIFY(chat_->modelLoaded());
        QCOMPARE(chat_->modelPath(), in_use);
        QCOMPARE(chat_->modelName(), name);
        chat_->clearError();
    }

    // A local model takes over: the remote one is no longer in use, and the
    // start-up model is the local one.
    void aLocalModelTakesOver() {
        const QString model = QString::fromStdString(eg_test::default_model_path());
        QVERIFY(use(model));
        QVERIFY(chat_->modelLoaded());
        QTRY_VERIFY_WITH_TIMEOUT(!remote_->active(), 10000);
        QCOMPARE(prefs_->value(QStringLiteral("model/last_path")).toString(), model);
        chat_->newConversation();
        chat_->setSettings({{"max_tokens", 8}});
        chat_->send(QStringLiteral("Hi"));
        wait_idle();
        QVERIFY2(chat_->lastError().isEmpty(), qPrintable(chat_->lastError()));
        // No longer in use: the engines can go.
        for (const QVariant& e : remote_->engines()) QVERIFY(remote_->removeEngine(e.toMap()[QStringLiteral("id")].toString()));
        QVERIFY(remote_->engines().isEmpty());
    }
};

QTEST_MAIN(TestRemoteChat)
#include "test_remote_chat.moc"
