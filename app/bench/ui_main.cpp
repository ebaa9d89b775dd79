// engram-bench-ui: how the window keeps up while the engine works, as JSON.
// The chat pane's real controller, the engine worker on its own thread (wired
// as in the app), a conversation store in a temporary folder, the model given:
//   - while a reply of n tokens streams, a 5 ms timer on the GUI thread
//     records the gaps between its ticks (one frame is 16.7 ms: a longer gap
//     is a stall a user can see);
//   - a long reply is stopped at its first piece, and the time until the
//     controller is idle again is recorded (what Stop feels like).
// Each is repeated r times. A figure, not a pass/fail: the tests check what
// the window does, this measures how smoothly.
//   engram-bench-ui -m MODEL [-n 64] [-r 3]
// With --on-screen each reply is followed by the same reply (same seed)
// streamed into the chat pane (ChatView.qml in a fresh window, as the app
// shows it): the on/off decode-rate ratio of each pair, their median, and the
// GUI thread's CPU time per reply on and off screen (the steadier figure on a
// shared machine) say what drawing a reply as it streams costs. Run it with
// QT_QUICK_BACKEND=software (under xvfb-run or offscreen) for the software
// renderer.
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QQuickWindow>
#include <QtQml/qqmlextensionplugin.h>
#include <QSettings>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <sys/resource.h>

#include <algorithm>
#include <memory>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "application.h"
#include "chat_controller.h"
#include "engine_worker.h"
#include "installed_models.h"
#include "library/model_registry.h"
#include "message_list_model.h"
#include "store/chat_store.h"

Q_IMPORT_QML_PLUGIN(EngramDesktopPlugin)

namespace {

// Runs the event loop until done() holds, checked whenever sender emits
// signal, or until timeout_ms; true when done() held.
template <class Sender, class Signal, class Done>
bool run_until(Sender* sender, Signal signal, Done done, int timeout_ms) {
    if (done()) return true;
    QEventLoop loop;
    QObject::connect(sender, signal, &loop, [&] {
        if (done()) loop.quit();
    });
    QTimer::singleShot(timeout_ms, &loop, &QEventLoop::quit);
    loop.exec();
    return done();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, (size_t)(p * (double)(v.size() - 1) + 0.5));
    return v[i];
}

// CPU time this thread has used (the GUI thread's: what showing a reply costs it).
double thread_cpu_ms() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

