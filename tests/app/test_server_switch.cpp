// The window's server switch (ui ServerSwitch + app connect_server_switch):
// off by default; switched on it serves the window's own engine worker on
// 127.0.0.1 (a request is answered by the model the window loaded); switched
// off the port is closed; a port in use turns the switch back off with the
// reason; the choice is remembered.
#include <QProcess>
#include <QSettings>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <memory>

#include "application.h"
#include "engine_worker.h"
#include "server/api_server.h"
#include "server_switch.h"
#include "test_env.h"

namespace {
// curl's exit code and output (7: could not connect).
std::pair<int, QByteArray> curl(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral("curl"), QStringList{QStringLiteral("-sS"), QStringLiteral("--max-time"), QStringLiteral("300")} + args);
    p.waitForFinished(310000);
    return {p.exitCode(), p.readAllStandardOutput()};
}
int free_port() {
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}
}  // namespace

class TestServerSwitch : public QObject {
    Q_OBJECT
    QThread thread_;
    eg::app::EngineWorker* worker_ = nullptr;
    QTemporaryDir dir_;

private slots:
    void initTestCase() {
        if (!QFile::exists(QString::fromStdString(eg_test::default_model_path())))
            QSKIP("the default model is missing: run scripts/fetch-model.sh");
        worker_ = new eg::app::EngineWorker;
        worker_->moveToThread(&thread_);
        thread_.start();
        QSignalSpy loaded(worker_, &eg::app::EngineWorker::modelLoaded);
        const QString path = QString::fromStdString(eg_test::default_model_path());
        QMetaObject::invokeMethod(worker_, [this, path] { worker_->loadModel(path); }, Qt::QueuedConnection);
        QVERIFY(loaded.wait(120000));
    }
    void cleanupTestCase() {
        thread_.quit();
        thread_.wait();
        delete worker_;
    }

    void the_switch_serves_the_windows_model_and_stops() {
        QSettings prefs(dir_.filePath(QStringLiteral("a.ini")), QSettings::IniFormat);
        eg::ui::ServerSwitch sw(&prefs);
        QVERIFY(!sw.enabled());  // off by default
        std::unique_ptr<eg::server::ApiServer> server;
        eg::app::connect_server_switch(sw, *worker_, server);
        const int port = free_port();
        sw.setPort(port);
        sw.setEnabled(true);
        QVERIFY(sw.serving());
        QVERIFY2(sw.status().contains(QStringLiteral("http://127.0.0.1:%1/v1").arg(port)), qPrintable(sw.status()));
        const QString base = QStringLiteral("http://127.0.0.1:%1").arg(port);
        // The server runs on this (the window's) thread: curl runs in the
        // background while the event loop turns.
        QProcess p;
        p.start(QStringLiteral("curl"),
                {QStringLiteral("-sS"), QStringLiteral("-H"), QStringLiteral("Content-Type: application/json"), QStringLiteral("-d"),
                 QStringLiteral("{\"model\":\"SmolLM2-135M-Instruct.Q4_1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                                "\"max_tokens\":5,\"temperature\":0}"),
                 base + QStringLiteral("/v1/chat/completions")});
        QTRY_COMPARE_WITH_TIMEOUT(p.state(), QProcess::NotRunning, 300000);
        const QByteArray out = p.readAllStandardOutput();
        QVERIFY2(out.contains("\"object\":\"chat.completion\"") && out.contains("\"completion_tokens\":5"), out.constData());
        QVERIFY(prefs.value(QStringLiteral("server/enabled")).toBool());  // remembered

        sw.setEnabled(false);
        QVERIFY(!sw.serving());
        QVERIFY(!server);
        QCOMPARE(curl({base + QStringLiteral("/health")}).first, 7);  // nothing listens any more
        QVERIFY(!prefs.value(QStringLiteral("server/enabled")).toBool());
    }

    void a_port_in_use_turns_the_switch_back_off_with_the_reason() {
        QTcpServer squatter;
        QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
        QSettings prefs(dir_.filePath(QStringLiteral("b.ini")), QSettings::IniFormat);
        eg::ui::ServerSwitch sw(&prefs);
        std::unique_ptr<eg::server::ApiServer> server;
        eg::app::connect_server_switch(sw, *worker_, server);
        sw.setPort(squatter.serverPort());
        sw.setEnabled(true);
        QVERIFY(!sw.enabled());
        QVERIFY(!sw.serving());
        QVERIFY2(sw.status().contains(QString::number(squatter.serverPort())), qPrintable(sw.status()));
    }
};

QTEST_GUILESS_MAIN(TestServerSwitch)
#include "test_server_switch.moc"
