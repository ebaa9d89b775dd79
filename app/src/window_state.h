// What the window was like when the app last closed — its size and place
// (or maximised), the conversation on screen, whether the memory panel was
// open — saved as it changes (so a crash or a killed session loses at most
// half a second) and brought back at the next start. And a clean exit on
// SIGTERM/SIGINT/SIGHUP (a logout, `kill`), so that everything is saved.
#pragma once

#include <QObject>
#include <QSettings>
#include <QTimer>

class QQuickWindow;

namespace eg::store {
class ChatStore;
}
namespace eg::ui {
class ChatController;
}

namespace eg::app {

class WindowState : public QObject {
    Q_OBJECT
public:
    WindowState(QSettings& prefs, const eg::store::ChatStore& store, eg::ui::ChatController& chat);

    // Puts the window back as it was (a geometry off every screen is not
    // used), reopens the last conversation when it still exists, and from
    // now on saves each change.
    void restore_and_watch(QQuickWindow* window);

private slots:
    void schedule_save();  // a slot: Main.qml's showMemoryChanged is connected by name

private:
    void save();

    QSettings& prefs_;
    const eg::store::ChatStore& store_;
    eg::ui::ChatController& chat_;
    QQuickWindow* window_ = nullptr;
    QTimer save_timer_;
};

// SIGTERM, SIGINT and SIGHUP quit the event loop (through a self-pipe:
// nothing but a write() runs in the handler), so the app exits as if closed
// (the window) or stopped (--serve).
void quit_on_termination_signals();

}  // namespace eg::app
