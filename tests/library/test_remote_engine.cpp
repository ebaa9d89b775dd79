// A remote engine (library/remote_engine.h) against a real OpenAI-compatible
// server on loopback — our own `engram-desktop --serve` with the default
// model and an API key: its models listed, a reply streamed with the
// engine's usage and our own time to first token and tokens/s, Stop ending
// the reply and freeing the engine, the engine's errors said in its words,
// and the key kept in an owner-only file.
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include "library/remote_engine.h"
#include "reference_servers.h"
#include "test_env.h"

#ifndef EG_DESKTOP_PATH
#define EG_DESKTOP_PATH ""
#endif

using eg::library::RemoteEngine;
using eg::library::RemoteStats;

class TestRemoteEngine : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QProcess server_;
    QUrl base_;
    const QString key_ = QStringLiteral("sk-remote-test");

    int health(const QString& field) {
        QProcess p;
        p.start(QStringLiteral("curl"), {QStringLiteral("-s"), base_.toString().chopped(3) + QStringLiteral("/health")});
        p.waitForFinished(60000);
        return QJsonDocument::fromJson(p.readAllStandardOutput()).object().value(field).toInt(-1);
    }

private slots:
    void initTestCase() {
        if (!QFile::exists(QString::fromStdString(eg_test::default_model_path())))
            QSKIP("the default model is missing: run scripts/fetch-model.sh");
        const QString key_file = dir_.filePath(QStringLiteral("engine/key"));
        EG_VERIFY_OK(eg::library::save_api_key(key_file, key_));
        QByteArray log;
        base_ = eg_test::start_engram_server(server_, QStringLiteral(EG_DESKTOP_PATH),
                                             {QStringLiteral("--api-key-file"), key_file, QStringLiteral("--data-dir"),
                                              dir_.filePath(QStringLiteral("data")), QStringLiteral("--model"),
                                              QString::fromStdString(eg_test::default_model_path())},
                                             &log);
        QVERIFY2(base_.isValid(), log.constData());
    }
    void cleanupTestCase() {
        if (server_.state() == QProcess::Running) {
            server_.terminate();
            server_.waitForFinished(30000);
        }
    }

    void the_key_file_is_private_to_its_owner() {
        const QString path = dir_.filePath(QStringLiteral("engine/key"));
        QCOMPARE(QFile::permissions(path) & ~(QFileDevice::ReadUser | QFileDevice::WriteUser),
                 QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        auto key = eg::library::load_api_key(path);
        EG_VERIFY_OK(key);
        QCOMPARE(key.value(), key_);
        QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadOther);
        QVERIFY(!eg::library::load_api_key(path).ok());  // readable by others: refused
        QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    }

    void models_are_listed_with_the_key_and_refused_without() {
        RemoteEngine without(base_, {});
        QSignalSpy refused(&without, &RemoteEngine::listFailed);
        without.listModels();
        QVERIFY(refused.wait(60000));
        QVERIFY2(refused[0][0].toString().contains(QStringLiteral("401")), qPrintable(refused[0][0].toString()));

        RemoteEngine engine(base_, key_);
        QSignalSpy listed(&engine, &RemoteEngine::modelsListed);
        engine.listModels();
        QVERIFY(listed.wait(60000));
        QCOMPARE(listed[0][0].toStringList(), QStringList{QStringLiteral("SmolLM2-135M-Instruct.Q4_1")});
    }

    void a_reply_streams_with_usage_and_our_own_timings() {
        RemoteEngine engine(base_, key_);
        QSignalSpy pieces(&engine, &RemoteEngine::pieces);
        QSignalSpy done(&engine, &RemoteEngine::finished);
        eg::GenerationSettings s;
        s.temperature = 0;
        s.max_tokens = 12;
        const qint64 id = engine.chat(QStringLiteral("SmolLM2-135M-Instruct.Q4_1"), {{"user", "Tell me about the sea."}}, s);
        QVERIFY(done.wait(300000));
        QCOMPARE(done[0][0].toLongLong(), id);
        const auto stats = done[0][1].value<RemoteStats>();
        QString text;
        for (const auto& p : pieces) text += p[1].toString();
        QVERIFY(pieces.size() > 1 && !text.isEmpty());
        QVERIFY(stats.prompt_tokens > 5);
        QVERIFY(stats.completion_tokens >= 1 && stats.completion_tokens <= 12);
        QCOMPARE(stats.finish_reason, stats.completion_tokens == 12 ? QStringLiteral("length") : QStringLiteral("stop"));
        QVERIFY(stats.time_to_first_token_ms > 0 && stats.decode_tokens_per_s > 0);
        QVERIFY(!stats.stopped);
    }

    void stop_ends_the_reply_and_frees_the_engine() {
        RemoteEngine engine(base_, key_);
        QSignalSpy pieces(&engine, &RemoteEngine::pieces);
        QSignalSpy done(&engine, &RemoteEngine::finished);
        eg::GenerationSettings s;
        s.max_tokens = 4000;
        const qint64 id = engine.chat(QStringLiteral("SmolLM2-135M-Instruct.Q4_1"),
                                      {{"user", "Write a very long story about a lighthouse."}}, s);
        QVERIFY(pieces.wait(300000));
        engine.stop(id);
        QCOMPARE(done.size(), 1);
        QVERIFY(done[0][1].value<RemoteStats>().stopped);
        QTRY_COMPARE_WITH_TIMEOUT(health(QStringLiteral("running")), 0, 60000);
    }

    void the_engines_errors_are_said_in_its_words() {
        RemoteEngine engine(base_, key_);
        QSignalSpy failed(&engine, &RemoteEngine::failed);
        engine.chat(QStringLiteral("no-such-model"), {{"user", "hi"}}, eg::GenerationSettings{});
        QVERIFY(failed.wait(60000));
        const QString e = failed[0][1].toString();
        QVERIFY2(e.contains(QStringLiteral("404")) && e.contains(QStringLiteral("no-such-model")), qPrintable(e));

        RemoteEngine nowhere(QUrl(QStringLiteral("http://127.0.0.1:1/v1")), {});
        QSignalSpy unreachable(&nowhere, &RemoteEngine::failed);
        nowhere.chat(QStringLiteral("m"), {{"user", "hi"}}, eg::GenerationSettings{});
        QVERIFY(unreachable.wait(60000));
        QVERIFY2(unreachable[0][1].toString().startsWith(QStringLiteral("Cannot reach")), qPrintable(unreachable[0][1].toString()));
    }

    // An engine nobody here wrote: llama-cpp-python's own server on the same
    // model (in the venv scripts/llama-server-env.sh makes).
    void llama_cpp_pythons_server_lists_and_streams() {
        EG_NEED_LLAMA_SERVER();
        QProcess llama;
        QByteArray log;
        const QUrl url = eg_test::start_llama_server(llama, QStringLiteral("smollm2"), &log);
        QVERIFY2(url.isValid(), log.right(2000).constData());
        RemoteEngine engine(url, {});
        QSignalSpy listed(&engine, &RemoteEngine::modelsListed);
        engine.listModels();
        QVERIFY(listed.wait(60000));
        QCOMPARE(listed[0][0].toStringList(), QStringList{QStringLiteral("smollm2")});
        QSignalSpy pieces(&engine, &RemoteEngine::pieces);
        QSignalSpy done(&engine, &RemoteEngine::finished);
        QSignalSpy failed(&engine, &RemoteEngine::failed);
        eg::GenerationSettings s;
        s.temperature = 0;
        s.max_tokens = 12;
        engine.chat(QStringLiteral("smollm2"), {{"user", "Tell me about the sea."}}, s);
        QTRY_VERIFY_WITH_TIMEOUT(done.size() + failed.size() == 1, 300000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][1].toString()));
        const auto stats = done[0][1].value<RemoteStats>();
        QVERIFY(pieces.size() > 1);
        QVERIFY(stats.completion_tokens >= 1 && stats.completion_tokens <= 12);
        QVERIFY(!stats.finish_reason.isEmpty());
        QVERIFY(stats.time_to_first_token_ms > 0);
        eg_test::stop_process(llama);
    }
};

QTEST_GUILESS_MAIN(TestRemoteEngine)
#include "test_remote_engine.moc"
