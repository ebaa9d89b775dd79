// Real OpenAI-compatible servers on loopback for the remote-engine tests:
// our own `engram-desktop --serve`, and llama-cpp-python's server — an
// engine nobody here wrote — from the venv scripts/llama-server-env.sh makes
// (the README's test command runs it and sets ENGRAM_REQUIRE_REFERENCE_SERVER=1,
// so there a missing venv fails instead of skipping).
#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QProcess>
#include <QRegularExpression>
#include <QString>
#include <QStringList>
#include <QTcpServer>
#include <QUrl>

#include "test_env.h"

namespace eg_test {

inline QString reference_python() {
    return QString::fromStdString(cache_dir()) + QStringLiteral("/refenv/bin/python");
}

// Whether the llama-cpp-python server can run here; else why not.
inline bool llama_server_available(QString* why) {
    QProcess check;
    check.start(reference_python(), {QStringLiteral("-c"), QStringLiteral("import llama_cpp.server")});
    if (check.waitForFinished(60000) && check.exitStatus() == QProcess::NormalExit && check.exitCode() == 0) return true;
    *why = QStringLiteral("llama-cpp-python[server] is not in %1 (run scripts/llama-server-env.sh)").arg(reference_python());
    return false;
}

inline bool reference_server_required() { return qEnvironmentVariableIntValue("ENGRAM_REQUIRE_REFERENCE_SERVER") == 1; }

// Skips the calling test where llama-cpp-python's server cannot run; fails
// it instead where the README's test command made the venv.
#define EG_NEED_LLAMA_SERVER()                                                    \
    do {                                                                          \
        QString eg_llama_why;                                                     \
        if (!eg_test::llama_server_available(&eg_llama_why)) {                    \
            if (eg_test::reference_server_required()) QFAIL(qPrintable(eg_llama_why)); \
            QSKIP(qPrintable(eg_llama_why));                                      \
        }                                                                         \
    } while (0)

inline quint16 free_port() {
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0)) return 0;
    return probe.serverPort();
}

// Starts llama-cpp-python's server on the default model under `alias`;
// returns its API root (http://127.0.0.1:PORT/v1), or an empty URL with the
// process's output in *log.
inline QUrl start_llama_server(QProcess& p, const QString& alias, QByteArray* log, int n_ctx = 2048) {
    const quint16 port = free_port();
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(reference_python(),
            {QStringLiteral("-m"), QStringLiteral("llama_cpp.server"), QStringLiteral("--model"),
             QString::fromStdString(default_model_path()), QStringLiteral("--port"), QString::number(port),
             QStringLiteral("--n_ctx"), QString::number(n_ctx), QStringLiteral("--model_alias"), alias});
    if (!p.waitForStarted(30000)) return {};
    QElapsedTimer t;
    t.start();
    while (!log->contains("Uvicorn running") && p.state() == QProcess::Running && t.elapsed() < 120000) {
        p.waitForReadyRead(1000);
        *log += p.readAll();
    }
    if (!log->contains("Uvicorn running")) return {};
    return QUrl(QStringLiteral("http://127.0.0.1:%1/v1").arg(port));
}

// Starts `engram-desktop --serve` (any free port) with `args` added; returns
// the URL it prints once the model is in, or an empty URL with its output in *log.
inline QUrl start_engram_server(QProcess& p, const QString& desktop, const QStringList& args, QByteArray* log) {
    p.start(desktop, QStringList{QStringLiteral("--serve"), QStringLiteral("--port"), QStringLiteral("0")} + args);
    if (!p.waitForStarted(30000)) return {};
    static const QRegularExpression serving(QStringLiteral("serving \\S+ at (http://\\S+)"));
    QElapsedTimer t;
    t.start();
    while (!serving.match(QString::fromUtf8(*log)).hasMatch() && p.state() == QProcess::Running && t.elapsed() < 120000) {
        p.waitForReadyRead(1000);
        *log += p.readAllStandardOutput();
    }
    const auto m = serving.match(QString::fromUtf8(*log));
    if (!m.hasMatch()) {
        *log += p.readAllStandardError();
        return {};
    }
    return QUrl(m.captured(1));
}

inline void stop_process(QProcess& p) {
    if (p.state() == QProcess::NotRunning) return;
    p.terminate();
    if (!p.waitForFinished(30000)) p.kill();
    p.waitForFinished(5000);
}

}  // namespace eg_test