int fail(const std::string& why) {
    std::fprintf(stderr, "engram-bench-ui: %s\n", why.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);

    CLI::App cli{"engram-bench-ui: GUI-thread gaps while a reply streams, and how long Stop takes (JSON)"};
    std::string model;
    int n_gen = 64, reps = 3;
    bool on_screen = false;
    cli.add_option("-m,--model", model, "GGUF model")->required()->check(CLI::ExistingFile);
    cli.add_option("-n,--n-gen", n_gen, "tokens of each timed reply")->check(CLI::Range(1, 4096));
    cli.add_option("-r,--repetitions", reps, "replies and stops")->check(CLI::Range(1, 100));
    cli.add_flag("--on-screen", on_screen, "also stream the same replies into the chat pane in a window");
    CLI11_PARSE(cli, argc, argv);

    QTemporaryDir dir;
    if (!dir.isValid()) return fail("cannot make a temporary folder");
    eg::store::ChatStore store(QStringLiteral("engram-bench-ui"));
    if (const eg::Status opened = store.open(dir.filePath(QStringLiteral("bench.sqlite"))); !opened)
        return fail(opened.message());
    QSettings prefs(dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);

    QThread thread;
    auto* worker = new eg::app::EngineWorker;
    worker->moveToThread(&thread);
    thread.start();
    int rc = 0;
    {
        eg::ui::ChatController chat(store, &prefs);
        eg::app::connect_worker(chat, *worker);
        chat.loadModel(QString::fromStdString(model));
        run_until(&chat, &eg::ui::ChatController::loadingModelChanged, [&] { return !chat.loadingModel(); }, 600'000);
        if (!chat.modelLoaded()) {
            rc = fail("the model did not load: " + chat.lastError().toStdString());
        } else {
            // The GUI thread's clock: gaps between 5 ms ticks while recording.
            QTimer tick;
            tick.setInterval(5);
            tick.setTimerType(Qt::PreciseTimer);
            QElapsedTimer since_tick;
            bool recording = false;
            std::vector<double> gaps;
            QObject::connect(&tick, &QTimer::timeout, [&] {
                if (recording) gaps.push_back((double)since_tick.nsecsElapsed() / 1e6);
                since_tick.restart();
            });
            since_tick.start();
            tick.start();
            auto idle = [&] { return !chat.busy(); };

            std::vector<double> stop_ms, tps;
            int tokens = 0;
            // --on-screen: right after each reply off screen, the same reply
            // (same seed) in a fresh window's chat pane; paired, so that a
            // change of load on a shared machine hits both alike.
            std::vector<double> tps_on, ratio, gui_cpu_off, gui_cpu_on;
            long frames = 0;
            eg::library::ModelRegistry registry(QStringLiteral("engram-bench-ui-registry"));
            std::unique_ptr<eg::ui::InstalledModels> models;
            if (on_screen) {
                if (const eg::Status opened = registry.open(dir.filePath(QStringLiteral("models.sqlite3"))); !opened)
                    rc = fail(opened.message());
                else models = std::make_unique<eg::ui::InstalledModels>(registry, dir.filePath(QStringLiteral("models")),
                                                                         QList<eg::library::ScanPlace>{});
            }
            auto reply_on_screen = [&](int r) -> int {
                QQmlApplicationEngine engine;
                engine.addImportPath(QStringLiteral("qrc:/"));
                engine.rootContext()->setContextProperty(QStringLiteral("chat"), &chat);
                engine.rootContext()->setContextProperty(QStringLiteral("models"), models.get());
                engine.loadData(R"(import QtQuick
import EngramDesktop
Window {
    width: 960; height: 720; visible: true
    ChatView { anchors.fill: parent; controller: chat; modelList: models }
})",
                                QUrl(QStringLiteral("qrc:/bench/Window.qml")));
                auto* window = engine.rootObjects().isEmpty()
                                   ? nullptr
                                   : qobject_cast<QQuickWindow*>(engine.rootObjects().first());
                if (!window) return fail("the chat pane did not load");
                QObject::connect(window, &QQuickWindow::frameSwapped, [&] { ++frames; });
                chat.newConversation();
                chat.setSettings({{"max_tokens", n_gen}, {"seed", 1234 + r}, {"temperature", 0.7}});
                QCoreApplication::processEvents();  // the empty pane is drawn before the clock starts
                const double cpu0 = thread_cpu_ms();
                chat.send(QStringLiteral("Tell me three interesting facts about octopuses and why they matter."));
                run_until(&chat, &eg::ui::ChatController::busyChanged, idle, 600'000);
                gui_cpu_on.push_back(thread_cpu_ms() - cpu0);
                const auto rows = store.messages(chat.currentConversationId());
                if (!chat.lastError().isEmpty() || rows.size() != 2)
                    return fail("the reply on screen failed: " + chat.lastError().toStdString());
                tps_on.push_back(rows.last().tokens_per_s);
                ratio.push_back(tps.back() > 0 ? rows.last().tokens_per_s / tps.back() : 0.0);
                chat.newConversation();  // (the window goes before the conversation it shows)
                return 0;
            };
            for (int r = 0; r < reps && rc == 0; ++r) {
                chat.newConversation();  // (a new conversation starts from the default settings)
                chat.setSettings({{"max_tokens", n_gen}, {"seed", 1234 + r}, {"temperature", 0.7}});
                since_tick.restart();
                recording = true;
                const double cpu0 = thread_cpu_ms();
                chat.send(QStringLiteral("Tell me three interesting facts about octopuses and why they matter."));
                run_until(&chat, &eg::ui::ChatController::busyChanged, idle, 600'000);
                gui_cpu_off.push_back(thread_cpu_ms() - cpu0);
                recording = false;
                const auto rows = store.messages(chat.currentConversationId());
                if (!chat.lastError().isEmpty() || rows.size() != 2) {
                    rc = fail("the reply failed: " + chat.lastError().toStdString());
                    break;
                }
                tokens += rows.last().completion_tokens;
                tps.push_back(rows.last().tokens_per_s);
                if (on_screen && (rc = reply_on_screen(r)) != 0) break;

                // Stop at the first piece of a long greedy reply.
                chat.setSettings({{"max_tokens", 2000}, {"temperature", 0.0}});
                chat.send(QStringLiteral("Write a long, detailed essay about the history of the Roman Empire."));
                eg::ui::MessageListModel* msgs = chat.messages();
                auto first_piece = [&] {
                    return !chat.busy() || !msgs->get(msgs->count() - 1).value("content").toString().isEmpty();
                };
                run_until(msgs, &QAbstractItemModel::dataChanged, first_piece, 600'000);
                QElapsedTimer stop_clock;
                stop_clock.start();
                chat.stop();
                run_until(&chat, &eg::ui::ChatController::busyChanged, idle, 600'000);
                stop_ms.push_back((double)stop_clock.nsecsElapsed() / 1e6);
            }
            if (rc == 0) {
                const double max_gap = gaps.empty() ? 0 : *std::max_element(gaps.begin(), gaps.end());
                const long stalls = std::count_if(gaps.begin(), gaps.end(), [](double g) { return g > 1000.0 / 60; });
                nlohmann::json j = {
                    {"model", model},
                    {"n_gen", n_gen},
                    {"repetitions", reps},
                    {"gui_thread_gap_ms",
                     {{"median", percentile(gaps, 0.5)},
                      {"p99", percentile(gaps, 0.99)},
                      {"max", max_gap},
                      {"ticks", gaps.size()},
                      {"over_one_frame", stalls}}},
                    {"stop_ms", {{"median", percentile(stop_ms, 0.5)}, {"max", percentile(stop_ms, 1.0)}}},
                    {"reply_tokens", tokens},
                    {"reply_tokens_per_s_median", percentile(tps, 0.5)},
                };
                if (on_screen) {
                    j["on_screen"] = {{"qt_quick_backend", qEnvironmentVariable("QT_QUICK_BACKEND").toStdString()},
                                      {"qpa_platform", QGuiApplication::platformName().toStdString()},
                                      {"reply_tokens_per_s", tps_on},
                                      {"off_screen_reply_tokens_per_s", tps},
                                      {"on_over_off_per_reply", ratio},
                                      {"on_over_off_median", percentile(ratio, 0.5)},
                                      {"gui_thread_cpu_ms_off_median", percentile(gui_cpu_off, 0.5)},
                                      {"gui_thread_cpu_ms_on_median", percentile(gui_cpu_on, 0.5)},
                                      {"frames", frames}};
                }
                std::printf("%s\n", j.dump(1).c_str());
            }
        }
        worker->requestStop();
    }
    thread.quit();
    thread.wait();
    delete worker;
    return rc;
}
