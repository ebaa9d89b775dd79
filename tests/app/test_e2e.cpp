// End to end: the real engram-desktop binary on a private X server (Xvfb) with a
// fresh data dir and the default model. A message is typed into the real input
// field with xdotool and sent with Enter, exactly as a person would; the test
// then waits for the finished reply in the app's SQLite store, saves a
// screenshot (test-artifacts/e2e-chat.png) and fails unless the reply is drawn
// in the window's message area. Then the memory panel (Ctrl+M) is shot during
// generation: with an Engram model at a 5% DRAM budget and with the plain
// model on this GPU-less machine (test-artifacts/e2e-memory-*.png).
//
// Needs: Xvfb, xdotool and ImageMagick (import, convert) on PATH.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include "forge.h"
#include "library/remote_engine.h"
#include "model/synthetic.h"
#include "reference_servers.h"
#include "test_env.h"

// tests/CMakeLists.txt defines EG_DESKTOP_PATH="$<TARGET_FILE:engram-desktop>".
#ifndef EG_DESKTOP_PATH
#define EG_DESKTOP_PATH ""
#endif
#ifndef EG_ARTIFACTS_DIR
#define EG_ARTIFACTS_DIR "test-artifacts"
#endif

namespace {

constexpr int kScreenWidth = 1600;
constexpr int kScreenHeight = 1000;
const QString kPrompt = QStringLiteral("Say hello in one short sentence.");

struct Geometry {
    int x = 0, y = 0, width = 0, height = 0;
};

// Runs a helper tool to completion; returns its stdout (stderr kept apart).
QString run_tool(const QString& program, const QStringList& args, const QProcessEnvironment& env, int timeout_ms = 15000,
                 int* exit_code = nullptr) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(program, args);
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished(1000);
        if (exit_code) *exit_code = -1;
        return {};
    }
    if (exit_code) *exit_code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    return QString::fromUtf8(p.readAllStandardOutput()).trimmed();
}

void pause_ms(int ms) { QTest::qWait(ms); }

}  // namespace

class TestE2E : public QObject {
    Q_OBJECT

    QProcess xvfb_;
    QProcess app_;
    QTemporaryDir data_dir_;
    QProcessEnvironment env_;
    QString artifacts_;
    QString window_id_;

    QString app_data_;  // the running app's --data-dir
    QString db_path() const { return app_data_ + QStringLiteral("/engram.sqlite"); }

    // (role, content, finished) of every message in the store, oldest first.
    QList<std::tuple<QString, QString, bool>> stored_messages() {
        QList<std::tuple<QString, QString, bool>> rows;
        if (!QFileInfo::exists(db_path())) return rows;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("e2e-reader"));
            db.setDatabaseName(db_path());
            db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=2000"));
            if (db.open()) {
                QSqlQuery q(db);
                if (q.exec(QStringLiteral("SELECT role, content, finished FROM messages ORDER BY id")))
                    while (q.next()) rows.append({q.value(0).toString(), q.value(1).toString(), q.value(2).toBool()});
                db.close();
            }
        }
        QSqlDatabase::removeDatabase(QStringLiteral("e2e-reader"));
        return rows;
    }

    QString xdotool(const QStringList& args, int* rc = nullptr) {
        return run_tool(QStringLiteral("xdotool"), args, env_, 15000, rc);
    }

    Geometry window_geometry() {
        Geometry g;
        const QString out = xdotool({QStringLiteral("getwindowgeometry"), QStringLiteral("--shell"), window_id_});
        for (const QString& line : out.split('\n')) {
            const auto kv = line.split('=');
            if (kv.size() != 2) continue;
            if (kv[0] == "X") g.x = kv[1].toInt();
            if (kv[0] == "Y") g.y = kv[1].toInt();
            if (kv[0] == "WIDTH") g.width = kv[1].toInt();
            if (kv[0] == "HEIGHT") g.height = kv[1].toInt();
        }
        return g;
    }

    bool screenshot(const QString& path) {
        int rc = 0;
        run_tool(QStringLiteral("import"), {QStringLiteral("-window"), QStringLiteral("root"), path}, env_, 20000, &rc);
        return rc == 0 && QFileInfo(path).size() > 0;
    }

    // Text lines drawn in a region of an image: rows holding dark pixels, grouped
    // into bands separated by blank rows (the theme under Xvfb is light).
    // first_row: where the first band starts (-1 when there is none).
    int text_bands(const QString& image, const Geometry& r, int* first_row) {
        const QString out = run_tool(QStringLiteral("convert"),
                                     {image, QStringLiteral("-crop"),
                                      QStringLiteral("%1x%2+%3+%4").arg(r.width).arg(r.height).arg(r.x).arg(r.y),
                                      QStringLiteral("+repage"), QStringLiteral("-colorspace"), QStringLiteral("Gray"),
                                      QStringLiteral("-threshold"), QStringLiteral("50%"), QStringLiteral("-scale"),
                                      QStringLiteral("1x%1!").arg(r.height), QStringLiteral("-depth"),
                                      QStringLiteral("16"), QStringLiteral("txt:-")},
                                     env_);
        // Lines look like "0,17: (65535)  #FFFF  gray(255)"; a row with any black pixel averages below white.
        static const QRegularExpression row(QStringLiteral(R"(^0,(\d+):\s*\((\d+))"));
        int bands = 0;
        bool in_band = false;
        *first_row = -1;
        for (const QString& line : out.split('\n')) {
            const auto m = row.match(line);
            if (!m.hasMatch()) continue;
            const bool ink = m.captured(2).toInt() < 65535;
            if (ink && !in_band && ++bands == 1) *first_row = m.captured(1).toInt();
            in_band = ink;
        }
        return bands;
    }

    int distinct_colours(const QString& image) {
        return run_tool(QStringLiteral("identify"), {QStringLiteral("-format"), QStringLiteral("%k"), image}, env_)
            .toInt();
    }

    // Starts engram-desktop on the private display (log in artifacts/<log>)
    // and waits for its window.
    void start_app(const QString& data_dir, const QStringList& args, const QString& log,
                   const QStringList& extra_env = {}) {
        app_data_ = data_dir;
        // Hardware figures and Engram hot-row counts stay in the test's data dir.
        QProcessEnvironment env = env_;
        for (const QString& kv : extra_env) env.insert(kv.section('=', 0, 0), kv.section('=', 1));
        env.insert(QStringLiteral("XDG_CACHE_HOME"), data_dir + QStringLiteral("/cache"));
        app_.setProcessEnvironment(env);
        app_.setProcessChannelMode(QProcess::MergedChannels);
        app_.setStandardOutputFile(artifacts_ + QLatin1Char('/') + log);
        app_.start(QStringLiteral(EG_DESKTOP_PATH), QStringList{QStringLiteral("--data-dir"), data_dir} + args);
        QVERIFY2(app_.waitForStarted(10000), "engram-desktop did not start");
        window_id_.clear();
        QElapsedTimer t;
        t.start();
        while (window_id_.isEmpty() && t.elapsed() < 60000) {
            QVERIFY2(app_.state() == QProcess::Running,
                     qPrintable("engram-desktop exited before showing its window; see " + log));
            window_id_ = xdotool({QStringLiteral("search"), QStringLiteral("--onlyvisible"), QStringLiteral("--name"),
                                  QStringLiteral("Engram Desktop")})
                             .section('\n', 0, 0);
            if (window_id_.isEmpty()) pause_ms(250);
        }
        QVERIFY2(!window_id_.isEmpty(), "no visible 'Engram Desktop' window within 60 s");
        pause_ms(1000);  // first frame
    }

    void stop_app() {
        if (app_.state() == QProcess::NotRunning) return;
        app_.terminate();
        if (!app_.waitForFinished(10000)) app_.kill();
        app_.waitForFinished(2000);
    }

    // Types `text` into the composer (XTEST input, as a person) and presses
    // Enter until the message reaches the store; the text waits in the field
    // while the model loads. Returns false when it never arrives.
    bool send_message(const QString& text) {
        // No window manager: give the window the keyboard focus directly; the
        // composer has the initial focus inside it.
        xdotool({QStringLiteral("windowfocus"), window_id_});
        pause_ms(300);
        // No --window: Qt ignores synthetic XSendEvent keys.
        xdotool({QStringLiteral("type"), QStringLiteral("--delay"), QStringLiteral("15"), text});
        const QString start = text.left(12);
        auto has_user_message = [&] {
            for (const auto& [role, content, finished] : stored_messages())
                if (role == QLatin1String("user") && content.startsWith(start)) return true;
            return false;
        };
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 120000) {
            if (app_.state() != QProcess::Running) return false;
            xdotool({QStringLiteral("windowfocus"), window_id_});
            xdotool({QStringLiteral("key"), QStringLiteral("Return")});
            for (int i = 0; i < 10; ++i) {
                pause_ms(300);
                if (has_user_message()) return true;
            }
        }
        return false;
    }

