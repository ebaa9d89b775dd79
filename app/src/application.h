// Engram Desktop's composition root: parses the command line, then builds the
// store, the engine worker thread, the view-models and the QML window, and
// passes each its collaborators. No singletons: everything lives here.
#pragma once

#include <QString>

#include <memory>

#include "plan/apply.h"

namespace eg::ui {
class ServerSwitch;
class ChatController;
class ConversationListModel;
class MemoryPanel;
class RemoteModels;
}  // namespace eg::ui

namespace eg::server {
class ApiServer;
}

namespace eg::app {

class EngineWorker;

// Connects a ChatController (and the memory panel, when given) to an
// EngineWorker living on another thread: requests go queued, results come
// back queued, Stop goes direct (atomic), and the panel reads the worker's
// live figures directly (thread-safe). Models load with the panel's
// remembered budgets. With `remote`, a remote engine's model (a
// "remote:…" reference) loads and answers there instead, through the same
// ChatController slots.
void connect_worker(eg::ui::ChatController& chat, EngineWorker& worker, eg::ui::MemoryPanel* memory = nullptr,
                    eg::ui::RemoteModels* remote = nullptr);
// The window's server switch: starts an ApiServer (held in `server`, on
// this thread) over the window's own worker, so its requests queue with the
// window's replies, and stops it; the switch hears how it went.
void connect_server_switch(eg::ui::ServerSwitch& sw, EngineWorker& worker,
                           std::unique_ptr<eg::server::ApiServer>& server);
// Keeps the sidebar and the chat pane in step.
void connect_sidebar(eg::ui::ChatController& chat, eg::ui::ConversationListModel& conversations);

struct CommandLine {
    QString data_dir;    // empty: QStandardPaths::AppDataLocation
    QString model_path;  // empty: the last used model, else the default one
    bool verbose = false;
    eg::PlacementRequest placement;  // memory panel overrides for this run, parsed from the flags
};

// --serve: the OpenAI-compatible server with no window.
struct ServeCommand {
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 8080;
    QString api_key_file;  // empty: no key (loopback only)
    int queue_limit = 16;
    qint64 max_tokens = 4096;
};

class Application {
public:
    Application(int& argc, char** argv);
    int run();

private:
    int run_gui(const CommandLine& cl);
    int run_serve(const CommandLine& cl, const ServeCommand& serve);

    int& argc_;
    char** argv_;
};

}  // namespace eg::app
