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
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QGuiApplication>
#include <QSettings>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "application.h"
#include "chat_controller.h"
#include "engine_worker.h"
#include "message_list_model.h"
#include "store/chat_store.h"

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
    cli.add_option("-m,--model", model, "GGUF model")->required()->check(CLI::ExistingFile);
    cli.add_option("-n,--n-gen", n_gen, "tokens of each timed reply")->check(CLI::Range(1, 4096));
    cli.add_option("-r,--repetitions", reps, "replies and stops")->check(CLI::Range(1, 100));
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
            for (int r = 0; r < reps && rc == 0; ++r) {
                chat.newConversation();  // (a new conversation starts from the default settings)
                chat.setSettings({{"max_tokens", n_gen}, {"seed", 1234 + r}, {"temperature", 0.7}});
                since_tick.restart();
                recording = true;
                chat.send(QStringLiteral("Tell me three interesting facts about octopuses and why they matter."));
                run_until(&chat, &eg::ui::ChatController::busyChanged, idle, 600'000);
                recording = false;
                const auto rows = store.messages(chat.currentConversationId());
                if (!chat.lastError().isEmpty() || rows.size() != 2) {
                    rc = fail("the reply failed: " + chat.lastError().toStdString());
                    break;
                }
                tokens += rows.last().completion_tokens;
                tps.push_back(rows.last().tokens_per_s);

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