private slots:
    void initTestCase() {
        for (const char* tool : {"Xvfb", "xdotool", "import", "convert", "identify"})
            if (QStandardPaths::findExecutable(QString::fromLatin1(tool)).isEmpty())
                QFAIL(qPrintable(QStringLiteral("%1 is missing: apt-get install xvfb xdotool imagemagick")
                                     .arg(QString::fromLatin1(tool))));
        const QString model = QString::fromStdString(eg_test::default_model_path());
        if (!QFile::exists(model))
            QFAIL(qPrintable(QStringLiteral("default model missing at %1: run scripts/fetch-model.sh").arg(model)));
        QVERIFY2(QFileInfo(QStringLiteral(EG_DESKTOP_PATH)).isExecutable(),
                 "EG_DESKTOP_PATH does not name the built engram-desktop (see tests/CMakeLists.txt)");
        QVERIFY(data_dir_.isValid());

        artifacts_ = qEnvironmentVariable("EG_TEST_ARTIFACTS_DIR", QStringLiteral(EG_ARTIFACTS_DIR));
        QVERIFY(QDir().mkpath(artifacts_));

        // A private X server; -displayfd writes the display number it picked to our stdout.
        xvfb_.start(QStringLiteral("Xvfb"),
                    {QStringLiteral("-displayfd"), QStringLiteral("1"), QStringLiteral("-screen"), QStringLiteral("0"),
                     QStringLiteral("%1x%2x24").arg(kScreenWidth).arg(kScreenHeight), QStringLiteral("-nolisten"),
                     QStringLiteral("tcp")});
        QVERIFY2(xvfb_.waitForStarted(5000), "Xvfb did not start");
        QString display;
        QElapsedTimer t;
        t.start();
        while (display.isEmpty() && t.elapsed() < 15000) {
            xvfb_.waitForReadyRead(500);
            display = QString::fromLatin1(xvfb_.readAllStandardOutput()).trimmed();
        }
        QVERIFY2(!display.isEmpty(), qPrintable("Xvfb named no display: " + xvfb_.readAllStandardError()));

        env_ = QProcessEnvironment::systemEnvironment();
        env_.insert(QStringLiteral("DISPLAY"), QStringLiteral(":") + display);
        env_.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("xcb"));
        env_.insert(QStringLiteral("XDG_RUNTIME_DIR"), data_dir_.path());
        env_.remove(QStringLiteral("WAYLAND_DISPLAY"));
        // The same palette and look on every machine: no desktop theme under Xvfb.
        env_.remove(QStringLiteral("QT_QPA_PLATFORMTHEME"));
        env_.remove(QStringLiteral("QT_QUICK_CONTROLS_STYLE"));
    }

    void cleanupTestCase() {
        if (app_.state() != QProcess::NotRunning) {
            app_.terminate();
            if (!app_.waitForFinished(5000)) app_.kill();
            app_.waitForFinished(2000);
        }
        if (xvfb_.state() != QProcess::NotRunning) {
            xvfb_.terminate();
            if (!xvfb_.waitForFinished(3000)) xvfb_.kill();
            xvfb_.waitForFinished(2000);
        }
    }

    // A person types a message, presses Enter and sees the reply in the window.
    void typedMessageGetsAReplyInTheWindow() {
        const QString model = QString::fromStdString(eg_test::default_model_path());
        start_app(data_dir_.path(), {QStringLiteral("--model"), model}, QStringLiteral("e2e-app.log"));
        if (QTest::currentTestFailed()) return;
        if (!send_message(kPrompt)) {
            screenshot(artifacts_ + QStringLiteral("/e2e-chat.png"));
            QFAIL("the typed message never reached the store (did Enter send it?); see e2e-chat.png");
        }
        QElapsedTimer t;

        // The reply streams in and is finished.
        QString reply;
        bool finished = false;
        t.restart();
        while (!finished && t.elapsed() < 180000) {
            QVERIFY2(app_.state() == QProcess::Running, "engram-desktop exited while replying; see e2e-app.log");
            for (const auto& [role, content, done] : stored_messages())
                if (role == QLatin1String("assistant")) {
                    reply = content;
                    finished = done;
                }
            if (!finished) pause_ms(300);
        }
        // The pointer off the window, so no hover shows extra message actions.
        xdotool({QStringLiteral("mousemove"), QString::number(kScreenWidth - 1), QString::number(kScreenHeight - 1)});
        pause_ms(1000);  // the last pieces and the stats line reach the view

        const QString shot = artifacts_ + QStringLiteral("/e2e-chat.png");
        QVERIFY2(screenshot(shot), "ImageMagick import could not capture the screen");
        qInfo("screenshot: %s", qPrintable(QFileInfo(shot).absoluteFilePath()));
        qInfo("reply: %s", qPrintable(reply.left(200)));

        QVERIFY2(finished, "the reply did not finish within 180 s");
        QVERIFY2(!reply.trimmed().isEmpty(), "the stored reply is empty");

        // The screenshot shows a rendered window, not a blank screen.
        const int colours = distinct_colours(shot);
        QVERIFY2(colours > 16, qPrintable(QStringLiteral("screenshot nearly blank: %1 colours").arg(colours)));

        // The reply is drawn: the message area (right of the sidebar, between the
        // header and the composer) holds "You", the message, "Assistant", at least
        // one line of reply and its stats/actions line. Without reply text (an
        // empty or unrendered reply) there are at most four.
        const Geometry w = window_geometry();
        QVERIFY2(w.width > 0 && w.height > 0, "no window geometry");
        Geometry area;
        // The sidebar takes the left ~21 % of the window (15 of its 72 line heights).
        area.x = w.x + w.width * 24 / 100;
        area.width = std::min(w.x + w.width, kScreenWidth) - area.x - 24;      // not the scroll bar
        area.y = w.y + 32;                                                     // below the header
        area.height = std::min(w.y + w.height, kScreenHeight) - area.y - 90;  // above the composer
        int first_row = -1;
        const int bands = text_bands(shot, area, &first_row);
        qInfo("text lines in the message area: %d, the first at %d px", bands, first_row);
        // Messages start at the top; the empty-chat greeting sits in the middle.
        QVERIFY2(first_row >= 0 && first_row < area.height / 4,
                 qPrintable(QStringLiteral("no message at the top of the message area; see %1").arg(shot)));
        QVERIFY2(bands >= 5,
                 qPrintable(QStringLiteral("the reply area looks empty: %1 text lines in the message area; see %2")
                                .arg(bands)
                                .arg(shot)));
    }

    // Closing the app (as a logout does: SIGTERM) and starting it again
    // brings back the window's size, the memory panel and the conversation.
    void restartRestoresTheSession() {
        stop_app();
        QTemporaryDir data;
        QVERIFY(data.isValid());
        const QString model = QString::fromStdString(eg_test::default_model_path());
        start_app(data.path(), {QStringLiteral("--model"), model}, QStringLiteral("e2e-restart-1.log"));
        if (QTest::currentTestFailed()) return;
        QVERIFY2(send_message(QStringLiteral("Name one colour.")), "the message never reached the store");
        xdotool({QStringLiteral("windowsize"), window_id_, QStringLiteral("1180"), QStringLiteral("790")});
        xdotool({QStringLiteral("windowfocus"), window_id_});
        pause_ms(300);
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+m")});
        pause_ms(1000);  // past the saving delay
        QCOMPARE(window_geometry().width, 1180);
        stop_app();
        QCOMPARE(app_.exitStatus(), QProcess::NormalExit);  // SIGTERM closed it cleanly
        QCOMPARE(app_.exitCode(), 0);

        start_app(data.path(), {}, QStringLiteral("e2e-restart-2.log"));
        if (QTest::currentTestFailed()) return;
        const Geometry g = window_geometry();
        QCOMPARE(g.width, 1180);
        QCOMPARE(g.height, 790);
        pause_ms(1500);
        const QString shot = artifacts_ + QStringLiteral("/e2e-restart.png");
        QVERIFY2(screenshot(shot), "ImageMagick import could not capture the screen");
        QFile log(artifacts_ + QStringLiteral("/e2e-restart-2.log"));
        QVERIFY(log.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(log.readAll());
        QVERIFY2(text.contains(QStringLiteral("reopened conversation 1 ")), qPrintable(text));
        // The memory panel is open again: its text fills the right third.
        Geometry panel;
        panel.x = g.x + g.width * 68 / 100;
        panel.y = g.y;
        panel.width = g.x + g.width - panel.x;
        panel.height = g.height;
        int first_row = -1;
        const int lines = text_bands(shot, panel, &first_row);
        QVERIFY2(lines >= 15, qPrintable(QStringLiteral("no memory panel after the restart (%1 lines); see %2").arg(lines).arg(shot)));
        stop_app();
    }

    // A small window (700 x 500): the memory panel opens over the chat
    // instead of squeezing it, Esc closes it, and the message box still sends.
    void smallWindowKeepsTheChatUsable() {
        stop_app();
        QTemporaryDir data;
        QVERIFY(data.isValid());
        const QString model = QString::fromStdString(eg_test::default_model_path());
        start_app(data.path(), {QStringLiteral("--model"), model}, QStringLiteral("e2e-small.log"));
        if (QTest::currentTestFailed()) return;
        xdotool({QStringLiteral("windowsize"), window_id_, QStringLiteral("700"), QStringLiteral("500")});
        QVERIFY2(send_message(QStringLiteral("Name a fruit.")), "the message never reached the store");  // the model is in
        xdotool({QStringLiteral("windowfocus"), window_id_});
        pause_ms(500);
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+m")});
        pause_ms(1200);
        const QString shot = artifacts_ + QStringLiteral("/e2e-small-window-memory.png");
        QVERIFY2(screenshot(shot), "ImageMagick import could not capture the screen");
        const Geometry g = window_geometry();
        QCOMPARE(g.width, 700);
        // The panel covers most of the window: text down its whole height.
        Geometry panel;
        panel.x = g.x + g.width / 4;
        panel.y = g.y;
        panel.width = g.width * 3 / 4;
        panel.height = g.height;
        int first_row = -1;
        const int lines = text_bands(shot, panel, &first_row);
        QVERIFY2(lines >= 12, qPrintable(QStringLiteral("no memory panel over the chat (%1 lines); see %2").arg(lines).arg(shot)));
        xdotool({QStringLiteral("key"), QStringLiteral("Escape")});
        pause_ms(600);
        pause_ms(3000);  // the first reply ends (Send waits for it)
        QVERIFY2(send_message(QStringLiteral("Say hello.")), "the message box did not send after the panel closed");
        screenshot(artifacts_ + QStringLiteral("/e2e-small-window-chat.png"));
        stop_app();
    }

    // The memory panel during generation, as a person opens it (Ctrl+M):
    // with an Engram model at a 5% DRAM budget, with the plain model on this
    // machine without a GPU, with a mixture-of-experts model at a 25%
    // expert DRAM budget, and with the plain model split between the CPU and
    // the test plugin's fake GPU (loaded by the app as it loads
    // libengram-cuda.so). The screenshots stay in test-artifacts/.
    void memoryPanelDuringGeneration_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("shot");
        QTest::newRow("engram-5pct") << QStringLiteral("engram") << QStringLiteral("e2e-memory-engram-5pct.png");
        QTest::newRow("no-gpu") << QStringLiteral("plain") << QStringLiteral("e2e-memory-no-gpu.png");
        QTest::newRow("moe-25pct") << QStringLiteral("moe") << QStringLiteral("e2e-memory-moe.png");
        QTest::newRow("fake-gpu") << QStringLiteral("gpu") << QStringLiteral("e2e-memory-fake-gpu.png");
    }
    void memoryPanelDuringGeneration() {
        QFETCH(QString, kind);
        QFETCH(QString, shot);
        const bool engram = kind == QLatin1String("engram");
        stop_app();
        QTemporaryDir data;
        QVERIFY(data.isValid());
        const QString base = QString::fromStdString(eg_test::default_model_path());
        QString model = base;
        QStringList args;
        if (engram) {
            // SmolLM2 with Engram modules at blocks 1 and 15 (about 330 MB of tables).
            eg::engram::ForgeOptions fo;
            fo.base_path = base.toStdString();
            fo.out_path = data.filePath(QStringLiteral("smol-engram.gguf")).toStdString();
            fo.layers = {1, 15};
            fo.rows_per_head = 80000;
            auto forged = eg::engram::forge(fo);
            QVERIFY2(forged.ok(), forged.ok() ? "" : forged.message().c_str());
            model = QString::fromStdString(fo.out_path);
            args << QStringLiteral("--engram-dram-budget") << QStringLiteral("5%");
        }
        if (kind == QLatin1String("moe")) {
            // A random-weight qwen3moe, 8 blocks of 32 experts (4 per token) of
            // 1.6 MiB each, about 430 MB of experts: with a quarter of them in
            // DRAM, every token reads a few tens of MB from the file, so the
            // reply streams for a while. A large vocabulary keeps the end token rare.
            eg::SyntheticOptions so;
            so.arch = "qwen3moe";
            so.n_layer = 8;
            so.n_embd = 1024;
            so.n_head = 8;
            so.n_expert = 32;
            so.n_expert_used = 4;
            so.n_ff_exp = 512;
            so.n_vocab = 8192;
            so.type = eg::GgmlType::Q8_0;
            so.seed = 5;
            so.out_path = data.filePath(QStringLiteral("moe-synthetic.gguf")).toStdString();
            const eg::Status st = eg::write_synthetic_model(so);
            QVERIFY2(st.ok(), st.ok() ? "" : st.message().c_str());
            model = QString::fromStdString(so.out_path);
            args << QStringLiteral("--expert-dram-budget") << QStringLiteral("25%");
        }
        QStringList env;
        if (kind == QLatin1String("gpu")) {
            // 1 GiB of fake VRAM, 200 MiB of it allowed: beside the head and
            // scratch, about half of the blocks with their KV.
            env << QStringLiteral("ENGRAM_GPU_PLUGIN=" EG_FAKE_GPU_PLUGIN) << QStringLiteral("ENGRAM_FAKE_GPU_VRAM=1G");
            args << QStringLiteral("--vram-budget") << QStringLiteral("200M");
        }
        args << QStringLiteral("--model") << model;
        start_app(data.path(), args, QString(shot).replace(QStringLiteral(".png"), QStringLiteral(".log")), env);
        if (QTest::currentTestFailed()) return;
        xdotool({QStringLiteral("windowsize"), window_id_, QString::number(kScreenWidth), QString::number(kScreenHeight)});
        xdotool({QStringLiteral("windowfocus"), window_id_});
        pause_ms(300);
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+m")});
        pause_ms(500);
        QVERIFY2(send_message(QStringLiteral("Write a long story about a dragon who guards a library.")),
                 "the message never reached the store");
        xdotool({QStringLiteral("mousemove"), QString::number(kScreenWidth / 3), QString::number(kScreenHeight - 1)});

        // Shot while the reply streams: some text is there, the reply is not finished.
        QElapsedTimer t;
        t.start();
        bool streaming = false;
        while (!streaming && t.elapsed() < 180000) {
            QVERIFY2(app_.state() == QProcess::Running, "engram-desktop exited while replying");
            for (const auto& [role, content, done] : stored_messages())
                if (role == QLatin1String("assistant")) streaming = !done && content.size() > 150;
            if (!streaming) pause_ms(100);
        }
        QVERIFY2(streaming, "no reply streamed within 180 s");
        pause_ms(1200);  // a few samples of the panel (4 Hz) after the reply started
        const QString path = artifacts_ + QLatin1Char('/') + shot;
        QVERIFY2(screenshot(path), "ImageMagick import could not capture the screen");
        bool finished_before_shot = true;
        for (const auto& [role, content, done] : stored_messages())
            if (role == QLatin1String("assistant")) finished_before_shot = done;
        qInfo("screenshot: %s (reply still streaming: %s)", qPrintable(QFileInfo(path).absoluteFilePath()),
              finished_before_shot ? "no" : "yes");

        // The panel is drawn on the right: many text lines and the colours of
        // its bars (and for Engram, the heat strip).
        const Geometry w = window_geometry();
        Geometry panel;
        panel.x = w.x + w.width * 68 / 100;
        panel.y = w.y;
        panel.width = std::min(w.x + w.width, kScreenWidth) - panel.x;
        panel.height = std::min(w.y + w.height, kScreenHeight) - panel.y;
        int first_row = -1;
        const int lines = text_bands(path, panel, &first_row);
        qInfo("text lines in the memory panel: %d", lines);
        QVERIFY2(lines >= 15, qPrintable(QStringLiteral("the memory panel looks empty (%1 lines); see %2").arg(lines).arg(path)));
        const QString crop = artifacts_ + QStringLiteral("/panel-crop.png");
        run_tool(QStringLiteral("convert"),
                 {path, QStringLiteral("-crop"),
                  QStringLiteral("%1x%2+%3+%4").arg(panel.width).arg(panel.height).arg(panel.x).arg(panel.y),
                  QStringLiteral("+repage"), crop},
                 env_);
        const int colours = distinct_colours(crop);
        QFile::remove(crop);
        QVERIFY2(colours > 40, qPrintable(QStringLiteral("the memory panel has %1 colours; see %2").arg(colours).arg(path)));
        if (kind == QLatin1String("gpu")) {
            // The app's log: the session runs blocks on the device, as planned.
            QFile log(artifacts_ + QLatin1Char('/') + QString(shot).replace(QStringLiteral(".png"), QStringLiteral(".log")));
            QVERIFY(log.open(QIODevice::ReadOnly));
            const QString text = QString::fromUtf8(log.readAll());
            QVERIFY2(text.contains(QStringLiteral(", cuda:0 [")) && text.contains(QStringLiteral("plan vs measured on cuda:0")),
                     qPrintable(text));
        }
        stop_app();
    }

    qint64 shown_leaf() {
        qint64 leaf = -1;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("e2e-leaf"));
            db.setDatabaseName(db_path());
            db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=2000"));
            if (db.open()) {
                QSqlQuery q(db);
                if (q.exec(QStringLiteral("SELECT leaf_id FROM conversations ORDER BY id LIMIT 1")) && q.next())
                    leaf = q.value(0).toLongLong();
                db.close();
            }
        }
        QSqlDatabase::removeDatabase(QStringLiteral("e2e-leaf"));
        return leaf;
    }
    qint64 message_id(const QString& role, const QString& content_start) {
        qint64 id = -1;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("e2e-id"));
            db.setDatabaseName(db_path());
            db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=2000"));
            if (db.open()) {
                QSqlQuery q(db);
                q.prepare(QStringLiteral("SELECT id, content FROM messages WHERE role = ? ORDER BY id"));
                q.addBindValue(role);
                if (q.exec())
                    while (q.next())
                        if (q.value(1).toString().startsWith(content_start)) id = q.value(0).toLongLong();
                db.close();
            }
        }
        QSqlDatabase::removeDatabase(QStringLiteral("e2e-id"));
        return id;
    }
    // Waits until `n` replies are stored and finished.
    bool wait_replies(int n) {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 180000) {
            int done = 0;
            for (const auto& [role, content, finished] : stored_messages())
                if (role == QLatin1String("assistant") && finished) ++done;
            if (done >= n) return true;
            if (app_.state() != QProcess::Running) return false;
            pause_ms(300);
        }
        return false;
    }
    void keys(const QString& key, int times = 1) {
        for (int i = 0; i < times; ++i) {
            xdotool({QStringLiteral("key"), key});
            pause_ms(120);
        }
    }

    // The issue's keyboard-only flow, no pointer at all: a new chat, two
    // messages sent, the first one edited (Shift+Tab to its Edit, Enter,
    // the new text, Enter), back to its first version (Shift+Tab to ‹,
    // Enter), a second chat, a search that finds the first (Ctrl+F, words,
    // Down, Enter), and the export of what is on screen (Ctrl+Shift+S,
    // Enter). Each step is checked in the store or on disk; screenshots in
    // test-artifacts/e2e-keyboard-*.png.
    void keyboardOnlyFlow() {
        stop_app();
        QTemporaryDir data;
        QVERIFY(data.isValid());
        const QString home = data.filePath(QStringLiteral("home"));
        QVERIFY(QDir().mkpath(home));
        const QString model = QString::fromStdString(eg_test::default_model_path());
        start_app(data.path(), {QStringLiteral("--model"), model}, QStringLiteral("e2e-keyboard.log"),
                  {QStringLiteral("HOME=") + home});
        if (QTest::currentTestFailed()) return;
        xdotool({QStringLiteral("windowsize"), window_id_, QString::number(kScreenWidth), QString::number(kScreenHeight)});
        xdotool({QStringLiteral("mousemove"), QString::number(kScreenWidth - 1), QString::number(kScreenHeight - 1)});
        xdotool({QStringLiteral("windowfocus"), window_id_});
        keys(QStringLiteral("ctrl+n"));
        QVERIFY2(send_message(QStringLiteral("Name a big cat.")), "the first message never reached the store");
        QVERIFY2(wait_replies(1), "no first reply");
        QVERIFY2(send_message(QStringLiteral("Name a small dog.")), "the second message never reached the store");
        QVERIFY2(wait_replies(2), "no second reply");
        const qint64 first_branch_leaf = shown_leaf();
        pause_ms(500);

        // Back from the message box: the last reply's Regenerate and Copy, the
        // second message's Edit and Copy, the first reply's Copy, the first
        // message's Edit.
        keys(QStringLiteral("shift+Tab"), 6);
        keys(QStringLiteral("Return"));
        pause_ms(300);
        keys(QStringLiteral("ctrl+a"));
        xdotool({QStringLiteral("type"), QStringLiteral("--delay"), QStringLiteral("15"), QStringLiteral("Name a big bird.")});
        keys(QStringLiteral("Return"));
        QElapsedTimer t;
        t.start();
        while (message_id(QStringLiteral("user"), QStringLiteral("Name a big bird.")) < 0 && t.elapsed() < 10000) pause_ms(200);
        screenshot(artifacts_ + QStringLiteral("/e2e-keyboard-edit.png"));
        QVERIFY2(message_id(QStringLiteral("user"), QStringLiteral("Name a big bird.")) > 0,
                 "the edit never reached the store; see e2e-keyboard-edit.png");
        QVERIFY2(wait_replies(3), "no reply to the edited message");
        pause_ms(500);
        QVERIFY(shown_leaf() != first_branch_leaf);  // the new branch is on screen
        screenshot(artifacts_ + QStringLiteral("/e2e-keyboard-version-2.png"));

        // Back: the new reply's Regenerate and Copy, the edited message's Edit
        // and Copy, then its "‹" (its "›" is disabled at 2/2, so skipped).
        keys(QStringLiteral("shift+Tab"), 5);
        keys(QStringLiteral("Return"));
        t.restart();
        while (shown_leaf() != first_branch_leaf && t.elapsed() < 10000) pause_ms(200);
        screenshot(artifacts_ + QStringLiteral("/e2e-keyboard-version-1.png"));
        QVERIFY2(shown_leaf() == first_branch_leaf, "‹ did not bring back the first version; see e2e-keyboard-version-1.png");

        // A second chat, then a search that finds the first.
        keys(QStringLiteral("ctrl+n"));
        QVERIFY2(send_message(QStringLiteral("Tell me about volcanoes.")), "the third chat's message never reached the store");
        QVERIFY2(wait_replies(4), "no reply in the second chat");
        keys(QStringLiteral("ctrl+f"));
        xdotool({QStringLiteral("type"), QStringLiteral("--delay"), QStringLiteral("15"), QStringLiteral("small dog")});
        pause_ms(800);  // the search runs after a pause in typing
        keys(QStringLiteral("Down"));
        keys(QStringLiteral("Return"));
        pause_ms(800);
        screenshot(artifacts_ + QStringLiteral("/e2e-keyboard-search.png"));

        // Export what is on screen: the first chat, its first version.
        keys(QStringLiteral("ctrl+shift+s"));
        pause_ms(1500);
        screenshot(artifacts_ + QStringLiteral("/e2e-keyboard-export-dialog.png"));
        keys(QStringLiteral("Return"));
        QString exported;
        t.restart();
        while (exported.isEmpty() && t.elapsed() < 10000) {
            for (const QFileInfo& f : QDir(home).entryInfoList({QStringLiteral("*.md")}, QDir::Files))
                exported = f.absoluteFilePath();
            for (const QFileInfo& f : QDir(home + QStringLiteral("/Documents")).entryInfoList({QStringLiteral("*.md")}, QDir::Files))
                exported = f.absoluteFilePath();
            if (exported.isEmpty()) pause_ms(200);
        }
        screenshot(artifacts_ + QStringLiteral("/e2e-keyboard-exported.png"));
        QVERIFY2(!exported.isEmpty(), "no Markdown file was written; see e2e-keyboard-export-dialog.png");
        QFile f(exported);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString md = QString::fromUtf8(f.readAll());
        qInfo("exported %s", qPrintable(exported));
        // The messages of the branch on screen (the title took the edit's words).
        QVERIFY2(md.contains(QStringLiteral("### You\n\nName a big cat.")) &&
                     md.contains(QStringLiteral("### You\n\nName a small dog.")) &&
                     !md.contains(QStringLiteral("### You\n\nName a big bird.")) && !md.contains(QStringLiteral("volcanoes")),
                 qPrintable(md.left(600)));
        stop_app();
    }

    // Mean brightness (0 black .. 1 white) of a region of an image.
    double brightness(const QString& image, const Geometry& r) {
        return run_tool(QStringLiteral("convert"),
                        {image, QStringLiteral("-crop"),
                         QStringLiteral("%1x%2+%3+%4").arg(r.width).arg(r.height).arg(r.x).arg(r.y),
                         QStringLiteral("+repage"), QStringLiteral("-colorspace"), QStringLiteral("Gray"),
                         QStringLiteral("-format"), QStringLiteral("%[fx:mean]"), QStringLiteral("info:")},
                        env_)
            .toDouble();
    }

    // The look a person chooses (Settings → Appearance, kept in the
    // settings file): the chat, the memory panel and the library in light
    // and in dark, each shot (test-artifacts/e2e-theme-*.png) and each
    // drawn in its theme's brightness, text still readable on it.
    void lightAndDarkThemes_data() {
        QTest::addColumn<QString>("theme");
        QTest::newRow("light") << QStringLiteral("light");
        QTest::newRow("dark") << QStringLiteral("dark");
    }
    void lightAndDarkThemes() {
        QFETCH(QString, theme);
        stop_app();
        QTemporaryDir data;
        QVERIFY(data.isValid());
        {
            QFile settings(data.filePath(QStringLiteral("settings.ini")));
            QVERIFY(settings.open(QIODevice::WriteOnly));
            settings.write(QStringLiteral("[appearance]\ntheme=%1\n").arg(theme).toUtf8());
        }
        const QString model = QString::fromStdString(eg_test::default_model_path());
        start_app(data.path(), {QStringLiteral("--model"), model}, QStringLiteral("e2e-theme-%1.log").arg(theme));
        if (QTest::currentTestFailed()) return;
        xdotool({QStringLiteral("windowsize"), window_id_, QString::number(kScreenWidth), QString::number(kScreenHeight)});
        QVERIFY2(send_message(QStringLiteral("Write a haiku about the sea.")), "the message never reached the store");
        QElapsedTimer t;
        t.start();
        bool finished = false;
        while (!finished && t.elapsed() < 180000) {
            for (const auto& [role, content, done] : stored_messages())
                if (role == QLatin1String("assistant")) finished = done;
            if (!finished) pause_ms(300);
        }
        QVERIFY2(finished, "the reply did not finish within 180 s");
        xdotool({QStringLiteral("mousemove"), QString::number(kScreenWidth - 1), QString::number(kScreenHeight - 1)});
        pause_ms(800);
        const Geometry w = window_geometry();
        const bool dark = theme == QLatin1String("dark");
        auto shoot = [&](const QString& what) {
            const QString path = artifacts_ + QStringLiteral("/e2e-theme-%1-%2.png").arg(theme, what);
            if (!screenshot(path)) return QString();
            qInfo("screenshot: %s", qPrintable(QFileInfo(path).absoluteFilePath()));
            return path;
        };
        auto check = [&](const QString& path, const QString& what) {
            QVERIFY2(!path.isEmpty(), "ImageMagick import could not capture the screen");
            const double b = brightness(path, w);
            qInfo("%s, %s: mean brightness %.2f", qPrintable(theme), qPrintable(what), b);
            QVERIFY2(dark ? b < 0.35 : b > 0.75,
                     qPrintable(QStringLiteral("the %1 in the %2 theme has a mean brightness of %3; see %4")
                                    .arg(what, theme).arg(b).arg(path)));
            // Text is drawn on it: many distinct colours, not a flat fill.
            QVERIFY2(distinct_colours(path) > 16, qPrintable(path));
        };
        check(shoot(QStringLiteral("chat")), QStringLiteral("chat"));
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+m")});
        pause_ms(1500);
        check(shoot(QStringLiteral("memory")), QStringLiteral("memory panel"));
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+m")});
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+l")});
        pause_ms(1500);
        check(shoot(QStringLiteral("library")), QStringLiteral("library"));
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+l")});
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+comma")});
        pause_ms(1200);
        check(shoot(QStringLiteral("settings")), QStringLiteral("settings drawer"));
        stop_app();

        // The first-start page: no model anywhere (the cache is the test's own).
        QTemporaryDir fresh;
        QVERIFY(fresh.isValid());
        QVERIFY(QFile::copy(data.filePath(QStringLiteral("settings.ini")), fresh.filePath(QStringLiteral("settings.ini"))));
        start_app(fresh.path(), {}, QStringLiteral("e2e-theme-%1-first-start.log").arg(theme));
        if (QTest::currentTestFailed()) return;
        xdotool({QStringLiteral("windowsize"), window_id_, QString::number(kScreenWidth), QString::number(kScreenHeight)});
        pause_ms(1500);
        check(shoot(QStringLiteral("first-start")), QStringLiteral("first-start page"));
        stop_app();
    }

    // A remote engine in the real window, added as a person does it:
    // Ctrl+Shift+R, the address (and for our server its API key) typed,
    // Enter to connect, Enter to add and use its model; then a message sent
    // and answered by that engine, and the memory panel showing the engine
    // instead of local tiers. Against our own `engram-desktop --serve` and
    // llama-cpp-python's server (test-artifacts/e2e-remote-*.png).
    void remoteEngineInTheWindow_data() {
        QTest::addColumn<QString>("engine");
        QTest::addColumn<QString>("shot");
        QTest::newRow("engram-server") << QStringLiteral("engram") << QStringLiteral("e2e-remote-engram-server.png");
        QTest::newRow("llama-cpp-python") << QStringLiteral("llama") << QStringLiteral("e2e-remote-llama-cpp-python.png");
    }
    void remoteEngineInTheWindow() {
        QFETCH(QString, engine);
        QFETCH(QString, shot);
        stop_app();
        QTemporaryDir data;
        QVERIFY(data.isValid());
        const QString model = QString::fromStdString(eg_test::default_model_path());
        QProcess server;
        QByteArray server_log;
        QUrl url;
        const QString key = QStringLiteral("sk-e2e-remote-5c1d");
        QString remote_model;
        if (engine == QLatin1String("engram")) {
            const QString key_file = data.filePath(QStringLiteral("server/key"));
            EG_VERIFY_OK(eg::library::save_api_key(key_file, key));
            url = eg_test::start_engram_server(server, QStringLiteral(EG_DESKTOP_PATH),
                                               {QStringLiteral("--api-key-file"), key_file, QStringLiteral("--data-dir"),
                                                data.filePath(QStringLiteral("server")), QStringLiteral("--model"), model},
                                               &server_log);
            remote_model = QStringLiteral("SmolLM2-135M-Instruct.Q4_1");
        } else {
            EG_NEED_LLAMA_SERVER();
            remote_model = QStringLiteral("smollm2-via-llama-cpp-python");
            url = eg_test::start_llama_server(server, remote_model, &server_log);
        }
        QVERIFY2(url.isValid(), server_log.right(2000).constData());

        const QString log_name = QString(shot).replace(QStringLiteral(".png"), QStringLiteral(".log"));
        start_app(data.filePath(QStringLiteral("app")), {QStringLiteral("--model"), model}, log_name);
        if (QTest::currentTestFailed()) return eg_test::stop_process(server);
        xdotool({QStringLiteral("windowsize"), window_id_, QString::number(kScreenWidth), QString::number(kScreenHeight)});
        xdotool({QStringLiteral("windowfocus"), window_id_});
        pause_ms(1500);  // the local model is in
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+shift+r")});
        pause_ms(800);
        xdotool({QStringLiteral("type"), QStringLiteral("--delay"), QStringLiteral("15"),
                 QStringLiteral("127.0.0.1:%1").arg(url.port())});
        if (engine == QLatin1String("engram")) {
            xdotool({QStringLiteral("key"), QStringLiteral("Tab")});
            xdotool({QStringLiteral("type"), QStringLiteral("--delay"), QStringLiteral("15"), key});
        }
        xdotool({QStringLiteral("key"), QStringLiteral("Return")});  // Connect: the models are listed
        pause_ms(2500);
        screenshot(artifacts_ + QStringLiteral("/") + QString(shot).replace(QStringLiteral(".png"), QStringLiteral("-dialog.png")));
        xdotool({QStringLiteral("key"), QStringLiteral("Return")});  // Add and use
        auto app_log = [&] {
            QFile f(artifacts_ + QLatin1Char('/') + log_name);
            return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
        };
        QElapsedTimer t;
        t.start();
        while (!app_log().contains(QStringLiteral("on the remote engine")) && t.elapsed() < 30000) pause_ms(250);
        QVERIFY2(app_log().contains(QStringLiteral("chatting with %1 on the remote engine http://127.0.0.1:%2/v1")
                                        .arg(remote_model)
                                        .arg(url.port())),
                 qPrintable(QStringLiteral("the remote model was not taken into use; see %1 and the -dialog.png").arg(log_name)));
        xdotool({QStringLiteral("key"), QStringLiteral("ctrl+m")});
        pause_ms(500);
        QVERIFY2(send_message(QStringLiteral("Name three rivers.")), "the message never reached the store");

        QString reply;
        bool finished = false;
        t.restart();
        while (!finished && t.elapsed() < 180000) {
            QVERIFY2(app_.state() == QProcess::Running, "engram-desktop exited while the remote engine replied");
            for (const auto& [role, content, done] : stored_messages())
                if (role == QLatin1String("assistant")) {
                    reply = content;
                    finished = done;
                }
            if (!finished) pause_ms(300);
        }
        QVERIFY2(finished && !reply.trimmed().isEmpty(), "no finished reply from the remote engine within 180 s");
        xdotool({QStringLiteral("mousemove"), QString::number(kScreenWidth / 3), QString::number(kScreenHeight - 1)});
        pause_ms(2500);  // the stats line, and a read of the engine's /metrics
        const QString path = artifacts_ + QLatin1Char('/') + shot;
        QVERIFY2(screenshot(path), "ImageMagick import could not capture the screen");
        qInfo("screenshot: %s; reply: %s", qPrintable(QFileInfo(path).absoluteFilePath()), qPrintable(reply.left(120)));

        // The reply and the remote panel are drawn.
        const Geometry w = window_geometry();
        Geometry area;
        area.x = w.x + w.width * 24 / 100;
        area.width = w.width * 40 / 100;
        area.y = w.y + 32;
        area.height = std::min(w.y + w.height, kScreenHeight) - area.y - 90;
        int first_row = -1;
        QVERIFY2(text_bands(path, area, &first_row) >= 5, qPrintable(QStringLiteral("no reply drawn; see %1").arg(path)));
        Geometry panel;
        panel.x = w.x + w.width * 68 / 100;
        panel.y = w.y;
        panel.width = std::min(w.x + w.width, kScreenWidth) - panel.x;
        panel.height = std::min(w.y + w.height, kScreenHeight) - panel.y;
        const int lines = text_bands(path, panel, &first_row);
        QVERIFY2(lines >= 8, qPrintable(QStringLiteral("no remote engine panel (%1 lines); see %2").arg(lines).arg(path)));
        // The key went to its owner-only file, never to the log or the settings.
        if (engine == QLatin1String("engram")) {
            QVERIFY(!app_log().contains(key));
            QFile settings(data.filePath(QStringLiteral("app/settings.ini")));
            QVERIFY(!settings.open(QIODevice::ReadOnly) || !settings.readAll().contains(key.toUtf8()));
            const QStringList keys = QDir(data.filePath(QStringLiteral("app/remote-keys"))).entryList(QDir::Files);
            QCOMPARE(keys.size(), 1);
        }
        stop_app();
        eg_test::stop_process(server);
    }
};

QTEST_GUILESS_MAIN(TestE2E)
#include "test_e2e.moc"
