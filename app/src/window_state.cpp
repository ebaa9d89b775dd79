#include "window_state.h"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <QCoreApplication>
#include <QGuiApplication>
#include <QQuickWindow>
#include <QRect>
#include <QScreen>
#include <QSocketNotifier>

#include "chat_controller.h"
#include "core/log.h"
#include "store/chat_store.h"

namespace eg::app {

namespace {
const QString kGeometry = QStringLiteral("window/geometry");
const QString kMaximized = QStringLiteral("window/maximized");
const QString kMemoryPanel = QStringLiteral("window/memory_panel");
const QString kConversation = QStringLiteral("window/conversation");

bool on_some_screen(const QRect& r) {
    for (const QScreen* s : QGuiApplication::screens())
        if (s->availableGeometry().intersects(r)) return true;
    return false;
}
}  // namespace

WindowState::WindowState(QSettings& prefs, const eg::store::ChatStore& store, eg::ui::ChatController& chat)
    : prefs_(prefs), store_(store), chat_(chat) {
    save_timer_.setSingleShot(true);
    save_timer_.setInterval(400);
    connect(&save_timer_, &QTimer::timeout, this, &WindowState::save);
}

void WindowState::restore_and_watch(QQuickWindow* window) {
    window_ = window;
    if (!window_) return;
    const QRect g = prefs_.value(kGeometry).toRect();
    if (g.isValid() && g.width() >= window_->minimumWidth() && g.height() >= window_->minimumHeight() &&
        on_some_screen(g))
        window_->setGeometry(g);
    if (prefs_.value(kMaximized, false).toBool()) window_->showMaximized();
    if (prefs_.value(kMemoryPanel, false).toBool()) window_->setProperty("showMemory", true);
    const qint64 conversation = prefs_.value(kConversation, 0).toLongLong();
    if (conversation > 0 && store_.conversation(conversation)) {
        chat_.selectConversation(conversation);
        EG_LOG_INFO("window: reopened conversation {} and the state of the last session", conversation);
    }

    for (auto sig : {&QWindow::xChanged, &QWindow::yChanged, &QWindow::widthChanged, &QWindow::heightChanged})
        connect(window_, sig, this, &WindowState::schedule_save);
    connect(window_, &QWindow::visibilityChanged, this, &WindowState::schedule_save);
    // Main.qml's own property (the panel beside the chat).
    connect(window_, SIGNAL(showMemoryChanged()), this, SLOT(schedule_save()));
    connect(&chat_, &eg::ui::ChatController::currentConversationIdChanged, this, &WindowState::schedule_save);
    connect(QCoreApplication::instance(), &QCoreApplication::aboutToQuit, this, &WindowState::save);
}

void WindowState::schedule_save() { save_timer_.start(); }

void WindowState::save() {
    if (!window_) return;
    const bool maximized = window_->visibility() == QWindow::Maximized || window_->visibility() == QWindow::FullScreen;
    prefs_.setValue(kMaximized, maximized);
    // A maximised window keeps the size it will get back when restored.
    if (!maximized && window_->visibility() != QWindow::Minimized) prefs_.setValue(kGeometry, window_->geometry());
    prefs_.setValue(kMemoryPanel, window_->property("showMemory").toBool());
    prefs_.setValue(kConversation, chat_.currentConversationId());
    prefs_.sync();
}

namespace {
int g_signal_fd[2] = {-1, -1};
void on_signal(int) {
    const char b = 1;
    [[maybe_unused]] const ssize_t n = ::write(g_signal_fd[1], &b, 1);
}
}  // namespace

void quit_on_termination_signals() {
    if (g_signal_fd[0] >= 0) return;
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_signal_fd) != 0) {
        EG_LOG_WARN("no clean exit on SIGTERM: socketpair failed");
        return;
    }
    auto* n = new QSocketNotifier(g_signal_fd[0], QSocketNotifier::Read, QCoreApplication::instance());
    QObject::connect(n, &QSocketNotifier::activated, QCoreApplication::instance(), [n] {
        n->setEnabled(false);
        char b = 0;
        [[maybe_unused]] const ssize_t r = ::read(g_signal_fd[0], &b, 1);
        EG_LOG_INFO("termination signal: closing cleanly");
        QCoreApplication::quit();
    });
    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int s : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(s, &sa, nullptr);
}

}  // namespace eg::app
