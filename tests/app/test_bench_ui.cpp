// engram-bench-ui in its short form (CI runs every benchmark briefly): it
// loads the default model in the real controller and worker, streams a reply,
// stops one, and prints figures a user can read: GUI-thread gaps measured
// over the reply, a Stop time, the reply's tokens. The figures themselves are
// not judged here (these machines are shared); that they exist and make
// sense is.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

#include "test_env.h"

class TestBenchUi : public QObject {
    Q_OBJECT
private slots:
    void short_run_reports_figures() {
        const QString model = QString::fromStdString(eg_test::default_model_path());
        QVERIFY2(QFile::exists(model), qPrintable("the default model is missing: " + model));
        QProcess p;
        p.start(EG_BENCH_UI_PATH, {"-m", model, "-n", "16", "-r", "1"});
        QVERIFY(p.waitForFinished(600'000));
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, err.constData());
        QJsonParseError pe;
        const QJsonObject j = QJsonDocument::fromJson(p.readAllStandardOutput(), &pe).object();
        QVERIFY2(pe.error == QJsonParseError::NoError, qPrintable(pe.errorString()));
        const QJsonObject gap = j["gui_thread_gap_ms"].toObject();
        QVERIFY2(gap["ticks"].toInt() > 0, "no GUI tick while the reply streamed");
        QVERIFY(gap["median"].toDouble() > 0);
        QVERIFY(gap["median"].toDouble() <= gap["p99"].toDouble());
        QVERIFY(gap["p99"].toDouble() <= gap["max"].toDouble());
        QVERIFY(j["stop_ms"].toObject()["median"].toDouble() > 0);
        QVERIFY(j["reply_tokens"].toInt() > 0 && j["reply_tokens"].toInt() <= 16);
        QVERIFY(j["reply_tokens_per_s_median"].toDouble() > 0);

        // A missing model is refused with a sentence, not a crash.
        QProcess bad;
        bad.start(EG_BENCH_UI_PATH, {"-m", "/nonexistent/model.gguf"});
        QVERIFY(bad.waitForFinished(60'000));
        QVERIFY(bad.exitCode() != 0);
        QVERIFY2(bad.readAllStandardError().contains("model.gguf"), "the error does not name the file");
    }
};

QTEST_GUILESS_MAIN(TestBenchUi)
#include "test_bench_ui.moc"
