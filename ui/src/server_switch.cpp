#include "server_switch.h"

#include <QSettings>

namespace eg::ui {

ServerSwitch::ServerSwitch(QSettings* prefs, QObject* parent) : QObject(parent), prefs_(prefs) {
    if (prefs_) {
        enabled_ = prefs_->value(QStringLiteral("server/enabled"), false).toBool();
        const int p = prefs_->value(QStringLiteral("server/port"), 8080).toInt();
        if (p >= 1 && p <= 65535) port_ = p;
    }
    status_ = tr("Off");
}

void ServerSwitch::setEnabled(bool on) {
    if (on == enabled_) return;
    enabled_ = on;
    if (prefs_) prefs_->setValue(QStringLiteral("server/enabled"), on);
    emit enabledChanged();
    if (on) {
        set_status(false, tr("Starting…"));
        emit startRequested(port_);
    } else {
        emit stopRequested();
    }
}

void ServerSwitch::setPort(int port) {
    if (port < 1 || port > 65535 || port == port_) return;
    port_ = port;
    if (prefs_) prefs_->setValue(QStringLiteral("server/port"), port);
    emit portChanged();
}

void ServerSwitch::restore() {
    if (enabled_) {
        set_status(false, tr("Starting…"));
        emit startRequested(port_);
    }
}

void ServerSwitch::onStarted(const QString& base_url) {
    set_status(true, tr("Serving the loaded model at %1 (this computer only)").arg(base_url));
}

void ServerSwitch::onFailed(const QString& why) {
    enabled_ = false;
    if (prefs_) prefs_->setValue(QStringLiteral("server/enabled"), false);
    emit enabledChanged();
    set_status(false, tr("Not serving: %1").arg(why));
}

void ServerSwitch::onStopped() { set_status(false, tr("Off")); }

void ServerSwitch::set_status(bool serving, const QString& status) {
    if (serving == serving_ && status == status_) return;
    serving_ = serving;
    status_ = status;
    emit statusChanged();
}

}  // namespace eg::ui
